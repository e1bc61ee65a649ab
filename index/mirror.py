"""One bare mirror per upstream; every fork a remote fetched into its own ref namespace.

Layout inside the mirror (never a working tree, never shallow):

- ``refs/upstream/target`` – the upstream ref being compared; ``refs/upstream/heads/*`` its branches;
  ``refs/tags/*`` upstream's tags (forks are fetched with ``--no-tags`` so tags are upstream's only).
- ``refs/forks/<key>/target`` – the fork ref being compared; ``refs/forks/<key>/heads/*`` its branches.

Network remotes are fetched blobless (``--filter=blob:none``) when allowed; blobs a diff needs are fetched
lazily by git from the promisor remote. A server that does not support filters simply sends everything.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from forkwise.index.gitio import GitError, run
from forkwise.index.policy import git_config, git_options
from forkwise.index.sources import Source, without_userinfo

UPSTREAM_KEY = "upstream"


class RemoteRefs(BaseModel):
    """What ``git ls-remote --symref`` says a repository has."""

    model_config = ConfigDict(frozen=True)
    head_symref: str | None
    refs: dict[str, str]
    smart: bool | None = Field(
        default=None,
        description="http(s) only: the server speaks git's smart protocol (False: a 'dumb' static file server).",
    )

    @property
    def default_branch(self) -> str | None:
        return self.head_symref.removeprefix("refs/heads/") if self.head_symref else None

    @property
    def heads(self) -> dict[str, str]:
        return {k.removeprefix("refs/heads/"): v for k, v in self.refs.items() if k.startswith("refs/heads/")}


class SourceProblem(RuntimeError):
    """A source that cannot be compared, with a message for a person."""


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:60] or "repo"


def source_key(source: Source) -> str:
    digest = hashlib.sha1(f"{source.url}\0{source.ref or ''}".encode()).hexdigest()[:8]
    return f"{slug(source.name)}-{digest}"


def _explain(url: str, exc: GitError) -> str:
    msg = exc.message
    if "does not appear to be a git repository" in msg or "not a git repository" in msg.lower():
        return f"not a git repository (or no such path): {url}"
    if "Could not resolve host" in msg or "unable to access" in msg:
        return f"cannot reach {url}: {msg}"
    if "Repository not found" in msg or "not found" in msg.lower():
        return f"repository not found: {url}"
    if "terminal prompts disabled" in msg or "Authentication failed" in msg:
        return f"authentication required for {url} (set a token or use a public URL)"
    return f"git could not read {url}: {msg}"


def ls_remote(source: Source, timeout: float = 120.0) -> RemoteRefs:
    """List a repository's refs without fetching anything."""
    url = source.url
    if "://" not in url and ":" not in url.split("/", 1)[0] and not Path(url).exists():
        raise SourceProblem(f"no such path: {url}")
    http = url.lower().startswith(("http://", "https://"))
    trace = {"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"} if http else None  # headers only
    stderr: list[str] = []
    try:
        out = run(None, *git_options(source), "ls-remote", "--symref", "--", url, timeout=timeout, env=trace,
                  stderr=stderr)  # fmt: skip
    except GitError as exc:
        raise SourceProblem(_explain(url, exc)) from exc
    smart = bool(_SMART.search("".join(stderr))) if http else None
    head_symref: str | None = None
    refs: dict[str, str] = {}
    for line in out.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: "):
            if name == "HEAD":
                head_symref = left[5:]
            continue
        if name.endswith("^{}"):
            continue
        refs[name] = left
    if not refs:
        raise SourceProblem(f"repository is empty (no commits): {url}")
    return RemoteRefs(head_symref=head_symref, refs=refs, smart=smart)


_SMART = re.compile(r"Recv header: content-type: application/x-git-upload-pack-advertisement", re.IGNORECASE)


def resolve_target(source: Source, remote: RemoteRefs) -> tuple[str, str]:
    """The full ref to compare and its SHA: ``source.ref`` if given, else the default branch."""
    if source.ref:
        candidates = [source.full_ref or source.ref]
        if not source.ref.startswith("refs/"):
            candidates += [f"refs/tags/{source.ref}", f"refs/remotes/{source.ref}"]
        for c in candidates:
            if c in remote.refs:
                return c, remote.refs[c]
        branches = ", ".join(sorted(remote.heads)[:10]) or "none"
        raise SourceProblem(f"ref {source.ref!r} not found in {source.url} (branches: {branches})")
    if remote.head_symref and remote.head_symref in remote.refs:
        return remote.head_symref, remote.refs[remote.head_symref]
    if "HEAD" in remote.refs:
        return "HEAD", remote.refs["HEAD"]
    raise SourceProblem(f"cannot tell the default branch of {source.url}; pass a ref")


def mirror_path(root: Path, name: str, url: str) -> Path:
    """Where the mirror of the upstream ``name`` cloned from ``url`` lives under ``root`` (credentials in the URL do
    not count: reports store it without them and must find the same mirror)."""
    url = without_userinfo(url) or url
    return root / f"{slug(name)}-{hashlib.sha1(url.encode()).hexdigest()[:8]}.git"


class Mirror:
    """A bare repository under ``<home>/mirrors`` holding upstream and all its forks.

    Runs that write to one mirror (fetches, config) take :meth:`lock` first: an exclusive ``flock`` on
    ``<mirror>.lock``, so two jobs on one upstream on this machine take turns instead of racing.
    """

    def __init__(self, root: Path, upstream: Source, *, blobless: bool = True, timeout: float = 600.0):
        self.path = mirror_path(root, upstream.name, upstream.url)
        self.upstream = upstream
        self.blobless = blobless
        self.timeout = timeout
        self.fetches = 0

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def git(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        return run(self.path, *args, timeout=self.timeout, ok_codes=ok_codes)

    def ensure(self) -> None:
        if not (self.path / "HEAD").exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            run(None, "init", "--bare", "--quiet", str(self.path))

    @staticmethod
    def namespace(key: str) -> str:
        return "refs/upstream" if key == UPSTREAM_KEY else f"refs/forks/{key}"

    def register(self, remotes: dict[str, Source]) -> None:
        """Write one remote per source into the mirror's config (serially, before concurrent fetches). What is there
        already (each remote's URL, the pinned addresses) is read in one ``git config``: a warm run changes nothing."""
        if not remotes:
            return
        urls: dict[str, str] = {}
        pinned_before: set[str] = set()
        config = self.git("config", "--get-regexp", r"^(remote\..*\.url|http\..*\.curloptresolve)$", ok_codes=(0, 1))
        for line in config.splitlines():
            key_, _, value = line.partition(" ")
            if key_.startswith("remote.") and key_.endswith(".url"):
                urls[key_.removeprefix("remote.").removesuffix(".url")] = value  # the last one, as `--get` reads
            else:
                pinned_before.add(key_)
        partial = False
        for key, source in remotes.items():
            name = key
            if name not in urls:
                self.git("remote", "add", "--no-tags", "--", name, source.url)
            elif urls[name] != source.url:
                self.git("remote", "set-url", "--", name, source.url)
            scoped = git_config(source)
            for key_, value in scoped.items():  # lazy blob fetches connect where the check said
                self.git("config", "--replace-all", key_, value)
            stale = f"http.{source.url}.curloptresolve"
            if not scoped and any(k.lower() == stale.lower() for k in pinned_before):  # trusted now: as given
                self.git("config", "--unset-all", stale, ok_codes=(0, 5))
                self.git("config", "--unset-all", f"http.{source.url}.followRedirects", ok_codes=(0, 5))
            if self.blobless and not source.is_local:
                self.git("config", f"remote.{name}.promisor", "true")
                self.git("config", f"remote.{name}.partialclonefilter", "blob:none")
                partial = True
        if partial:
            self.git("config", "core.repositoryformatversion", "1")
            if self.git("config", "--get", "extensions.partialclone", ok_codes=(0, 1)).strip() == "":
                first = next(k for k, s in remotes.items() if not s.is_local)
                self.git("config", "extensions.partialclone", first)

    def local_refs(self, key: str, *, also: str | None = None) -> dict[str, str]:
        """The key's refs by their name in its namespace; ``also``: the refs under that prefix too, in the same
        ``for-each-ref``, named without ``refs/`` (``tags/v1.0``)."""
        ns = self.namespace(key)
        out = self.git("for-each-ref", "--format=%(objectname) %(refname)", ns, *([also] if also else []))
        pairs = (ln.partition(" ") for ln in out.splitlines())
        return {
            name.removeprefix(ns + "/") if name.startswith(ns + "/") else name.removeprefix("refs/"): sha
            for sha, _, name in pairs
        }

    def fetch(self, key: str, source: Source, remote: RemoteRefs, target: str, *, heads: bool) -> bool:
        """Fetch ``target`` (and the branches, if ``heads``) into the key's namespace.

        Returns False when every wanted ref is already present at the advertised SHA (nothing fetched).
        """
        ns = self.namespace(key)
        want = {"target": remote.refs[target]}
        refspecs = [f"+{target}:{ns}/target"]
        if heads:
            want |= {f"heads/{b}": sha for b, sha in remote.heads.items()}
            refspecs.append(f"+refs/heads/*:{ns}/heads/*")
        if key == UPSTREAM_KEY:
            refspecs.append("+refs/tags/*:refs/tags/*")
            want |= {r.removeprefix("refs/"): sha for r, sha in remote.refs.items() if r.startswith("refs/tags/")}
            have = self.local_refs(key, also="refs/tags")
        else:
            have = self.local_refs(key)
        if all(have.get(k) == v for k, v in want.items()) and (not heads or set(have) - {"target"} <= set(want)):
            return False
        # --refmap= (empty): only the refspecs below write refs; no remote-tracking copies under refs/remotes/
        args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--prune", "--no-auto-gc", "--refmap="]
        if self.blobless and not source.is_local:
            if remote.smart is False:
                # a static file server cannot filter: git's walker then fetches every missing object lazily from
                # the promisor remote, which is itself, recursing without end (11,892 requests seen): never start
                raise SourceProblem(
                    f"{source.url} is a 'dumb' HTTP server (static files, not git's smart protocol), which cannot "
                    "serve a blobless fetch: serve it with `git http-backend`, or set FORKWISE_BLOBLESS=false"
                )
            args.append("--filter=blob:none")
        try:
            self.git(*git_options(source), *args, "--", key, *refspecs)
        except GitError as exc:
            raise SourceProblem(f"fetch failed for {source.url}: {_explain(source.url, exc)}") from exc
        self.fetches += 1
        self.changed()
        return True

    def own_size(self, key: str) -> int:
        """Bytes of objects the key's refs hold that upstream's compared ref does not (blobs a blobless fetch left
        on the server are not counted: they are not on this disk)."""
        refs = list(self.local_refs(key))
        if not refs:
            return 0
        ns = self.namespace(key)
        out = self.git(
            "rev-list", "--objects", "--disk-usage", "--missing=allow-promisor",
            *(f"{ns}/{r}" for r in refs), "--not", f"{self.namespace(UPSTREAM_KEY)}/target", "--",
        )  # fmt: skip
        return int(out.strip() or 0)

    def drop(self, key: str) -> None:
        """Delete the key's refs (its objects go at the next ``gc``)."""
        ns = self.namespace(key)
        legacy = self.git("for-each-ref", "--format=%(refname)", f"refs/remotes/{key}").split()  # older mirrors
        for ref in [f"{ns}/{r}" for r in self.local_refs(key)] + legacy:
            self.git("update-ref", "-d", ref)

    def collect_garbage(self) -> None:
        """Reclaim the objects no ref holds any more (after :meth:`drop`); the caller holds :meth:`lock`."""
        self.git("-c", "gc.pruneExpire=now", "gc", "--quiet", "--prune=now")
        self.changed()

    def changed(self) -> None:
        """Forget the mirror's recorded size: git has written to it (a fetch, a gc, lazily fetched blobs)."""
        (self.path / SIZE_RECORD).unlink(missing_ok=True)

    def mark_used(self) -> None:
        """Record that a run used this mirror now (the disk budget evicts the least recently used first)."""
        (self.path / "forkwise-used").touch()


class Rel(NamedTuple):
    """Two forks compared: commits a has that b lacks, commits b has that a lacks, and how many of the first are
    merge commits."""

    ahead: int
    behind: int
    ahead_merges: int = 0


def relations(
    path: Path, heads: dict[str, str], pairs: list[tuple[str, str]], timeout: float = 600.0
) -> dict[tuple[str, str], Rel]:
    """For each pair (a, b) of named heads, both ways: :class:`Rel` (a's commits b lacks, b's a lacks, merges among
    the first)."""
    out: dict[tuple[str, str], Rel] = {}
    for a, b in pairs:
        if (a, b) in out:
            continue
        left, right = run(path, "rev-list", "--left-right", "--count", f"{heads[a]}...{heads[b]}",
                          timeout=timeout).split()  # fmt: skip
        # the merges on each side: one more walk over the same commits (--left-right counts them together)
        sides = run(path, "rev-list", "--merges", "--left-right", f"{heads[a]}...{heads[b]}", timeout=timeout)
        lm = sum(1 for ln in sides.splitlines() if ln.startswith("<"))
        rm = sum(1 for ln in sides.splitlines() if ln.startswith(">"))
        out[(a, b)], out[(b, a)] = Rel(int(left), int(right), lm), Rel(int(right), int(left), rm)
    return out


SIZE_RECORD = "forkwise-size"
"""A mirror's bytes on disk as last counted; :meth:`Mirror.changed` removes it whenever git writes there."""


def disk_usage(path: Path) -> int:
    """Bytes on disk under ``path`` (blocks, as ``du`` counts them), the size record aside."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            if name == SIZE_RECORD:
                continue
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:  # a concurrent run's temporary file
                continue
    return total


def mirror_sizes(root: Path) -> list[tuple[Path, int, float]]:
    """Every mirror under ``root``: (path, bytes on disk, last used), least recently used first. A mirror's
    size is counted once and recorded in it until git next writes there: a run that fetched nothing walks no
    mirror's files (3,400 of them took a quarter of a warm run's own time)."""
    out = []
    for path in root.glob("*.git"):
        if not path.is_dir():
            continue
        record = path / SIZE_RECORD
        try:
            size = int(record.read_text())
        except (FileNotFoundError, ValueError):
            size = disk_usage(path)
            record.write_text(str(size))
        used = path / "forkwise-used"
        out.append((path, size, (used if used.exists() else path).stat().st_mtime))
    return sorted(out, key=lambda t: t[2])


def enforce_budget(root: Path, budget: int, keep: Path, on_evict: Callable[[Path], None] | None = None) -> list[Path]:
    """Delete the least recently used mirrors (never ``keep``, never one a run holds locked) until the mirrors
    under ``root`` fit in ``budget`` bytes; returns the deleted paths."""
    mirrors = mirror_sizes(root)
    total = sum(size for _p, size, _u in mirrors)
    evicted: list[Path] = []
    for path, size, _used in mirrors:
        if total <= budget:
            break
        if path == keep:
            continue
        with open(path.with_suffix(".lock"), "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a run is using it
            try:
                shutil.rmtree(path)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        total -= size
        evicted.append(path)
        if on_evict is not None:
            on_evict(path)
    return evicted
