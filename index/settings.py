"""One typed settings object, built once and injected (``get_settings``); tests build their own."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "forkwise"


class WriterName(StrEnum):
    """Who writes verdicts and chat answers: the deterministic writer, or a model that only phrases and selects."""

    facts = "facts"
    openai = "openai"
    local = "local"


DEFAULT_MAX_FORKS = 100
"""Forks analysed in depth when they were discovered on a forge and no cap was given."""


class Settings(BaseSettings):
    """Configuration, read from ``FORKWISE_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FORKWISE_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Data dir: mirrors, caches, reports.")
    github_url: str = Field(
        default="https://github.com", description="Base URL used to turn owner/name into a clone URL."
    )
    workers: int = Field(default=0, ge=0, description="Concurrent forks; 0 means one per CPU core.")
    blobless: bool = Field(
        default=True, description="Try a blobless partial fetch for network remotes (never shallow)."
    )
    git_timeout: float = Field(default=600.0, gt=0, description="Seconds before one git command is killed.")
    osv_url: str | None = Field(
        default=None, description="OSV API for security advisories (https://api.osv.dev); unset: not consulted."
    )
    github_max_wait: float = Field(
        default=300.0, ge=0, description="Seconds to wait for a GitHub rate-limit reset before stopping (0: never)."
    )
    max_fork_mb: float = Field(
        default=500.0, ge=0, description="MiB of objects one fork may bring beyond upstream's (0: no limit)."
    )
    mirror_budget_gb: float = Field(
        default=20.0, ge=0, description="GiB all mirrors may use; least recently used go first (0: no limit)."
    )
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
    chroma_url: str | None = Field(
        default=None, description="Chroma server (`chroma run`) URL; unset = embedded PersistentClient in home."
    )
    embeddings: Literal["local", "openai"] = Field(
        default="local", description="local (MiniLM int8 ONNX) or openai (an OpenAI-compatible endpoint)."
    )
    embeddings_model: str = Field(default="text-embedding-3-small", description="Model for openai embeddings.")
    embeddings_url: str | None = Field(
        default=None, description="Embeddings endpoint base URL (default OPENAI_BASE_URL)."
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FORKWISE_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible server for the openai writer and embeddings (default: OpenAI).",
    )
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FORKWISE_OPENAI_API_KEY", "OPENAI_API_KEY"),
        repr=False,
        description="Key for that server (local servers ignore it).",
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
    trusted_sources: str = Field(
        default="",
        description="Comma-separated URL or path prefixes remote callers may name besides owner/name on GitHub.",
    )
    llm: WriterName = Field(
        default=WriterName.facts, description="Writer for verdicts and chat: facts, openai or local."
    )
    model_path: Path | None = Field(default=None, description="GGUF for the local writer (default: the bundled one).")
    openai_model: str = Field(default="gpt-4o-mini", description="Model name for the openai writer.")
    openai_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for one model answer.")
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
    merge_facts: bool = Field(
        default=True,
        description="Merge each fork with work of its own onto upstream in memory and replay its commits (the port "
        "plan); cached with the facts, so only changed heads cost anything.",
    )
    resolve_workers: int = Field(default=16, ge=1, description="Concurrent `git ls-remote` calls (network-bound).")
    github_api_url: str = Field(
        default="https://api.github.com", description="GitHub REST base URL (GitHub Enterprise: https://HOST/api/v3)."
    )
    github_token: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FORKWISE_GITHUB_TOKEN", "GITHUB_TOKEN"),
        description="Token for the GitHub API (5,000 requests/h instead of 60).",
        repr=False,
    )

    @property
    def mirrors_dir(self) -> Path:
        return self.home / "mirrors"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def http_cache_dir(self) -> Path:
        return self.home / "http"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def proxies(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    @property
    def trusted_prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.trusted_sources.split(",") if p.strip())

    def worker_count(self) -> int:
        return self.workers or max(2, os.cpu_count() or 2)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
