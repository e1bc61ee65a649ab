"""Git over HTTP on 127.0.0.1, for tests: the smart protocol through git's own ``git http-backend`` (CGI), or the
"dumb" protocol (static files, as any web server serves a bare repository after ``git update-server-info``).

Every request is recorded (method, path, ``Authorization``), so a test can count what git asked for and check that
credentials were or were not sent.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import ClassVar

from forkwise.evals.local_server import LocalServer, QuietHandler


class GitHTTP(LocalServer):
    """``GitHTTP(root, smart=True)`` serves the repositories under ``root`` at ``/<relative path>``."""

    def __init__(self, root: Path, *, smart: bool = True):
        self.root = root
        self.smart = smart
        self.requests: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()

    def handler(self) -> type[QuietHandler]:
        server = self

        class Handler(QuietHandler):
            protocol_version: ClassVar[str] = "HTTP/1.0"  # CGI output has no length: close to end it

            def _record(self) -> None:
                with server._lock:
                    server.requests.append((self.command, self.path, self.headers.get("Authorization")))

            def do_GET(self) -> None:
                self._record()
                if server.smart:
                    self._cgi(b"")
                else:
                    self._static()

            def do_POST(self) -> None:
                self._record()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if server.smart:
                    self._cgi(body)
                else:
                    self.send_error(405)

            def _static(self) -> None:
                path = (server.root / self.path.split("?", 1)[0].lstrip("/")).resolve()
                if server.root.resolve() not in path.parents or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _cgi(self, body: bytes) -> None:
                path, _, query = self.path.partition("?")
                env = {
                    **os.environ,
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "REMOTE_ADDR": "127.0.0.1",
                }
                res = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
                head, _, payload = res.stdout.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(": ")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def bare(repo: Path, dest: Path) -> Path:
    """A bare copy of ``repo`` at ``dest``, ready for both protocols (filters allowed; ``info/refs`` written)."""
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(dest)], check=True)
    for key, value in (("uploadpack.allowFilter", "true"), ("uploadpack.allowAnySHA1InWant", "true"),
                       ("http.receivepack", "false")):  # fmt: skip
        subprocess.run(["git", "-C", str(dest), "config", key, value], check=True)
    subprocess.run(["git", "-C", str(dest), "update-server-info"], check=True)
    return dest
