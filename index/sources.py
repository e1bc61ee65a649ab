"""Where a repository comes from: a GitHub ``owner/name``, any git URL, or a local path, plus an optional ref.

A :class:`Source` is validated when it is built. Unsafe inputs are refused with :class:`UnsafeSourceError`:
remote-helper syntax (``ext::``, ``fd::``, any ``transport::``), anything starting with ``-`` (it would be read
as an option by git), control characters, and ref names git itself rejects.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from forkwise.index.names import WebLink, is_full_name

ALLOWED_SCHEMES = ("https", "http", "ssh", "git", "file")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)[^\s]+$")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SourceError(ValueError):
    """A source that cannot be used; the message says why, for a person."""


class UnsafeSourceError(SourceError):
    """A source refused for safety (option injection, remote helpers, odd characters)."""


def check_url(url: str) -> str:
    """Return ``url`` if it is a safe git URL or path, else raise :class:`UnsafeSourceError`."""
    if not url or not url.strip():
        raise SourceError("empty repository URL")
    if _CONTROL.search(url):
        raise UnsafeSourceError(f"refused URL with control characters: {url!r}")
    if url.startswith("-"):
        raise UnsafeSourceError(f"refused URL starting with '-' (would be read as a git option): {url!r}")
    if _HELPER.match(url):
        raise UnsafeSourceError(f"refused remote-helper URL {url.split('::', 1)[0]}:: : {url!r}")
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in ALLOWED_SCHEMES:
            raise UnsafeSourceError(f"refused URL scheme {scheme!r}; allowed: {', '.join(ALLOWED_SCHEMES)}")
        parsed = urlparse(url)
        try:
            port = parsed.port
        except ValueError:
            port = -1
        if port is not None and not 0 < port < 65536:
            raise SourceError(f"invalid port in {url[:200]!r}: a port is a number between 1 and 65535")
        if scheme != "file" and (not parsed.hostname or parsed.hostname.startswith("-")):
            raise UnsafeSourceError(f"refused URL with a missing or option-like host: {url!r}")
        if parsed.path.startswith("/-") or "/-" in parsed.path.split("/", 2)[-1][:1]:
            raise UnsafeSourceError(f"refused URL whose path starts with '-': {url!r}")
    return url


_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://([^/@\s]*)@")


def _drop_userinfo(m: re.Match[str]) -> str:
    scheme, info = m.group(1), m.group(2)
    if scheme.lower() in ("http", "https") or ":" in info:  # a token or a password
        return f"{scheme}://"
    return m.group(0)  # ssh://git@host: a login name, no secret


def without_userinfo(url: str | None) -> str | None:
    """``url`` without its credentials (``user:password@``; any userinfo of an http(s) URL, where a token sits):
    reports, jobs and errors never keep them. git may use them while fetching, but what is stored and shown has
    none: give private remotes a credential helper instead. An ssh login name (``ssh://git@host``) stays."""
    return _USERINFO.sub(_drop_userinfo, url) if url else url


def redact_credentials(text: str | None) -> str | None:
    """Every URL in ``text`` (an error message, a job's errors) without its credentials."""
    return _USERINFO.sub(_drop_userinfo, text) if text else text


NoCredentials = Annotated[str, AfterValidator(without_userinfo)]
"""A URL that is stored or shown: credentials dropped on validation."""
Redacted = Annotated[str, AfterValidator(redact_credentials)]
"""Text that may quote URLs (errors, reasons): credentials dropped on validation."""


def is_local_url(url: str | None) -> bool:
    """A local path or ``file://`` URL (shown only to callers on this machine)."""
    if not url:
        return False
    return url.startswith("file://") or ("://" not in url and not _SCP_LIKE.match(url))


def check_ref(ref: str) -> str:
    """Validate a ref as git's check-ref-format would (branch short names allowed)."""
    if ref.startswith("-") or _CONTROL.search(ref) or " " in ref:
        raise UnsafeSourceError(f"refused ref {ref!r}")
    bad = ("..", "@{", "\\", "~", "^", ":", "?", "*", "[", "//")
    if any(b in ref for b in bad) or ref.endswith((".", "/", ".lock")) or ref.startswith("/"):
        raise SourceError(f"invalid ref name {ref!r}")
    return ref


class Source(BaseModel):
    """A repository to compare: a display ``name``, a git ``url`` (or local path) and an optional ``ref``."""

    model_config = ConfigDict(frozen=True)

    name: str
    url: str
    ref: str | None = None
    forge: str | None = Field(default=None, description="'github' when the name is a GitHub owner/name.")
    html_url: WebLink = Field(default=None, description="Browsable page, when the forge told us (API html_url).")
    pinned: str | None = Field(
        default=None, description="host:port:address git must connect to (set when a remote caller's URL was checked)."
    )

    @field_validator("url")
    @classmethod
    def _safe_url(cls, v: str) -> str:
        return check_url(v)

    @field_validator("ref")
    @classmethod
    def _safe_ref(cls, v: str | None) -> str | None:
        return check_ref(v) if v else None

    @property
    def is_local(self) -> bool:
        return ("://" not in self.url and not _SCP_LIKE.match(self.url)) or self.url.startswith("file://")

    @property
    def full_ref(self) -> str | None:
        """``ref`` as a full ref name: a bare branch name becomes ``refs/heads/<name>``."""
        if self.ref is None:
            return None
        return self.ref if self.ref.startswith("refs/") or self.ref == "HEAD" else f"refs/heads/{self.ref}"

    @property
    def web_url(self) -> str | None:
        """Browsable forge URL, when the source is on GitHub."""
        if self.html_url:
            return self.html_url
        if self.forge == "github":
            return f"https://github.com/{self.name}"
        return None


def _name_from_url(url: str) -> str:
    url = without_userinfo(url) or url
    path = url.split("://", 1)[-1] if "://" in url else url.split(":", 1)[-1] if _SCP_LIKE.match(url) else url
    parts = [p for p in path.rstrip("/").split("/") if p]
    parts = [p[:-4] if p.endswith(".git") else p for p in parts]
    return "/".join(parts[-2:]) if len(parts) >= 2 else (parts[-1] if parts else url)


def _name_for_ref(path: str, ref: str) -> str:
    """A display name for one ref of a local repository: ``owner/repo`` for a remote-tracking ref of a network
    (``refs/remotes/<owner>/…``), else ``repo#ref``: two refs of one bundle never share a name."""
    repo = Path(path.rstrip("/")).name
    for suffix in (".bundle", ".git"):
        repo = repo.removesuffix(suffix)
    m = re.match(r"^refs/remotes/([^/]+)/", ref)
    return f"{m.group(1)}/{repo}" if m else f"{repo}#{ref.removeprefix('refs/heads/')}"


def network_sources(source: Source) -> tuple[Source, list[Source]] | None:
    """A local repository that holds a whole fork network as remote-tracking refs (``refs/remotes/<owner>/*``,
    as in a bundle of a network): upstream is the remote named ``upstream`` (else ``origin``), every other remote
    a fork, each at its ``HEAD`` (else ``main``, ``master``, or its only branch). None when it is not one.

    Raises :class:`SourceError` when it holds several remotes but none is named ``upstream`` or ``origin``."""
    if not source.is_local or source.ref:
        return None
    res = subprocess.run(["git", "ls-remote", "--", source.url], capture_output=True, text=True, timeout=120,
                         check=False)  # fmt: skip
    if res.returncode:
        return None
    branches: dict[str, set[str]] = {}
    for line in res.stdout.splitlines():
        ref = line.partition("\t")[2]
        m = re.match(r"^refs/remotes/([^/]+)/(.+)$", ref)
        if m:
            branches.setdefault(m.group(1), set()).add(m.group(2))
    if len(branches) < 2:
        return None
    up = next((o for o in ("upstream", "origin") if o in branches), None)
    if up is None:
        raise SourceError(
            f"{source.url} holds the remotes {', '.join(sorted(branches))}: name the upstream as "
            f"{source.url}#refs/remotes/<owner>/HEAD and the forks with --fork the same way"
        )

    def at(owner: str) -> Source | None:
        names = branches[owner]
        pick: str | None = next((b for b in ("HEAD", "main", "master") if b in names), None)
        pick = pick or (next(iter(names)) if len(names) == 1 else None)
        if pick is None:
            return None
        ref = f"refs/remotes/{owner}/{pick}"
        return Source(name=_name_for_ref(source.url, ref), url=source.url, ref=ref)

    upstream = at(up)
    if upstream is None:
        return None
    forks = [s for o in sorted(branches, key=str.lower) if o != up and (s := at(o)) is not None]
    return upstream, forks


def parse_source(
    text: str, ref: str | None = None, name: str | None = None, github_url: str = "https://github.com"
) -> Source:
    """Turn what a user typed into a :class:`Source`.

    Order: an existing local path wins; then ``owner/name`` (GitHub); then URLs. ``SOURCE#REF`` names a ref
    (``owner/name#dev``, ``../net.bundle#refs/remotes/amy/HEAD``): a git URL never carries a fragment, so ``#``
    is free to mean it. A trailing ``@ref`` is not parsed (refs may contain ``@``).
    """
    text = text.strip()
    if "#" in text and not Path(text).expanduser().exists():
        text, _, given = text.rpartition("#")
        if not given or not text:
            raise SourceError(f"give a source and a ref around '#', e.g. owner/name#main: {text + '#' + given!r}")
        if ref and ref != given:
            raise SourceError(f"two refs for {text!r}: {given!r} after '#' and {ref!r}; give one")
        ref = given
        if name is None and "://" not in text and not is_full_name(text):
            name = _name_for_ref(text, given)
    if ref:
        check_ref(ref)  # a clear error here rather than the model's validation message
    check_url(text)
    local = Path(text).expanduser()
    if "://" not in text and not _SCP_LIKE.match(text) and local.exists():
        return Source(name=name or _name_from_url(str(local.resolve())), url=str(local.resolve()), ref=ref)
    if is_full_name(text):
        return Source(name=name or text, url=f"{github_url.rstrip('/')}/{text}.git", ref=ref, forge="github")
    m = re.match(r"^https?://(?:www\.)?github\.com/([^/]+/[^/]+?)(?:\.git)?/?$", text)
    if m:
        return Source(name=name or m.group(1), url=f"https://github.com/{m.group(1)}.git", ref=ref, forge="github")
    if "://" in text or _SCP_LIKE.match(text):
        return Source(name=name or _name_from_url(text), url=text, ref=ref)
    raise SourceError(f"not a local path, an owner/name or a git URL: {text!r}")


class ForksFileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    url: str | None = None
    ref: str | None = None


class ForksFile(BaseModel):
    """The TOML forks file: ``[upstream]`` and ``[[forks]]`` tables, each with name/url/ref."""

    model_config = ConfigDict(extra="forbid")
    upstream: ForksFileEntry | None = None
    forks: Annotated[list[ForksFileEntry], Field(default_factory=list)]


def _entry_source(entry: ForksFileEntry, base: Path, github_url: str) -> Source:
    if entry.url is None and entry.name is None:
        raise SourceError("an entry needs a name or a url")
    target = entry.url or entry.name or ""
    if entry.url and "://" not in entry.url and not _SCP_LIKE.match(entry.url):
        p = Path(entry.url).expanduser()
        target = str(p if p.is_absolute() else (base / p))
        if not Path(target).exists():
            # keep it: the fork fails on its own with a clear error, the others go on
            return Source(name=entry.name or _name_from_url(target), url=target, ref=entry.ref)
    return parse_source(target, ref=entry.ref, name=entry.name, github_url=github_url)


def load_forks_file(path: Path, github_url: str = "https://github.com") -> tuple[Source | None, list[Source]]:
    """Read a forks file; relative local paths are relative to the file's folder."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = ForksFile.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise SourceError(f"cannot read forks file {path}: {exc}") from exc
    base = path.resolve().parent
    upstream = _entry_source(spec.upstream, base, github_url) if spec.upstream else None
    return upstream, [_entry_source(f, base, github_url) for f in spec.forks]
