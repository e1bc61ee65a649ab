"""The store: SQLAlchemy 2 over SQLite (the default, a WAL database under ``FORKWISE_HOME``) or PostgreSQL
(``FORKWISE_DATABASE_URL``), its schema kept by Alembic migrations (``service/migrations``).

Rows: one per upstream (tracked for refresh), one per run (each summarize; kept, so history can be compared), one
per fork of a run (facts, verdict, status, head), one per job (status, stage progress, errors) and one per chunk
of a job fanned out over workers; a facts cache any worker can reuse (keyed by what the facts were computed from).
The report of a run is kept whole as its JSON export, so ``summarize --format json`` and the API's report are
one schema.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from forkwise.service.runs.litestore import HEAD_REVISION, JSON_IMPORT_MARKER
from forkwise.service.settings import Settings

MIGRATION_LOCK = 0x666F726B  # the PostgreSQL advisory lock migrations hold ("fork")


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class UpstreamRow(Base):
    __tablename__ = "upstreams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    url: Mapped[str] = mapped_column(Text)
    tracked: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upstream_id: Mapped[int] = mapped_column(ForeignKey("upstreams.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    as_of: Mapped[datetime]
    upstream_head: Mapped[str] = mapped_column(String(64))
    writer: Mapped[str] = mapped_column(String(40), default="facts")
    report: Mapped[str] = mapped_column(Text)


class ForkRow(Base):
    __tablename__ = "forks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    head: Mapped[str | None] = mapped_column(String(64), nullable=True)
    archetype: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recommendation: Mapped[str | None] = mapped_column(String(40), nullable=True)
    ahead: Mapped[int | None] = mapped_column(Integer, nullable=True)
    behind: Mapped[int | None] = mapped_column(Integer, nullable=True)
    facts: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    upstream: Mapped[str] = mapped_column(String(300), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    stage: Mapped[str | None] = mapped_column(String(40), nullable=True)
    stages: Mapped[dict[str, Any]] = mapped_column(default=dict)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    spec: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    plan: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    report_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ChunkRow(Base):
    __tablename__ = "chunks"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    forks: Mapped[list[Any]] = mapped_column(default=list)
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sent_to: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """The queue the chunk was last sent to: the shared one, or a worker home's (whose mirror holds the upstream)."""
    home: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """The home queue of the worker that analysed it: that home's mirror now holds the upstream and these forks."""


class FactsCacheRow(Base):
    __tablename__ = "facts_cache"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(64))
    prefiltered: Mapped[bool] = mapped_column(Boolean, default=False)
    facts: Mapped[dict[str, Any]]


class EtagRow(Base):
    """A forge response kept for conditional requests: URL (by its SHA-256), ETag, body, next page."""

    __tablename__ = "http_etags"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(Text)
    body: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    next_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    stored_at: Mapped[datetime] = mapped_column(default=now)


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def database_url(settings: Settings) -> str:
    """``FORKWISE_DATABASE_URL`` (``postgresql://`` means the psycopg 3 driver), else SQLite in the home."""
    url = settings.database_url
    if not url:
        return f"sqlite:///{settings.sqlite_path}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_engines: dict[str, tuple[Engine, sessionmaker[Session]]] = {}
_engines_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer; several processes may share it
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def sessions(settings: Settings) -> sessionmaker[Session]:
    """The session factory for the configured database, migrated to the newest schema on first use."""
    url = database_url(settings)
    with _engines_lock:
        hit = _engines.get(url)
        if hit is None:
            if url.startswith("sqlite"):
                settings.home.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
            migrate(engine, settings)
            hit = (engine, sessionmaker(engine, expire_on_commit=False))
            _engines[url] = hit
            import_json_reports(settings, hit[1])
    return hit[1]


def engine_of(settings: Settings) -> Engine:
    """The configured database's engine (migrated), for the few hot reads that skip the ORM."""
    bind = sessions(settings).kw["bind"]
    assert isinstance(bind, Engine)
    return bind


@contextmanager
def session(settings: Settings) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    with sessions(settings).begin() as s:
        yield s


def dispose_all() -> None:
    """Close every pooled connection (tests that drop a database; a worker child after fork)."""
    with _engines_lock:
        for engine, _ in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def _migration_lock(engine: Engine, settings: Settings) -> Iterator[None]:
    """Several processes may start at once: one migrates, the others wait (a file lock beside a SQLite file,
    an advisory lock on PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                conn.commit()
        return
    db_file = Path(engine.url.database or settings.sqlite_path)
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with open(db_file.with_name(db_file.name + ".migrate-lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("forkwise.service.runs") / "migrations"))
    return cfg


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None: not created yet)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def migrate(engine: Engine, settings: Settings) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there: Alembic itself is loaded only
    when there is something to do)."""
    if schema_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    cfg = alembic_config()
    with _migration_lock(engine, settings), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def import_json_reports(settings: Settings, factory: sessionmaker[Session]) -> int:
    """Reports an older forkwise kept as JSON files under ``FORKWISE_HOME/reports`` become runs, once.

    One transaction: the marker and every imported run commit together (a crash imports nothing and the next
    start tries again); two processes starting at once race on the marker's key, and the loser imports nothing."""
    from sqlalchemy.exc import IntegrityError

    from forkwise.service.runs.store import add_run
    from forkwise.service.verdicts.models import Report

    n = 0
    try:
        with factory.begin() as s:
            if s.get(MetaRow, JSON_IMPORT_MARKER) is not None:
                return 0
            s.add(MetaRow(key=JSON_IMPORT_MARKER, value=now().isoformat()))
            s.flush()  # takes the key (and SQLite's write lock) before anything is read
            for path in sorted(settings.reports_dir.glob("*/*.json")):
                try:
                    report = Report.model_validate_json(path.read_bytes())
                except (OSError, ValueError):
                    continue
                if s.query(UpstreamRow).filter_by(name=report.upstream.name).first() is None:
                    add_run(s, report)
                    n += 1
    except IntegrityError:
        return 0
    return n
