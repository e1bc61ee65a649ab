"""Licence identification and package name/version from common manifests."""

from __future__ import annotations

import ast
import configparser
import json
import re
import tomllib

from forkwise.index import licenses
from forkwise.index.models import LicenseInfo, PackageInfo

LICENSE_RE = re.compile(
    r"^(licen[sc]e|copying|unlicense|copyright)([._-].*)?$|^(a|l)?gpl[-_v.]?\d.*$|^.*\.licen[sc]e$", re.I
)
LICENSE_DIRS = ("license", "licenses", "licence", "licences")
MANIFESTS = ("pyproject.toml", "setup.cfg", "setup.py", "package.json", "Cargo.toml", "go.mod")


def is_manifest(path: str) -> bool:
    """A package manifest at the root (a gemspec by its suffix)."""
    return path in MANIFESTS or ("/" not in path and path.endswith(".gemspec"))


def is_license(path: str) -> bool:
    """A licence file: at the root by name (``LICENSE*``, ``LICENCE*``, ``COPYING*``, ``GPL-*``, ``*.license``),
    or any file in a root ``license/`` folder (git paths: "/"-separated)."""
    head, _, rest = path.partition("/")
    if rest:
        return head.lower() in LICENSE_DIRS and "/" not in rest
    return bool(LICENSE_RE.match(path))


def spdx(text: str | None) -> str | None:
    """The SPDX id of a licence text, by comparison with the SPDX texts (:mod:`forkwise.index.licenses`)."""
    return licenses.identify(text)


def license_info(path: str | None, text: str | None) -> LicenseInfo:
    return LicenseInfo(path=path, spdx=spdx(text) if path else None)


_SETUP_KEYS = ("name", "version", "description", "license")


def setup_keywords(text: str) -> dict[str, str]:
    """The string keywords of a ``setup.py``'s ``setup(...)`` call (name, version, description, licence), read
    with :mod:`ast`, never run: a keyword naming a module-level string (``version=VERSION``) gives that string;
    a ``description`` elsewhere (a command class's) is not the package's. A file Python 3 cannot parse (Python 2
    syntax) is searched from its ``setup(`` on."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None:
        consts = {
            t.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for t in node.targets
            if isinstance(t, ast.Name)
        }  # fmt: skip
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "") != (
                "setup"
            ):
                continue
            out: dict[str, str] = {}
            for k in node.keywords:
                v = k.value
                if k.arg in _SETUP_KEYS and isinstance(v, ast.Constant) and isinstance(v.value, str):
                    out[k.arg] = v.value
                elif k.arg in _SETUP_KEYS and isinstance(v, ast.Name) and v.id in consts:
                    out[k.arg] = consts[v.id]
            return out
    call = re.search(r"\bsetup\s*\(", text)
    body = text[call.end() :] if call else text
    found = {k: re.search(rf"\b{k}\s*=\s*['\"]([^'\"]+)['\"]", body) for k in _SETUP_KEYS}
    return {k: m.group(1) for k, m in found.items() if m}


def package_info(manifest: str, text: str | None) -> PackageInfo | None:
    """Name and version declared in ``manifest``; None when the file is absent or unreadable."""
    if text is None:
        return None
    name = version = desc = None
    lic: list[str] = []  # licence fields and classifiers, most specific first
    try:
        if manifest == "pyproject.toml":
            data = tomllib.loads(text)
            proj = data.get("project") or data.get("tool", {}).get("poetry") or {}
            name, version, desc = proj.get("name"), proj.get("version"), proj.get("description")
            field = proj.get("license")
            lic += [field.get("text", "") if isinstance(field, dict) else str(field or "")]
            lic += [str(c) for c in proj.get("classifiers", []) if str(c).startswith("License ::")]
        elif manifest == "Cargo.toml":
            pkg = tomllib.loads(text).get("package", {})
            name, version, desc = pkg.get("name"), pkg.get("version"), pkg.get("description")
            lic.append(str(pkg.get("license") or ""))
        elif manifest == "package.json":
            data = json.loads(text)
            name, version, desc = data.get("name"), data.get("version"), data.get("description")
            field = data.get("license")
            lic.append(field.get("type", "") if isinstance(field, dict) else str(field or ""))
        elif manifest == "setup.cfg":
            cp = configparser.ConfigParser(interpolation=None)
            cp.read_string(text)
            name = cp.get("metadata", "name", fallback=None)
            version = cp.get("metadata", "version", fallback=None)
            desc = cp.get("metadata", "description", fallback=None)
            lic.append(cp.get("metadata", "license", fallback="") or "")
            lic += [ln.strip() for ln in cp.get("metadata", "classifiers", fallback="").splitlines()
                    if ln.strip().startswith("License ::")]  # fmt: skip
        elif manifest == "setup.py":
            kw = setup_keywords(text)
            name, version, desc = kw.get("name"), kw.get("version"), kw.get("description")
            lic += [kw.get("license", ""), *re.findall(r"['\"](License :: [^'\"]+)['\"]", text)]
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
        license=next((x for x in map(licenses.from_metadata, lic) if x), None),
    )
