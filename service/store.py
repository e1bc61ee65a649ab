"""Where summarized reports live (one JSON per upstream under ``FORKWISE_HOME/reports``) and how they are indexed.

`forkwise summarize`, the demo and the API's index job all go through :func:`save_and_index`, so `forkwise serve`
answers for everything summarized before, from one store.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from langchain_core.documents import Document

from forkwise.index.mirror import mirror_path
from forkwise.index.names import valid_name
from forkwise.index.settings import Settings
from forkwise.index.vector import UPSTREAM_FLAG, IndexStats, VectorIndex, flag, fork_chunks, upstream_chunks
from forkwise.service.models import Report


def report_path(settings: Settings, name: str) -> Path:
    owner, _, repo = name.partition("/")
    if not repo or not valid_name(owner, repo):
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "repo"
        return settings.reports_dir / "_" / f"{safe}.json"
    return settings.reports_dir / owner / f"{repo}.json"


def save_report(report: Report, settings: Settings) -> Path:
    """Write the report atomically: a temporary file of this writer's own in the same folder, then a rename."""
    path = report_path(settings, report.upstream.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(report.model_dump_json())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_READ_CACHE = 64
_read_cache: OrderedDict[Path, tuple[tuple[int, int, int], Report]] = OrderedDict()
_read_lock = threading.Lock()


def _read(path: Path) -> Report:
    """The report stored at ``path``, parsed once per version of the file (its inode, mtime and size: reports are
    replaced by a rename, so a new version always differs). The object is shared: treat it as read-only."""
    st = path.stat()
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    with _read_lock:
        hit = _read_cache.get(path)
        if hit is not None and hit[0] == key:
            _read_cache.move_to_end(path)
            return hit[1]
    report = Report.model_validate_json(path.read_bytes())
    with _read_lock:
        _read_cache[path] = (key, report)
        while len(_read_cache) > _READ_CACHE:
            _read_cache.popitem(last=False)
    return report


def load_report(settings: Settings, name: str) -> Report | None:
    """The stored report for ``name``, or None. Shared between callers: do not modify it (copy first)."""
    path = report_path(settings, name)
    try:
        return _read(path)
    except FileNotFoundError:
        return None


def list_reports(settings: Settings) -> list[Report]:
    out = []
    for p in sorted(settings.reports_dir.glob("*/*.json")):
        try:
            out.append(_read(p))
        except (OSError, ValueError):
            continue
    return out


def index_report(report: Report, settings: Settings, vindex: VectorIndex | None = None) -> IndexStats:
    """Chunks for every analysed fork whose head changed since it was last indexed, plus upstream's."""
    vindex = vindex or VectorIndex(settings, report.upstream.name)
    mirror = mirror_path(settings.mirrors_dir, report.upstream.name, report.upstream.url)
    mirror_dir = mirror if mirror.exists() else None
    indexed = vindex.heads()
    wanted = {"@upstream": upstream_chunks_for(report, mirror_dir)}
    keep: list[str] = []
    stats_forks, unchanged = [], []
    for f in report.forks:
        if f.facts is None or f.verdict is None:
            continue
        if indexed.get(f.name) == f.facts.head:
            keep.append(f.name)
            unchanged.append(f.name)
            continue
        wanted[f.name] = fork_chunks(
            f.name,
            f.facts,
            mirror_dir,
            summary=f.verdict.summary,
            terms=", ".join(f.verdict.terms),
            purpose=f.verdict.purpose,
        )
        stats_forks.append(f.name)
    stats = vindex.sync(wanted, keep=keep)
    stats.forks_indexed, stats.forks_unchanged = stats_forks, unchanged
    return stats


def upstream_chunks_for(report: Report, mirror: Path | None = None) -> list:
    from forkwise.index.models import UpstreamFacts

    u = report.upstream
    up = UpstreamFacts.model_construct(
        name=u.name,
        head=u.head,
        last_commit_date=u.last_commit_date,
        readme_title=u.readme_title,
        readme_lead=u.readme_lead,
    )
    c = report.coverage
    summary = (
        f"{c.listed} forks listed, {c.prefiltered} snapshots, {c.analysed} analysed; last upstream commit "
        f"{u.last_commit_date.date().isoformat()}."
    )
    return upstream_chunks(up, summary, mirror)


def save_and_index(report: Report, settings: Settings, *, index: bool = True) -> IndexStats | None:
    save_report(report, settings)
    return index_report(report, settings) if index else None


def retriever(settings: Settings, upstream: str, vindex: VectorIndex | None = None):
    """``retrieve(fork, query, k)`` scoped by the fork's metadata flag (for the verdict chain)."""
    vindex = vindex or VectorIndex(settings, upstream)

    def retrieve(fork: str, query: str, k: int) -> list[Document]:
        return vindex.store.similarity_search(query, k=k, filter={flag(fork): True})

    return retrieve


__all__ = ["UPSTREAM_FLAG", "index_report", "list_reports", "load_report", "save_and_index", "save_report"]
