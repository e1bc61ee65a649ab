"""What the vector index holds of a stored report: its forks' and upstream's chunks synced into the upstream's
collection (:func:`sync_vectors`, skipped when the :class:`VectorLedger` says nothing changed) and retrieval scoped
to one fork (:func:`retriever`). The runs themselves are :mod:`forkwise.service.runs.store`'s."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from forkwise.index.mirror import mirror_path
from forkwise.index.vector import (
    CHUNKS_VERSION,
    Material,
    VectorIndex,
    Vectors,
    VectorStats,
    collection_name,
    flag,
    fork_chunks,
    upstream_chunks,
)
from forkwise.service.runs.litestore import meta_get, meta_put, upstream_url
from forkwise.service.settings import Settings
from forkwise.service.verdicts.models import Report

if TYPE_CHECKING:
    from langchain_core.documents import Document


def sync_vectors(
    report: Report,
    settings: Settings,
    vindex: VectorIndex | None = None,
    material: dict[str, Material] | None = None,
    vectors: Vectors | None = None,
) -> VectorStats:
    """Chunks for every analysed fork whose head changed since it was last indexed, plus upstream's.

    ``material``: each fork's commit messages and diff excerpts, read from the mirror of the worker that fetched
    it (a fanned-out job); otherwise they are read from this machine's mirror. ``vectors``: those workers'
    embeddings of them (chunks found there are not embedded again)."""
    mirror = mirror_path(settings.mirrors_dir, report.upstream.name, upstream_url(report))
    mirror_dir = mirror if mirror.exists() else None
    wanted = {"@upstream": upstream_chunks_for(report, mirror_dir)}
    ledger = VectorLedger.of(settings, report, wanted["@upstream"]) if vindex is None else None
    if ledger is not None and (chunks := ledger.unchanged()) is not None:
        # nothing to embed, keep or delete: the vector stack (chromadb, LangChain, onnxruntime) is not even loaded
        return VectorStats(chunks=chunks, forks_unchanged=ledger.forks)
    vindex = vindex or VectorIndex(settings, report.upstream.name)
    indexed = vindex.heads()
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
            purpose_cite=f.verdict.purpose_cite,
            purpose_evidence=next(iter(f.verdict.purpose_evidence), ""),
            material=(material or {}).get(f.name),
        )
        stats_forks.append(f.name)
    stats = vindex.sync(wanted, keep=keep, vectors=vectors)
    stats.forks_indexed, stats.forks_unchanged = stats_forks, unchanged
    if ledger is not None:
        ledger.record(stats.chunks)
    return stats


class VectorLedger:
    """What the embedded vector index of one upstream was last synced to, kept in the store's ``meta`` table.

    A run whose forks (by head), upstream chunks, chunking version and embedding model all match, and whose Chroma
    files nobody has written since (their size and modification time are part of the record), has nothing to sync:
    it skips loading the vector stack. Only for the embedded index: a Chroma server has other writers, so every run
    asks it."""

    def __init__(self, settings: Settings, key: str, fingerprint: str, forks: list[str]):
        self.settings, self.key, self.fingerprint, self.forks = settings, key, fingerprint, forks

    @classmethod
    def of(cls, settings: Settings, report: Report, upstream_chunks: list) -> VectorLedger | None:
        if settings.chroma_url:
            return None
        emb = "minilm-int8" if settings.embeddings == "local" else f"{settings.embeddings}:{settings.embeddings_model}"
        forks = sorted(f.name for f in report.forks if f.facts is not None and f.verdict is not None)
        heads = {f.name: f.facts.head for f in report.forks if f.facts is not None and f.verdict is not None}
        name = collection_name(report.upstream.name, emb)
        body = json.dumps([CHUNKS_VERSION, emb, name, heads, sorted(c.id for c in upstream_chunks)], sort_keys=True)
        return cls(settings, f"vector:{name}", hashlib.sha256(body.encode()).hexdigest(), forks)

    def _files(self) -> str:
        db = self.settings.chroma_dir / "chroma.sqlite3"
        try:
            st = db.stat()
        except OSError:
            return "absent"
        wal = db.with_name(db.name + "-wal")
        wal_st = wal.stat() if wal.exists() else None
        return f"{st.st_size}:{st.st_mtime_ns}:{wal_st.st_size if wal_st else 0}:{wal_st.st_mtime_ns if wal_st else 0}"

    def unchanged(self) -> int | None:
        """The collection's chunk count when nothing changed since the last sync, else None."""
        value = meta_get(self.settings, self.key)
        if value is None:
            return None
        try:
            rec = json.loads(value)
        except ValueError:
            return None
        if rec.get("fingerprint") != self.fingerprint or rec.get("files") != self._files():
            return None
        return int(rec.get("chunks", 0))

    def record(self, chunks: int) -> None:
        value = json.dumps({"fingerprint": self.fingerprint, "files": self._files(), "chunks": chunks})
        meta_put(self.settings, self.key, value)


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


def retriever(settings: Settings, upstream: str, vindex: VectorIndex | None = None):
    """``retrieve(fork, query, k)`` scoped by the fork's metadata flag (for the verdict chain)."""
    vindex = vindex or VectorIndex(settings, upstream)

    def retrieve(fork: str, query: str, k: int) -> list[Document]:
        # Chroma's where clause matches any metadata value (ours are booleans); langchain-chroma annotates str
        return vindex.store.similarity_search(query, k=k, filter={flag(fork): True})  # type: ignore[dict-item]

    return retrieve
