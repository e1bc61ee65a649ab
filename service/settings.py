"""One typed settings object, built once and injected (``get_settings``); tests build their own.

:class:`Settings` is the index layer's :class:`~forkwise.index.settings.IndexSettings` (git, forges, mirrors,
embeddings) plus what the service needs: the store and the queue, the API's limits, Slack, the models."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field

from forkwise.index.settings import IndexSettings
from forkwise.service.options import DEFAULT_MAX_FORKS, WriterName

__all__ = ["DEFAULT_MAX_FORKS", "Settings", "WriterName", "get_settings"]


class Settings(IndexSettings):
    """Configuration, read from ``FORKWISE_*`` environment variables."""

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store (postgresql://user:pw@host/db); unset = SQLite in home (WAL).",
        repr=False,
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://host:6379/0) for `forkwise worker`; unset = jobs run in the server.",
        repr=False,
    )
    chunk_forks: int = Field(default=25, ge=1, description="Forks per chunk when a job fans out over workers.")
    lock_ttl: int = Field(
        default=900, ge=10, description="Seconds the cluster-wide upstream lock lives unless its job renews it."
    )
    broker_visibility_timeout: int = Field(
        default=3600,
        ge=5,
        description="Seconds before a task a lost worker took is given to another (Redis visibility timeout).",
    )
    task_stale: int = Field(
        default=60,
        ge=3,
        description="Seconds without a heartbeat before a worker's task is deemed lost and handed to another.",
    )
    refresh_hours: float = Field(
        default=24.0, ge=0, description="`forkwise worker --beat` re-indexes tracked upstreams this often (0: never)."
    )
    keep_runs: int = Field(
        default=30,
        ge=0,
        description="Runs (and finished jobs) kept per upstream; older ones go when a run is stored (0: keep all). "
        "The run the last digest reported is always kept.",
    )
    slack_signing_secret: str | None = Field(
        default=None, validation_alias=AliasChoices("FORKWISE_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"), repr=False
    )
    slack_bot_token: str | None = Field(
        default=None, validation_alias=AliasChoices("FORKWISE_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"), repr=False
    )
    slack_app_token: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FORKWISE_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"),
        repr=False,
        description="xapp- token for Socket Mode (development).",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        validation_alias=AliasChoices("FORKWISE_SLACK_API_URL", "SLACK_API_URL"),
        description="Slack Web API base URL.",
    )
    slack_channel: str | None = Field(default=None, description="Default channel for `forkwise digest`.")
    slack_allowed: str = Field(
        default="",
        description="Who may start index jobs from Slack: comma-separated team ids (T…), user ids (U…) or TEAM:USER "
        "pairs, or * for every signed request. Empty: the bot only reads.",
    )
    watch: list[str] = Field(default_factory=list, description="Repositories `forkwise digest` covers by default.")
    sse_heartbeat: float = Field(default=10.0, gt=0, description="Seconds between SSE keepalive comments.")
    public_url: str | None = Field(
        default=None,
        description="Where people reach this service, for absolute links (Slack, digests, API Location). "
        "Unset: `serve` uses the address it listens on; other commands leave links out.",
    )
    api_key: str | None = Field(default=None, description="Key for the API's mutating endpoints.", repr=False)
    max_jobs: int = Field(default=2, ge=1, description="Index jobs that run at once in one server.")
    job_queue: int = Field(default=8, ge=0, description="Index jobs that may wait for a slot; beyond: HTTP 429.")
    job_retry_after: int = Field(default=30, ge=1, description="Retry-After seconds when the job queue is full.")
    rate_chat: str = Field(default="60/minute", description="Chat requests per client (limits syntax).")
    rate_jobs: str = Field(default="10/hour", description="Index jobs started per client (limits syntax).")
    rate_storage: str = Field(default="memory://", description="Rate-limit counters: memory:// or redis://…")
    max_body_kb: int = Field(default=256, ge=1, description="Largest request body accepted (KiB); beyond: 413.")
    body_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a client may take to send a request body; beyond: 408."
    )
    warm_upstreams: int = Field(
        default=4,
        ge=0,
        description="Upstreams whose chat index `forkwise serve` opens and searches once before it listens (the most "
        "recently summarized first): the first questions find the vector stack, the query model and those indexes "
        "loaded. 0: load on the first question.",
    )
    serve_embeddings: bool = Field(
        default=False,
        description="Serve POST /v1/embeddings (the local MiniLM model) to other processes; off: 404. It is work: "
        "it needs the API key beyond loopback, has its own rate limit, caps and one thread of its own.",
    )
    rate_embeddings: str = Field(default="120/minute", description="Embedding requests per client (limits syntax).")
    embed_max_inputs: int = Field(default=64, ge=1, le=2048, description="Inputs one embeddings request may carry.")
    embed_max_chars: int = Field(default=8000, ge=1, description="Characters one embeddings input may have.")
    embed_queue: int = Field(default=4, ge=1, description="Embedding requests running or waiting at once; beyond: 429.")
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are believed. Set: "
        "every caller counts as remote (starting work needs FORKWISE_API_KEY). Unset: forwarded headers are ignored.",
    )
    allowed_hosts: str = Field(
        default="",
        description="Extra Host names this server answers to (comma-separated; * = any). Always: IP literals, "
        "localhost and FORKWISE_PUBLIC_URL's host; on a wildcard address also this machine's names.",
    )
    llm: WriterName = Field(
        default=WriterName.facts, description="Writer for verdicts and chat: facts, openai or local."
    )
    model_path: Path | None = Field(default=None, description="GGUF for the local writer (default: the bundled one).")
    openai_llm: str = Field(default="gpt-4o-mini", description="Model name for the openai writer.")
    llm_method: str = Field(
        default="json_mode",
        description="How the openai writer asks for JSON: json_mode, json_schema, json_object_schema or prompt.",
    )
    llm_tasks: str = Field(
        default="purpose,choose_fork_if,choose_upstream_if",
        description="What an LLM writer writes, comma-separated: purpose, choose_fork_if, choose_upstream_if, "
        "summary (narrow tasks, each checked and falling back on its own), or verdict (the whole verdict in one "
        "answer, for a stronger model; the same checks).",
    )

    @property
    def reports_dir(self) -> Path:
        """Where reports were kept as JSON files before the store (imported once)."""
        return self.home / "reports"

    @property
    def llm_dir(self) -> Path:
        """The bundled model, joined from its parts."""
        return self.home / "models"

    @property
    def digest_dir(self) -> Path:
        """What each upstream's last digest saw (``<owner>/<name>.json``)."""
        return self.home / "digest"

    @property
    def sqlite_path(self) -> Path:
        """The store when ``FORKWISE_DATABASE_URL`` is unset."""
        return self.home / "forkwise.db"

    @property
    def beat_schedule(self) -> Path:
        """Celery beat's schedule file (``forkwise worker --beat``)."""
        return self.home / "celerybeat-schedule"

    @property
    def demo_dir(self) -> Path:
        """Where ``forkwise demo`` builds its network unless told."""
        return self.home / "demo"

    @property
    def proxies(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.trusted_proxies.split(",") if p.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
