"""What a remote caller (the HTTP API, the web page, Slack) may make forkwise fetch: forge repositories only.

The command line is the operator's and stays trusted. Everything a remote caller sends goes through
:class:`SourcePolicy` *before* any git or HTTP runs:

- ``owner/name`` (or ``https://<github host>/owner/name``) becomes a clone URL on the configured GitHub;
- anything else (a local path, ``file://``, another scheme or host) is refused, unless it starts with one of
  the operator's ``FORKWISE_TRUSTED_SOURCES`` prefixes;
- a URL that is not trusted by prefix must be ``https`` (or ``http``) on the GitHub host, and every address its
  host resolves to must be global: no loopback, private, link-local, multicast, reserved or unspecified
  address (IPv4-mapped IPv6 included); DNS failure refuses. The checked address is then *pinned* for git
  (``http.curloptResolve``) and redirects are off (``http.followRedirects=false``), so a DNS answer that
  changes between the check and the connection, or a redirect, cannot lead git to an internal host;
- clone URLs the GitHub API returns, and the new URL of a renamed fork, are checked the same way.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict

from forkwise.index.names import is_full_name
from forkwise.index.sources import Source, SourceError, parse_source

Resolver = Callable[[str, int], list[str]]


class PolicyError(SourceError):
    """A source a remote caller may not name; the message says why and what is allowed."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback)


class SourcePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    github_url: str = "https://github.com"
    trusted: tuple[str, ...] = ()
    resolver: Resolver = system_resolver

    @property
    def github_host(self) -> str:
        return (urlparse(self.github_url).hostname or "").lower()

    def is_trusted(self, url: str) -> bool:
        """``url`` starts with an operator-trusted prefix (paths compared after resolving ``..``)."""
        for prefix in self.trusted:
            if "://" in prefix or "://" in url:
                if url == prefix or url.startswith(prefix.rstrip("/") + "/"):
                    return True
            elif Path(url).is_absolute() and Path(prefix).is_absolute():
                p, u = Path(prefix).resolve(), Path(url).resolve()
                if u == p or p in u.parents:
                    return True
        return False

    def remote(self, text: str, *, name: str | None = None, ref: str | None = None) -> Source:
        """A source named by a remote caller: ``owner/name`` on the configured GitHub, or a trusted prefix."""
        text = text.strip()
        if is_full_name(text):  # its clone URL is checked when the job knows it (from the forge's answer)
            return parse_source(text, ref=ref, name=name, github_url=self.github_url)
        if self.is_trusted(text):
            return parse_source(text, ref=ref, name=name, github_url=self.github_url)
        else:
            parsed = urlparse(text)
            if parsed.scheme in ("http", "https") and (parsed.hostname or "").lower() == self.github_host:
                src = Source(name=name or parsed.path.strip("/").removesuffix(".git"), url=text, ref=ref)
            else:
                raise PolicyError(
                    f"refused {text[:200]!r}: a remote caller may name only a repository as owner/name on "
                    f"{self.github_url} (local paths, file:// and other hosts are not allowed)"
                )
        return self.check(src)

    def check(self, src: Source) -> Source:
        """``src`` if it may be fetched for a remote caller, pinned to the addresses checked; else PolicyError."""
        if self.is_trusted(src.url):
            return src
        parsed = urlparse(src.url)
        host = (parsed.hostname or "").lower()
        if parsed.scheme not in ("https", "http") or not host:
            raise PolicyError(f"refused {src.url[:200]!r}: only http(s) URLs on {self.github_host} may be fetched")
        if host != self.github_host:
            raise PolicyError(f"refused {src.url[:200]!r}: {host} is not the GitHub host {self.github_host}")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addrs = [host] if _is_ip(host) else self.resolver(host, port)
        except OSError as exc:
            raise PolicyError(f"refused {src.url[:200]!r}: cannot resolve {host} ({exc})") from exc
        bad = [a for a in addrs if not is_public(a)]
        if not addrs or bad:
            raise PolicyError(
                f"refused {src.url[:200]!r}: {host} resolves to a non-public address ({', '.join(bad) or 'none'})"
            )
        return src.model_copy(update={"pinned": f"{host}:{port}:{addrs[0]}"})

    def check_all(self, sources: Sequence[Source]) -> list[Source]:
        return [self.check(s) for s in sources]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def git_options(src: Source | None) -> list[str]:
    """``-c`` options for git commands that reach ``src``: a pinned address and no redirects when it was checked."""
    if src is None or src.pinned is None:
        return []
    host, port, addr = src.pinned.split(":", 2)
    pin = f"{host}:{port}:[{addr}]" if ":" in addr else src.pinned
    return ["-c", "http.followRedirects=false", "-c", f"http.curloptResolve={pin}"]
