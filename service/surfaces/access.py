"""Who may start work: index jobs, the web page's add box, chat answered by a configured model.

Reading (reports, verdicts, retrieval-only chat) stays open. Starting work needs ``FORKWISE_API_KEY`` when one
is set (``Authorization: Bearer <key>`` or ``X-API-Key``; the web form's key field). A server that listens on a
non-loopback address *without* a key refuses to start work at all (403) and says so when it starts: a key is
the operator's explicit decision to let others spend this machine's time and model tokens.

Behind a reverse proxy (``FORKWISE_TRUSTED_PROXIES``) the server counts as reachable by others wherever it listens:
the proxy's loopback address says nothing about who is asking.

Slack requests are authenticated by Slack's signature (``SLACK_SIGNING_SECRET``), which Bolt checks before any
listener runs; who may start jobs from Slack is ``FORKWISE_SLACK_ALLOWED`` (``service/surfaces/slack.py``).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Header, HTTPException

from forkwise.service.settings import Settings


def is_loopback(host: str) -> bool:
    """``host`` (what the server binds to) is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost: assume others can reach it


class Access:
    def __init__(self, settings: Settings, host: str = "127.0.0.1"):
        self.key = settings.api_key or None
        self.host = host
        self.proxied = bool(settings.proxies)

    @property
    def disabled(self) -> str | None:
        """Why starting work is off on this server (listening beyond loopback with no key), else None."""
        if self.key is None and self.proxied:
            return (
                "starting work is disabled: this server is behind a reverse proxy (FORKWISE_TRUSTED_PROXIES) without "
                "FORKWISE_API_KEY (set one to allow index jobs and model answers; reading stays open)"
            )
        if self.key is None and not is_loopback(self.host):
            return (
                f"starting work is disabled: this server listens on {self.host} without FORKWISE_API_KEY "
                "(set one to allow index jobs and model answers; reading stays open)"
            )
        return None

    def allowed(self, given: str | None) -> bool:
        if self.disabled:
            return False
        if self.key is None:
            return True
        return bool(given) and hmac.compare_digest(str(given).encode(), self.key.encode())

    def check(self, given: str | None) -> None:
        """Raise 403 (work disabled) or 401 (missing or wrong key) unless ``given`` may start work."""
        if self.disabled:
            raise HTTPException(403, self.disabled)
        if not self.allowed(given):
            raise HTTPException(401, "missing or wrong API key (Authorization: Bearer <key> or X-API-Key)")


async def given_key(
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str | None:
    """The key a caller sent, if any (FastAPI dependency; async: nothing in it blocks)."""
    if x_api_key:
        return x_api_key
    if authorization and authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ").strip() or None
    return None
