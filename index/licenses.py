"""Which licence a text is, by comparing it with the SPDX licence texts; which a package's metadata names.

Keywords mislead: GPL v2's own preamble mentions the Lesser GPL, and a BSD text without its third clause is BSD-2.
So a licence file is compared, as overlapping word shingles, with the SPDX texts of the common licences (the
``spdx`` package's data, CC0): the best match at :data:`MATCH` or above names it, else it is ``unknown``. An
``SPDX-License-Identifier:`` line says it outright. Package metadata (license fields, trove classifiers) names a
licence only when it is specific ("GPL" alone, "BSD License" say no version: ``None``, never a guess).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

COMMON = (
    "MIT", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "ISC", "Apache-2.0", "GPL-2.0", "GPL-3.0", "LGPL-2.0", "LGPL-2.1",
    "LGPL-3.0", "AGPL-3.0", "MPL-2.0", "EPL-1.0", "EPL-2.0", "Unlicense", "BSL-1.0", "CC0-1.0", "Zlib", "WTFPL",
    "Artistic-2.0", "PostgreSQL", "Python-2.0", "MIT-0", "CDDL-1.0",
)  # fmt: skip
"""The licences a file is compared with (SPDX ids as the ``spdx`` package names its texts)."""
MATCH = 0.7
"""Dice similarity of word-trigram sets at or above which a text is that licence."""
UNKNOWN = "unknown"
_IDENTIFIER = re.compile(r"SPDX-License-Identifier:\s*([\w.+-]+(?:\s+(?:OR|AND|WITH)\s+[\w.+-]+)*)", re.I)
_COPYRIGHT = re.compile(r"(?im)^\s*(copyright\b|\(c\)|©).*$")


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = re.sub(r"[^a-z0-9]+", " ", _COPYRIGHT.sub(" ", text.lower())).split()
    return frozenset(zip(words, words[1:], words[2:], strict=False))


@lru_cache(maxsize=1)
def _references() -> dict[str, frozenset[tuple[str, ...]]]:
    data = resources.files("spdx").joinpath("data")
    out = {}
    for ident in COMMON:
        f = data.joinpath(f"{ident}.txt")
        if f.is_file():
            out[ident] = _shingles(f.read_bytes().decode("utf-8", errors="replace"))
    return out


def identify(text: str | None) -> str | None:
    """The SPDX id of a licence text; ``unknown`` when it matches none closely enough; None without a text."""
    if text is None:
        return None
    m = _IDENTIFIER.search(text)
    if m:
        return m.group(1).strip()
    mine = _shingles(text)
    if not mine:
        return UNKNOWN
    best, score = UNKNOWN, 0.0
    for ident, ref in _references().items():
        dice = 2 * len(mine & ref) / (len(mine) + len(ref))
        if dice > score:
            best, score = ident, dice
    several = _several(mine)
    if several:
        return " AND ".join(several)
    return best if score >= MATCH else UNKNOWN


HELD = 0.85
"""Share of a licence's text a file must hold for that licence to be in it (with others: :func:`_several`)."""


def _several(mine: frozenset[tuple[str, ...]]) -> list[str]:
    """The licences of a file that holds several whole texts, one after another (git-flow AVH's LICENSE: its own
    BSD-2-Clause, the original's, and the LGPL-2.1 of a bundled library), sorted; [] for one licence. A text held
    only as part of another held one (BSD-2 inside BSD-3, MIT-0 inside MIT) is not counted apart, and the held
    texts must make up most of the file."""
    refs = _references()
    held = [i for i, ref in refs.items() if ref and len(mine & ref) >= HELD * len(ref)]
    held = [i for i in held if not any(j != i and len(refs[i] & refs[j]) >= HELD * len(refs[i]) and
                                       len(refs[j]) > len(refs[i]) for j in held)]  # fmt: skip
    if len(held) < 2:
        return []
    covered = len(mine & frozenset().union(*(refs[i] for i in held)))
    return sorted(held) if covered >= MATCH * len(mine) else []


_CLASSIFIERS = {
    "mit license": "MIT",
    "isc license (iscl)": "ISC",
    "apache software license": None,  # no version
    "gnu general public license v2 (gplv2)": "GPL-2.0",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0",
    "gnu general public license v3 (gplv3)": "GPL-3.0",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0",
    "gnu affero general public license v3": "AGPL-3.0",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "the unlicense (unlicense)": "Unlicense",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0",
    "zlib/libpng license": "Zlib",
}
_KNOWN = {i.lower(): i for i in COMMON} | {
    "gpl-2.0-only": "GPL-2.0", "gpl-2.0-or-later": "GPL-2.0", "gpl-3.0-only": "GPL-3.0", "gpl-3.0-or-later": "GPL-3.0",
    "lgpl-2.1-only": "LGPL-2.1", "lgpl-2.1-or-later": "LGPL-2.1", "lgpl-3.0-only": "LGPL-3.0",
    "lgpl-3.0-or-later": "LGPL-3.0", "agpl-3.0-only": "AGPL-3.0", "agpl-3.0-or-later": "AGPL-3.0",
    "apache 2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0", "apache-2": "Apache-2.0", "mit license": "MIT",
    "bsd-2": "BSD-2-Clause", "bsd-3": "BSD-3-Clause", "mpl 2.0": "MPL-2.0",
}  # fmt: skip


def from_metadata(value: str | None) -> str | None:
    """A package's licence field or trove classifier as an SPDX id (an expression of known ids kept as it is);
    None when it does not say which licence and version ("GPL", "BSD", "Apache Software License")."""
    if not value or not value.strip():
        return None
    v = " ".join(value.split())
    low = v.lower()
    if low.startswith("license ::"):
        return _CLASSIFIERS.get(low.rsplit("::", 1)[-1].strip())
    if low in _KNOWN:
        return _KNOWN[low]
    parts = re.split(r"\s+(?:OR|AND)\s+", v.strip("()"), flags=re.I)
    if len(parts) > 1 and all(p.strip("() ").lower() in _KNOWN for p in parts):
        return " OR ".join(_KNOWN[p.strip("() ").lower()] for p in parts) if " or " in low else v
    return None
