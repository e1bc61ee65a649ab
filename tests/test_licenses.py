"""Licences named by comparing texts with the SPDX texts, and by package metadata; a risk only when both are known."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from forkwise.index.licenses import UNKNOWN, from_metadata, identify
from forkwise.service.verdicts.report import build_report
from tests.conftest import AS_OF, analyse, build


def spdx_text(ident: str) -> str:
    return resources.files("spdx").joinpath(f"data/{ident}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("ident", ["GPL-2.0", "LGPL-2.1", "GPL-3.0", "MIT", "BSD-2-Clause", "BSD-3-Clause"])
def test_each_text_is_the_licence_it_is(ident: str) -> None:
    assert identify(f"Copyright (c) 2014 Someone\n\n{spdx_text(ident)}") == ident


def test_keywords_do_not_decide() -> None:
    gpl2 = spdx_text("GPL-2.0")
    assert "Lesser General Public License" in gpl2  # the trap a keyword rule fell into (it said LGPL-2.1)
    assert identify(gpl2) == "GPL-2.0"
    assert identify("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n") == UNKNOWN  # a header is no licence
    assert identify("All rights reserved. Do not copy.") == UNKNOWN
    assert identify("# SPDX-License-Identifier: MPL-2.0\n") == "MPL-2.0"
    assert identify(None) is None


def test_a_file_with_several_licences_names_them_all() -> None:
    """git-flow AVH's LICENSE holds its own BSD-2-Clause text, the original's, and the LGPL-2.1 of a bundled library:
    that is "BSD-2-Clause AND LGPL-2.1", never "LGPL-2.1" (the longest text) as if the project had been relicensed.
    One licence twice, or BSD-3 (which holds BSD-2's words), is one licence."""
    bsd2, lgpl = spdx_text("BSD-2-Clause"), spdx_text("LGPL-2.1")
    notice = "This software is forked of the original, see License #2.\nThe bundled shFlags is LGPL, see #3.\n"
    avh = f"{notice}\nLICENSE #1:\nCopyright (c) 2012 P\n{bsd2}\nLICENSE #2:\nCopyright 2010 V\n{bsd2}\n#3\n{lgpl}"
    assert identify(avh) == "BSD-2-Clause AND LGPL-2.1"
    assert identify(f"Copyright (c) 2012 P\n{bsd2}\n\nCopyright 2010 V\n{bsd2}") == "BSD-2-Clause"
    assert identify(spdx_text("BSD-3-Clause")) == "BSD-3-Clause"
    assert identify(spdx_text("MIT")) == "MIT"
    assert identify(f"{spdx_text('MIT')}\n\n{spdx_text('Apache-2.0')}") == "Apache-2.0 AND MIT"


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("Apache-2.0", "Apache-2.0"),
        ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
        ("GPL-2.0-or-later", "GPL-2.0"),
        ("License :: OSI Approved :: GNU General Public License v2 (GPLv2)", "GPL-2.0"),
        ("License :: OSI Approved :: MIT License", "MIT"),
        ("License :: OSI Approved :: BSD License", None),  # which BSD: not said
        ("GPL", None),  # which version: not said
        ("", None),
    ],
)
def test_metadata_names_a_licence_only_when_it_is_specific(value: str, want: str | None) -> None:
    assert from_metadata(value) == want


def test_a_risk_only_when_both_sides_are_known_and_differ(tmp_path: Path, settings) -> None:
    gpl2 = {"license": "GPL-2.0"}
    spec = {
        "name": "licences",
        "upstream": {
            "name": "farce/db1",
            "commits": [
                {"message": "init", "files": {"GPL-2.0": gpl2, "setup.py": "setup(name='db1', license='GPL')\n",
                                              "db1/core.py": {"lines": 40}}},
            ],
        },
        "forks": [
            {"name": "pymysql/client", "commits": [  # the practice network's pair: the same GPL v2 text as LICENSE
                {"message": "Rename the licence file", "delete": ["GPL-2.0"], "files": {"LICENSE": gpl2}},
                {"message": "Add a C extension", "files": {"db1/ext.py": {"lines": 60}}}]},
            {"name": "lesser/db1", "commits": [
                {"message": "Relicense under the LGPL", "delete": ["GPL-2.0"],
                 "files": {"COPYING": {"license": "LGPL-2.1"}}},
                {"message": "Add a pool", "files": {"db1/pool.py": {"lines": 50}}}]},
            {"name": "renamed/db1", "commits": [
                {"message": "Move the licence", "rename": {"GPL-2.0": "LICENSE.md"}},
                {"message": "Add retries", "files": {"db1/retry.py": {"lines": 30}}}]},
        ],
    }  # fmt: skip
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    report = build_report(analyse(net, settings))
    lic = {f.name: f.facts.license for f in report.forks if f.facts}
    assert (lic["pymysql/client"].before.spdx, lic["pymysql/client"].after.spdx) == ("GPL-2.0", "GPL-2.0")
    assert (lic["pymysql/client"].before.path, lic["pymysql/client"].after.path) == ("GPL-2.0", "LICENSE")
    assert not lic["pymysql/client"].changed and not lic["renamed/db1"].changed
    assert lic["lesser/db1"].changed and lic["lesser/db1"].after.spdx == "LGPL-2.1"
    notes = {f.name: f.verdict.classification.notes for f in report.forks if f.verdict}
    assert "license_changed" not in notes["pymysql/client"] and "license_changed" not in notes["renamed/db1"]
    lesser = report.fork("lesser/db1").verdict
    assert lesser and "The licence changed from GPL-2.0 to LGPL-2.1" in " ".join(r.text for r in lesser.risks)
    client = report.fork("pymysql/client").verdict
    assert client and not any("licence" in r.text.lower() for r in client.risks)


def test_a_licence_added_beside_upstreams_is_said_as_added_not_as_a_relicensing(tmp_path: Path, settings) -> None:
    """git-flow AVH's LICENSE keeps upstream's BSD-2-Clause and adds the LGPL-2.1 of a bundled library: the risk
    says what was added; it never says the licence changed to LGPL-2.1."""
    bsd2, lgpl = spdx_text("BSD-2-Clause"), spdx_text("LGPL-2.1")
    spec = {
        "name": "added-licence",
        "upstream": {"name": "nv/flow", "commits": [{"message": "init", "files": {
            "LICENSE": f"Copyright 2010 V\n{bsd2}", "src/flow.py": {"lines": 40}}}]},
        "forks": [{"name": "avh/flow", "commits": [
            {"message": "Bundle shFlags", "files": {"LICENSE": f"Copyright 2012 P\n{bsd2}\n\nshFlags:\n{lgpl}",
                                                   "src/shflags.py": {"lines": 60}}}]}],
    }  # fmt: skip
    report = build_report(analyse(build(spec, tmp_path / "net", as_of=AS_OF), settings))
    f = report.fork("avh/flow")
    assert f.facts is not None and f.verdict is not None
    assert (f.facts.license.before.spdx, f.facts.license.after.spdx) == ("BSD-2-Clause", "BSD-2-Clause AND LGPL-2.1")
    risks = " ".join(r.text for r in f.verdict.risks)
    assert "Its licence file adds LGPL-2.1 to BSD-2-Clause: check it before you adopt this fork." in risks
    assert "changed from" not in risks
    assert f.verdict.confidence_reason == "its licence file adds LGPL-2.1 to BSD-2-Clause"


def test_a_licence_only_in_package_json(tmp_path: Path, settings) -> None:
    pkg = '{{"name": "colors", "version": "1.0.0", "license": "{}"}}\n'
    spec = {
        "name": "pkg-licences",
        "upstream": {"name": "a/colors", "commits": [
            {"message": "init", "files": {"package.json": pkg.format("MIT"), "index.js": {"lines": 30}}}]},
        "forks": [
            {"name": "apache/colors", "commits": [
                {"message": "Relicense", "files": {"package.json": pkg.format("Apache-2.0")}},
                {"message": "Add HSV", "files": {"hsv.js": {"lines": 40}}}]},
            {"name": "vague/colors", "commits": [
                {"message": "Licence field", "files": {"package.json": pkg.format("GPL")}},
                {"message": "Add HSL", "files": {"hsl.js": {"lines": 40}}}]},
        ],
    }  # fmt: skip
    net = build(spec, tmp_path / "net", as_of=AS_OF)
    nf = analyse(net, settings)
    lic = {o.name: o.facts.license for o in nf.forks if o.facts}
    assert lic["apache/colors"].changed
    assert (lic["apache/colors"].before.spdx, lic["apache/colors"].after.spdx) == ("MIT", "Apache-2.0")
    assert lic["apache/colors"].after.path == "package.json (licence metadata)"
    # "GPL" names no version: unknown, and no risk is written on a guess
    assert lic["vague/colors"].after.spdx is None and not lic["vague/colors"].changed
