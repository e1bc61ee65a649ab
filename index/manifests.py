"""Licence identification and package name/version from common manifests."""

from __future__ import annotations

import configparser
import json
import re
import tomllib

from forkwise.index.models import LicenseInfo, PackageInfo

LICENSE_RE = re.compile(r"^(licen[sc]e|copying|unlicense)(\..*)?$", re.I)
LICENSE_NAMES = (
    "LICENSE",
    "LICENSE.md",
    "LICENSE.txt",
    "LICENCE",
    "COPYING",
    "COPYING.md",
    "LICENSE-MIT",
    "LICENSE-APACHE",
    "UNLICENSE",
)
MANIFESTS = ("pyproject.toml", "setup.cfg", "setup.py", "package.json", "Cargo.toml", "go.mod")


def is_manifest(path: str) -> bool:
    """A package manifest at the root (a gemspec by its suffix)."""
    return path in MANIFESTS or ("/" not in path and path.endswith(".gemspec"))


def is_license(path: str) -> bool:
    """A licence file at the root (git paths: "/"-separated)."""
    return "/" not in path and bool(LICENSE_RE.match(path))


def spdx(text: str | None) -> str | None:
    """Best-effort SPDX identifier of a licence text; 'unknown' when it matches nothing known."""
    if text is None:
        return None
    t = " ".join(text.split()).lower()
    rules = [
        ("gnu affero general public license", "AGPL-3.0"),
        ("gnu lesser general public license", "LGPL-3.0" if "version 3" in t else "LGPL-2.1"),
        ("gnu general public license", "GPL-3.0" if "version 3" in t else "GPL-2.0"),
        ("apache license", "Apache-2.0"),
        ("mozilla public license", "MPL-2.0"),
        ("permission is hereby granted, free of charge", "MIT"),
        ("this is free and unencumbered software released into the public domain", "Unlicense"),
        ("boost software license", "BSL-1.0"),
        ("business source license", "BUSL-1.1"),
        ("server side public license", "SSPL-1.0"),
        ("creative commons attribution-noncommercial", "CC-BY-NC-4.0"),
    ]
    for needle, ident in rules:
        if needle in t:
            return ident
    if "redistribution and use in source and binary forms" in t:
        return "BSD-3-Clause" if "neither the name" in t else "BSD-2-Clause"
    if "all rights reserved" in t:
        return "proprietary"
    return "unknown"


def license_info(path: str | None, text: str | None) -> LicenseInfo:
    return LicenseInfo(path=path, spdx=spdx(text) if path else None)


def package_info(manifest: str, text: str | None) -> PackageInfo | None:
    """Name and version declared in ``manifest``; None when the file is absent or unreadable."""
    if text is None:
        return None
    name = version = desc = None
    try:
        if manifest == "pyproject.toml":
            data = tomllib.loads(text)
            proj = data.get("project") or data.get("tool", {}).get("poetry") or {}
            name, version, desc = proj.get("name"), proj.get("version"), proj.get("description")
        elif manifest == "Cargo.toml":
            pkg = tomllib.loads(text).get("package", {})
            name, version, desc = pkg.get("name"), pkg.get("version"), pkg.get("description")
        elif manifest == "package.json":
            data = json.loads(text)
            name, version, desc = data.get("name"), data.get("version"), data.get("description")
        elif manifest == "setup.cfg":
            cp = configparser.ConfigParser(interpolation=None)
            cp.read_string(text)
            name = cp.get("metadata", "name", fallback=None)
            version = cp.get("metadata", "version", fallback=None)
            desc = cp.get("metadata", "description", fallback=None)
        elif manifest == "setup.py":
            m = re.search(r"\bname\s*=\s*['\"]([^'\"]+)['\"]", text)
            v = re.search(r"\bversion\s*=\s*['\"]([^'\"]+)['\"]", text)
            d = re.search(r"\bdescription\s*=\s*['\"]([^'\"]+)['\"]", text)
            name, version = (m.group(1) if m else None), (v.group(1) if v else None)
            desc = d.group(1) if d else None
        elif manifest == "go.mod":
            m = re.search(r"(?m)^module\s+(\S+)", text)
            name = m.group(1) if m else None
        elif manifest.endswith(".gemspec"):
            m = re.search(r"\.name\s*=\s*['\"]([^'\"]+)['\"]", text)
            d = re.search(r"\.(?:summary|description)\s*=\s*['\"]([^'\"]+)['\"]", text)
            name, desc = (m.group(1) if m else None), (d.group(1) if d else None)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, configparser.Error, AttributeError):
        return PackageInfo(manifest=manifest, name=None, version=None)
    return PackageInfo(
        manifest=manifest,
        name=str(name) if isinstance(name, str) else None,
        version=str(version) if isinstance(version, str) else None,
        description=" ".join(desc.split())[:300] if isinstance(desc, str) and desc.strip() else None,
    )
