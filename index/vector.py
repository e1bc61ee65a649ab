"""The vector index: fork facts, commits, diff excerpts and READMEs as chunks in chromadb (via ``langchain-chroma``).

* One collection per upstream. A chunk's ID is a hash of its kind and text, so forks that share a commit share
  its chunk, and indexing the same report twice writes nothing.
* Every chunk carries ``upstream``, ``kind``, ``path``, ``sha``, ``date``, the ``evidence`` ID it supports
  (``commit:…``, ``file:…``, ``readme:…``, ``fact:…``) and one boolean key per fork that carries it
  (``fork:<name>``), so retrieval can be scoped to one fork with a metadata filter.
* Re-indexing: a fork whose head is unchanged keeps its chunks and costs nothing; a changed fork's chunks are
  rebuilt; chunks no fork (or upstream) carries any more are deleted.
* ``PersistentClient`` under ``FORKWISE_HOME/chroma`` by default; ``FORKWISE_CHROMA_URL`` switches to an
  ``HttpClient`` against a ``chroma run`` server (the only safe choice when several processes write).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from forkwise.index import readme as readme_mod
from forkwise.index.gitio import GitError, run
from forkwise.index.models import ForkFacts, UpstreamFacts
from forkwise.index.once import once
from forkwise.index.settings import IndexSettings
from forkwise.index.terms import tokens

if TYPE_CHECKING:  # chromadb, LangChain and the embedding model load when an index is opened, not on import
    from langchain_core.embeddings import Embeddings

    from forkwise.index.embeddings import Pool

UPSTREAM_FLAG = "fork:@upstream"
CHUNKS_VERSION = "3"  # 3: the purpose card quotes what the fork says about itself
"""Bumped when what a fork's chunks hold changes: forks indexed by an older version are indexed again."""
DIFF_FILES = 12
DIFF_LINES = 40
COMMIT_DOCS = 40


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be loaded (not installed, or its files fail their sha256)."""


class Chunk(BaseModel):
    id: str
    text: str
    metadata: dict[str, str | int | float | bool]


class VectorStats(BaseModel):
    chunks: int = 0
    embedded: int = 0
    reused: int = Field(default=0, description="New chunks whose vectors the workers that read them computed.")
    deleted: int = 0
    forks_indexed: list[str] = Field(default_factory=list)
    forks_unchanged: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the index could not be updated (the report was saved).")


def flag(fork: str) -> str:
    return f"fork:{fork}"


def collection_name(upstream: str, embedding_id: str = "minilm-int8") -> str:
    key = upstream if embedding_id == "minilm-int8" else f"{upstream}\0{embedding_id}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() else "-" for c in upstream)[:40].strip("-")
    return f"fw-{safe}-{digest}"


def _chunk(kind: str, text: str, meta: dict[str, Any]) -> Chunk:
    cid = hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()[:32]
    clean = {k: v for k, v in meta.items() if v is not None}
    return Chunk(id=cid, text=text, metadata={"kind": kind, **clean})


def _git(mirror: Path, *args: str, timeout: float = 120.0) -> str:
    try:
        return run(mirror, *args, timeout=timeout)
    except GitError:
        return ""


def _excerpt(diff: str, max_lines: int = DIFF_LINES) -> str:
    """The hunks of a one-file diff, capped: headers dropped, changed lines and their context kept."""
    lines = [ln for ln in diff.splitlines() if not ln.startswith(("diff --git", "index ", "--- ", "+++ "))]
    out = lines[:max_lines]
    if len(lines) > max_lines:
        out.append(f"… ({len(lines) - max_lines} more diff lines)")
    return "\n".join(out)


def _carries(text: str, terms: set[str]) -> int:
    """How many of the fork's distinctive terms ``text`` carries."""
    return len(terms & set(tokens(text)))


class DiffExcerpt(BaseModel):
    path: str
    added: int
    deleted: int
    excerpt: str


class Material(BaseModel):
    """What a fork's chunks need from the mirror: its own commits' messages and diff excerpts of the files it
    changed. Read where the fork was fetched, so a worker that assembles a fanned-out run needs no objects."""

    bodies: dict[str, str] = Field(default_factory=dict)
    diffs: list[DiffExcerpt] = Field(default_factory=list)


def read_material(facts: ForkFacts, mirror: Path) -> Material:
    """Commit messages of the fork's own commits and excerpts of its largest / most distinctive diffs."""
    out = Material()
    own = [c for c in facts.own_commits if not c.upstream_equivalent and not c.is_merge][:COMMIT_DOCS]
    if own:
        raw = _git(mirror, "show", "-s", "--format=%H%x00%B%x01", *[c.sha for c in own])
        for rec in raw.split("\x01"):
            sha, _, body = rec.strip("\n").partition("\x00")
            if sha:
                out.bodies[sha] = body.strip()
    if facts.merge_base and facts.files:
        distinct = {t.term for t in facts.terms[:8]}
        text_files = [f for f in facts.files if not f.binary and f.status != "deleted" and not f.copied]
        named = {e.removeprefix("file:") for t in facts.terms[:8] for e in t.evidence if e.startswith("file:")}
        text_files.sort(
            key=lambda f: (-(f.path in named), -_carries(f.path, distinct), -((f.added or 0) + (f.deleted or 0)))
        )
        for f in text_files[:DIFF_FILES]:
            diff = _git(mirror, "diff", "--no-color", "--unified=2", facts.merge_base, facts.head, "--", f.path)
            if diff.strip():
                out.diffs.append(
                    DiffExcerpt(path=f.path, added=f.added or 0, deleted=f.deleted or 0, excerpt=_excerpt(diff))
                )
    return out


def fork_chunks(
    name: str,
    facts: ForkFacts,
    mirror: Path | None,
    *,
    summary: str = "",
    terms: str = "",
    purpose: str = "",
    purpose_cite: str = "",
    purpose_evidence: str = "",
    material: Material | None = None,
) -> list[Chunk]:
    """Chunks for one fork: a facts card, a "what it is for" card, its own commits (never merges or commits
    upstream has), diff excerpts of the files it changed (its own versions only; those carrying its distinctive
    terms first, then the largest), README sections."""
    base = {"date": facts.last_commit_date.isoformat()}
    card = (
        f"Fork {name}: {facts.ahead} commits ahead of upstream and {facts.behind} behind; "
        f"last commit {facts.last_commit_date.date().isoformat()}; {len(facts.files)} files changed. "
        + (f"What it is about: {terms}. " if terms else "")
        + summary
    )
    head_meta = {"fork": name, "head": facts.head, "sha": facts.head, "chunks": CHUNKS_VERSION}
    out = [_chunk("card", card, {**base, **head_meta, "evidence": "fact:ahead"})]
    if purpose or facts.terms:
        words = ", ".join(dict.fromkeys(t.display or t.term for t in facts.terms[:8]))
        where = ", ".join(dict.fromkeys(w for t in facts.terms[:3] for w in t.where))
        said = f"Fork {name} is for {purpose}" + (f" ({purpose_cite})" if purpose_cite else "") if purpose else ""
        text = (
            (said or f"Fork {name} changes upstream")
            + f". Distinctive terms: {words}."
            + (f" Where: {where}." if where else "")
        )
        ev = purpose_evidence or next((e for t in facts.terms[:1] for e in t.evidence), "fact:ahead")
        out.append(_chunk("purpose", text, {**base, "fork": name, "sha": facts.head, "evidence": ev}))
    if material is None and mirror is not None:
        material = read_material(facts, mirror)
    out += material_chunks(facts, material or Material())
    for s in facts.readme.sections:
        text = f"README section '{s.heading}' ({s.change}):\n{s.excerpt}"
        out.append(
            _chunk("readme", text, {**base, "path": facts.readme.path or "README", "evidence": f"readme:{s.heading}"})
        )
    return out


def material_chunks(facts: ForkFacts, material: Material) -> list[Chunk]:
    """The chunks of a fork read from its commits and diffs (its own commits' messages, diff excerpts): what a
    worker that fetched the fork can embed before the fork's verdict exists (:func:`fork_chunks` has the rest)."""
    base = {"date": facts.last_commit_date.isoformat()}
    out = []
    own = [c for c in facts.own_commits if not c.upstream_equivalent and not c.is_merge][:COMMIT_DOCS]
    for c in own:
        body = material.bodies.get(c.sha, c.subject)
        files = ", ".join(c.files[:15])
        text = f"Commit {c.sha[:12]}: {body}\nFiles: {files}"
        out.append(
            _chunk(
                "commit",
                text,
                {**base, "sha": c.sha, "date": c.date.isoformat(), "evidence": f"commit:{c.sha}", "path": files[:200]},
            )
        )
    for d in material.diffs:
        text = f"Diff of {d.path} (+{d.added} -{d.deleted}):\n{d.excerpt}"
        out.append(_chunk("diff", text, {**base, "sha": facts.head, "path": d.path, "evidence": f"file:{d.path}"}))
    return out


class Vectors(BaseModel):
    """Embeddings computed ahead (by the worker that read the chunks), for the machine that writes the index:
    chunk id → little-endian float32 vector in base64, and the model that made them (used only by an index of
    the same model)."""

    model: str
    by_id: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, model: str, ids: list[str], vecs: list[list[float]]) -> Vectors:
        return cls(model=model, by_id={i: _b64(v) for i, v in zip(ids, vecs, strict=True)})

    def get(self, cid: str) -> list[float] | None:
        raw = self.by_id.get(cid)
        if raw is None:
            return None
        import numpy as np

        return [float(x) for x in np.frombuffer(base64.b64decode(raw), dtype="<f4")]

    def merged(self, other: Vectors | None) -> Vectors:
        if other is None or other.model != self.model:
            return self
        return Vectors(model=self.model, by_id={**self.by_id, **other.by_id})


def _b64(vec: list[float]) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode()


def embed_chunks(settings: IndexSettings, chunks: list[Chunk]) -> Vectors:
    """``chunks`` embedded by the configured model here, in the indexing pool."""
    from forkwise.index.embeddings import embeddings_for

    embeddings, model = embeddings_for(settings, "index")
    unique = list({c.id: c for c in chunks}.values())
    return Vectors.of(model, [c.id for c in unique], embeddings.embed_documents([c.text for c in unique]))


def upstream_chunks(up: UpstreamFacts, summary: str, mirror: Path | None = None) -> list[Chunk]:
    """Upstream's summary and its README, one chunk per section (read from the mirror at upstream's head)."""
    base = {"fork": up.name, "date": up.last_commit_date.isoformat(), "sha": up.head}
    out = [_chunk("upstream-summary", f"Upstream {up.name}: {summary}", {**base, "evidence": "fact:upstream"})]
    title = up.readme_title or up.name
    path, text = None, None
    if mirror is not None:
        files = run(mirror, "ls-tree", "--name-only", up.head).splitlines()
        path, text = readme_mod.read_at(mirror, up.head, files)
    if text:
        for heading, body in readme_mod.sections(text).items():
            if not body.strip():
                continue
            out.append(
                _chunk(
                    "upstream-readme",
                    f"{title}, README section '{heading}':\n{body[:1200]}",
                    {**base, "path": path, "evidence": f"readme:{heading}"},
                )
            )
    elif up.readme_lead:
        out.append(_chunk("upstream-readme", f"{title}: {up.readme_lead}", {**base, "evidence": "readme:upstream"}))
    return out


@once
def _http_client(url: str) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    u = urlparse(url)
    return chromadb.HttpClient(
        host=u.hostname or "127.0.0.1",
        port=u.port or (443 if u.scheme == "https" else 8000),
        ssl=u.scheme == "https",
        settings=ChromaSettings(anonymized_telemetry=False),
    )


@once
def _persistent_client(path: str) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=path, settings=ChromaSettings(anonymized_telemetry=False))


def chroma_client(settings: IndexSettings) -> Any:
    if settings.chroma_url:
        return _http_client(settings.chroma_url)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return _persistent_client(str(settings.chroma_dir))


_lock = threading.Lock()


class VectorIndex:
    """One upstream's chunks. ``store`` is the LangChain vector store the retrieval chain uses."""

    def __init__(
        self,
        settings: IndexSettings,
        upstream: str,
        embeddings: Embeddings | None = None,
        embedding_id: str | None = None,
        pool: Pool = "index",
    ):
        """``embeddings``/``embedding_id``: another embedding model (its own collection); default the configured one,
        in ``pool`` (chat opens its indexes in the ``query`` pool: it never waits on an indexing batch)."""
        from langchain_chroma import Chroma

        from forkwise.index.embeddings import embeddings_for

        self.upstream = upstream
        if embeddings is not None:
            self.embeddings, emb_id = embeddings, embedding_id or "minilm-int8"
        else:
            self.embeddings, emb_id = embeddings_for(settings, pool)
        self.client = chroma_client(settings)
        self.embedding_id = emb_id
        self.name = collection_name(upstream, emb_id)
        # one build thread and a wide search: the same chunks give the same graph and the same answers
        meta = {
            "hnsw:space": "cosine",
            "hnsw:search_ef": 100,
            "hnsw:num_threads": 1,
            "upstream": upstream,
            "embeddings": emb_id,
        }
        # our own handle on the collection (writes, counts); the LangChain store over it serves retrieval
        self.collection = self.client.get_or_create_collection(self.name, metadata=meta)
        self.store = Chroma(
            client=self.client,
            collection_name=self.name,
            embedding_function=self.embeddings,
            collection_metadata=meta,
        )

    def _existing(self) -> dict[str, dict[str, Any]]:
        got = self.collection.get(include=["metadatas"])
        return {i: (m or {}) for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)}

    def heads(self) -> dict[str, str]:
        """Fork → the head its chunks were built from (from the facts cards)."""
        got = self.collection.get(where={"kind": "card"}, include=["metadatas"])
        return {
            str(m["fork"]): str(m.get("head", ""))
            for m in got["metadatas"] or []
            if m and str(m.get("chunks", "1")) == CHUNKS_VERSION  # chunked by an older forkwise: index again
        }

    def sync(
        self, wanted: dict[str, list[Chunk]], keep: Iterable[str] = (), vectors: Vectors | None = None
    ) -> VectorStats:
        """Make the collection hold exactly ``wanted`` (owner → chunks) plus the chunks of the owners in ``keep``.

        Owners are fork names (or ``@upstream``). Only chunks not already stored are embedded, and of those only
        the ones ``vectors`` (computed elsewhere by the same model) does not have.
        """
        ready = vectors if vectors is not None and vectors.model == self.embedding_id else None
        with _lock:
            existing = self._existing()
            keep = set(keep)
            owners_of: dict[str, set[str]] = {}
            for cid, meta in existing.items():
                kept = {k.removeprefix("fork:") for k, v in meta.items() if k.startswith("fork:") and v is True}
                owners_of[cid] = kept & keep
            texts: dict[str, Chunk] = {}
            for owner, chunks in wanted.items():
                for ch in chunks:
                    owners_of.setdefault(ch.id, set()).add(owner)
                    texts.setdefault(ch.id, ch)
            stats = VectorStats()
            new_ids = [cid for cid in texts if cid not in existing]
            # a fork's card (which records the head its chunks came from) is written last: a run killed midway
            # leaves no card claiming chunks that are not there, so the next run indexes that fork again
            cards = [c for c in new_ids if texts[c].metadata.get("kind") == "card"]
            reused = self._add([c for c in new_ids if texts[c].metadata.get("kind") != "card"], texts, owners_of, ready)
            changed = []
            for cid, meta in existing.items():
                owners = owners_of.get(cid, set())
                if not owners:
                    continue
                base = texts.get(cid)
                new_meta = self._with_upstream(self._meta(base, owners, meta))
                if new_meta != meta:
                    changed.append((cid, new_meta))
            if changed:
                self.collection.update(ids=[c for c, _ in changed], metadatas=[m for _, m in changed])
            reused += self._add(cards, texts, owners_of, ready)
            stats.embedded, stats.reused = len(new_ids) - reused, reused
            gone = [cid for cid in existing if not owners_of.get(cid)]
            if gone:
                self.collection.delete(ids=gone)
            stats.deleted = len(gone)
            stats.chunks = self.collection.count()
            return stats

    def _add(
        self, ids: list[str], texts: dict[str, Chunk], owners_of: dict[str, set[str]], ready: Vectors | None = None
    ) -> int:
        """Store the chunks ``ids``, embedding those ``ready`` lacks; how many came ready."""
        if not ids:
            return 0
        docs = [texts[c].text for c in ids]
        known = {c: v for c in ids if ready is not None and (v := ready.get(c)) is not None}
        todo = [c for c in ids if c not in known]
        fresh = self.embeddings.embed_documents([texts[c].text for c in todo]) if todo else []
        made = dict(zip(todo, fresh, strict=True))
        vecs = [known[c] if c in known else made[c] for c in ids]
        metas = [self._with_upstream(self._meta(texts[c], owners_of[c], {})) for c in ids]
        for start in range(0, len(ids), 500):
            sl = slice(start, start + 500)
            self.collection.upsert(ids=ids[sl], embeddings=vecs[sl], documents=docs[sl], metadatas=metas[sl])
        return len(known)

    @staticmethod
    def _meta(chunk: Chunk | None, owners: set[str], old: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (chunk.metadata if chunk else old).items() if not k.startswith("fork:")}
        if chunk is None:
            meta = {k: v for k, v in old.items() if not k.startswith("fork:")}
        # flags that no longer hold are set False (chroma merges metadata on update)
        for k, v in old.items():
            if k.startswith("fork:") and v is True:
                meta[k] = False
        for o in owners:
            meta[flag(o)] = True
        return meta

    def _with_upstream(self, meta: dict[str, Any]) -> dict[str, Any]:
        return {**meta, "upstream": self.upstream}

    def count(self) -> int:
        return int(self.collection.count())
