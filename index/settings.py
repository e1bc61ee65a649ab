"""The settings of what reads git and forges (``FORKWISE_*``): where data lives, how git and the forges are reached,
the embeddings. The service's settings (store, queue, API, Slack, models) extend them in
:mod:`forkwise.service.settings`; index code takes this base class, so it never depends on the service."""

from __future__ import annotations

import json
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "forkwise"


def _structured(annotation: Any) -> bool:
    """Whether a field's value is written as JSON in the environment (a list, a mapping, a model)."""
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, types.UnionType):
        return any(_structured(a) for a in typing.get_args(annotation) if a is not type(None))
    return origin in (list, dict, set, frozenset, tuple) or (isinstance(origin, type) and issubclass(origin, BaseModel))


class EnvSettings(BaseModel):
    """A model whose fields are read from the environment: ``FORKWISE_<FIELD>`` (in any case), or the names a
    field's ``validation_alias`` lists (``GITHUB_TOKEN``), the first one set; a list or a mapping as JSON. Values
    given to the constructor win.

    This is what pydantic-settings' environment source did for forkwise, written here because importing
    pydantic-settings (asyncio, argparse, dotenv and every cloud provider's source with it) cost ~20 ms of every
    command, a tenth of a warm ``summarize``; forkwise reads no ``.env`` file, secret directory or CLI source."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True, validate_default=True)
    env_prefix: ClassVar[str] = "FORKWISE_"

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        env = {k.upper(): v for k, v in os.environ.items()}
        found: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            names = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else [cls.env_prefix + name]
            if name in data or any(n in data for n in names):
                continue
            var = next((n for n in names if n.upper() in env), None)
            if var is None:
                continue
            raw = env[var.upper()]
            if _structured(info.annotation):
                try:
                    found[name] = json.loads(raw)
                except ValueError as exc:
                    raise ValueError(f"{var.upper()} must be JSON ({exc})") from None
            else:
                found[name] = raw
        return {**found, **data}


def settings_problem(cls: type[EnvSettings], exc: ValidationError) -> str:
    """What is wrong with the environment, one clause per bad value, each named by its variable as the user wrote
    it (``FORKWISE_WORKERS='-1': Input should be greater than or equal to 0``)."""
    env = {k.upper(): k for k in os.environ}
    parts = []
    for e in exc.errors(include_url=False):
        field = str(e["loc"][0]) if e["loc"] else ""
        info = cls.model_fields.get(field)
        if info is None:  # the environment as a whole (a value that is not JSON): the message names its variable
            parts.append(str(e["msg"]).removeprefix("Value error, "))
            continue
        alias = info.validation_alias
        names = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else [cls.env_prefix + field]
        var = next((env[n.upper()] for n in names if n.upper() in env), names[0])
        parts.append(f"{var}={os.environ.get(var, '')!r}: {e['msg']}")
    return "; ".join(parts)


class IndexSettings(EnvSettings):
    """Configuration of the index layer, read from ``FORKWISE_*`` environment variables."""

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
    trusted_sources: str = Field(
        default="",
        description="Comma-separated URL or path prefixes remote callers may name besides owner/name on GitHub.",
    )
    openai_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for one model answer.")
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
    def trusted_prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.trusted_sources.split(",") if p.strip())

    def worker_count(self) -> int:
        return self.workers or max(2, os.cpu_count() or 2)
