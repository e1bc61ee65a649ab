"""What a remote caller (the HTTP API, the web page, Slack) may make forkwise fetch: forge repositories only.

The command line is the operator's and stays trusted. Everything a remote caller sends goes through
:class:`SourcePolicy` *before* any git or HTTP runs:

- ``owner/name`` (or ``https://<github host>/owner/name``) becomes a clone URL on the configured GitHub;
- anything else (a local path, ``file://``, another scheme or host) is refused, unless it starts with one of
  the operator's ``FORKWISE_TRUSTED_SOURCES`` prefixes. Both sides are compared *normalised*: scheme and host in
  lower case, default ports dropped, %-encoding decoded, dot segments resolved; ``file://`` URLs and paths are
  resolved like paths (symlinks and ``..`` included), so ``<prefix>/../elsewhere`` never matches a prefix;
- URLs that parsers read differently are refused outright: a backslash, userinfo (``user@``), a query or a
  fragment (``https://127.0.0.1\\@github.com/…``, ``#@``, ``?@``: Python's ``urllib`` and curl disagree on the
  host), an invalid port, and a GitHub URL whose path is not exactly ``/owner/name`` in GitHub's name grammar;
- a URL that is not trusted by prefix must be ``https`` (or ``http``) on the GitHub host, and every address its
  host resolves to must be global: no loopback, private, link-local, multicast, reserved or unspecified
  address (IPv4-mapped IPv6 included); DNS failure refuses. The checked address is then *pinned* for git
  (``http.curloptResolve``) and redirects are off (``http.followRedirects=false``), so a DNS answer that
  changes between the check and the connection, or a redirect, cannot lead git to an internal host;
- clone URLs the GitHub API returns, and the new URL of a renamed fork, are checked the same way.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit

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
    """A global unicast address. IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4
    ``2002:aabb:ccdd::``, Teredo's client and server, NAT64 ``64:ff9b::a.b.c.d``) count only when that IPv4 address is
    public too: ``2002:7f00:1::`` is loopback in 6to4 dress."""
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    inner: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            inner = [ip.ipv4_mapped]
        elif ip.sixtofour is not None:
            inner.append(ip.sixtofour)
        elif ip.teredo is not None:
            inner.extend(ip.teredo)
        elif ip in _NAT64:
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(
        a.is_global and not (a.is_multicast or a.is_reserved or a.is_unspecified or a.is_loopback) for a in inner
    )


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}
_GITHUB_PATH = re.compile(r"^/([A-Za-z0-9][A-Za-z0-9._-]{0,99})/([A-Za-z0-9][A-Za-z0-9._-]{0,99}?)(?:\.git)?/?$")


def url_port(parsed: SplitResult, text: str) -> int | None:
    """The URL's port; :class:`PolicyError` (a 4xx, not a crash) when it is not a number in 1–65535."""
    try:
        port = parsed.port
    except ValueError:
        raise PolicyError(f"refused {text[:200]!r}: the port is not a number between 1 and 65535") from None
    if port == 0:
        raise PolicyError(f"refused {text[:200]!r}: the port is not a number between 1 and 65535")
    return port


def ambiguity(text: str) -> str | None:
    """Why parsers could read ``text`` (a URL a remote caller sent) differently, or None.

    Python's ``urllib`` takes the host after the last ``@`` before the first ``/``; curl and browsers treat ``\\``
    as ``/`` and stop the authority at ``?`` or ``#``. Nothing a forge URL needs uses them."""
    if "\\" in text:
        return "a backslash"
    rest = text.split("://", 1)[1] if "://" in text else text
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority or ("@" in rest and ("?" in rest or "#" in rest)):
        return "credentials or an '@' in the host part"
    if "?" in rest or "#" in rest:
        return "a query or fragment"
    if "%" in authority:
        return "%-encoding in the host"
    return None


def canonical(text: str) -> tuple[str, str] | None:
    """``text`` as ``("path", resolved path)`` or ``("url", normalised URL)``, for comparing with trusted prefixes;
    None when it is neither an absolute path nor a URL.

    URLs: scheme and host lower-cased, the default port dropped, the path %-decoded and its dot segments and
    repeated slashes resolved (a trailing slash kept), re-encoded. ``file://`` URLs become paths, and paths are
    resolved (``..`` and symlinks), as git would open them."""
    if "://" not in text:
        p = Path(text).expanduser()
        return ("path", str(p.resolve())) if p.is_absolute() else None
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    path = unquote(parts.path)
    if "\x00" in path:
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return None
        return ("path", str(Path(path or "/").resolve()))
    host = (parts.hostname or "").lower()
    if not host:
        return None
    port = url_port(parts, text)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    norm = posixpath.normpath("/" + path.lstrip("/")) if path else "/"
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if path.endswith("/") and norm != "/":
        norm += "/"
    return ("url", f"{scheme}://{netloc}{quote(norm, safe='/:@!$&()*+,;=-._~')}")


def _within(kind: str, value: str, prefix_kind: str, prefix: str) -> bool:
    if kind != prefix_kind:
        return False
    if kind == "path":
        p, u = Path(prefix), Path(value)
        return u == p or p in u.parents
    base = prefix.rstrip("/")
    return value.rstrip("/") == base or value.startswith(base + "/")


class SourcePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    github_url: str = "https://github.com"
    trusted: tuple[str, ...] = ()
    resolver: Resolver = system_resolver

    @property
    def github_host(self) -> str:
        return (urlsplit(self.github_url).hostname or "").lower()

    def trusted_form(self, url: str) -> str | None:
        """``url`` normalised (see :func:`canonical`) when it lies under an operator-trusted prefix, else None."""
        if not self.trusted or ambiguity(url) is not None:
            return None
        got = canonical(url)
        if got is None:
            return None
        for prefix in self.trusted:
            want = canonical(prefix)
            if want is not None and _within(*got, *want):
                return got[1]
        return None

    def is_trusted(self, url: str) -> bool:
        """``url`` lies under an operator-trusted prefix, both normalised (``..``, %-encoding, case, ports)."""
        return self.trusted_form(url) is not None

    def remote(self, text: str, *, name: str | None = None, ref: str | None = None) -> Source:
        """A source named by a remote caller: ``owner/name`` on the configured GitHub, or a trusted prefix.

        Nothing here looks at the server's file system unless the text is under a trusted prefix: a relative path
        that happens to exist in the server's working directory is refused like any other."""
        if text != text.strip() or not text:
            raise PolicyError(f"refused {text[:200]!r}: empty, or blank around the name")
        if is_full_name(text):  # its clone URL is checked when the job knows it (from the forge's answer)
            return parse_source(text, ref=ref, name=name, github_url=self.github_url)
        trusted = self.trusted_form(text)
        if trusted is not None:
            return parse_source(trusted, ref=ref, name=name, github_url=self.github_url)
        why = ambiguity(text)
        if why is not None:
            raise PolicyError(f"refused {text[:200]!r}: the URL holds {why}, which URL parsers read differently")
        parsed = urlsplit(text)
        if parsed.scheme in ("http", "https") and (parsed.hostname or "").lower() == self.github_host:
            url_port(parsed, text)
            m = _GITHUB_PATH.match(parsed.path)
            if m is None or not is_full_name(f"{m.group(1)}/{m.group(2)}"):
                raise PolicyError(
                    f"refused {text[:200]!r}: the path is not /owner/name in GitHub's name grammar "
                    "(letters, digits, '.', '_' and '-')"
                )
            src = Source(name=name or f"{m.group(1)}/{m.group(2)}", url=text, ref=ref, forge="github")
        else:
            raise PolicyError(
                f"refused {text[:200]!r}: a remote caller may name only a repository as owner/name on "
                f"{self.github_url} (local paths, file:// and other hosts are not allowed)"
            )
        return self.check(src)

    def check(self, src: Source) -> Source:
        """``src`` if it may be fetched for a remote caller, pinned to the addresses checked; else PolicyError."""
        trusted = self.trusted_form(src.url)
        if trusted is not None:
            return src if trusted == src.url else src.model_copy(update={"url": trusted})
        why = ambiguity(src.url)
        if why is not None:
            raise PolicyError(f"refused {src.url[:200]!r}: the URL holds {why}, which URL parsers read differently")
        parsed = urlsplit(src.url)
        host = (parsed.hostname or "").lower()
        if parsed.scheme not in ("https", "http") or not host:
            raise PolicyError(f"refused {src.url[:200]!r}: only http(s) URLs on {self.github_host} may be fetched")
        if host != self.github_host:
            raise PolicyError(f"refused {src.url[:200]!r}: {host} is not the GitHub host {self.github_host}")
        port = url_port(parsed, src.url) or (443 if parsed.scheme == "https" else 80)
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


def pin_value(src: Source) -> str | None:
    """``host:port:address`` as curl's resolve list takes it (an IPv6 address in brackets), when ``src`` is pinned."""
    if src.pinned is None:
        return None
    host, port, addr = src.pinned.split(":", 2)
    return f"{host}:{port}:[{addr}]" if ":" in addr else src.pinned


def git_options(src: Source | None) -> list[str]:
    """``-c`` options for git commands that reach ``src``: a pinned address and no redirects when it was checked."""
    pin = pin_value(src) if src is not None else None
    if pin is None:
        return []
    return ["-c", "http.followRedirects=false", "-c", f"http.curloptResolve={pin}"]


def git_config(src: Source) -> dict[str, str]:
    """The same settings as config entries scoped to ``src``'s URL (``http.<url>.*``), for the mirror's own config:
    git fetches missing blobs of a partial clone lazily, later, with no ``-c`` of ours on that command line."""
    pin = pin_value(src)
    if pin is None:
        return {}
    return {f"http.{src.url}.followRedirects": "false", f"http.{src.url}.curloptResolve": pin}
