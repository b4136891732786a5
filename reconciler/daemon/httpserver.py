"""The daemon's HTTP endpoints: `/healthz`, `/readyz`, `/metrics`, `/status`.

A `ThreadingHTTPServer` in a daemon thread; read-only, no request body is ever read.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard

log = structlog.get_logger(__name__)


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port`, `:port` (all IPv4 interfaces), `[v6]:port` → (host, port); `[::]:port` serves IPv4 and IPv6."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address must be HOST:PORT, not {listen!r}")
    host = host.strip("[]") if host.startswith("[") else host
    if int(port) > 65535:
        raise ValueError(f"port out of range in {listen!r}")
    return host or "0.0.0.0", int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], app: HealthServer) -> None:
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(addr, _Handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6 and self.server_address[0] == "::":
            # `[::]:PORT` serves both stacks (IPv4 as mapped addresses), whatever the host's bindv6only default.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "vsr"
    wbufsize = -1  # headers and body leave in one write: no Nagle/delayed-ACK stall per request

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http request", client=self.client_address[0], line=format % args)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def _dispatch(self, head: bool) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            status, body, ctype = self.server.app.respond(path, self.headers.get("Accept"))
        except Exception:  # never let a bug kill the serving thread without an answer
            log.exception("http handler failed", path=path)
            status, body, ctype = 500, b"internal error\n", "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)


def _json(status: int, obj: Any) -> tuple[int, bytes, str]:
    return status, (json.dumps(obj, indent=2) + "\n").encode(), "application/json"


class HealthServer:
    """Serves the endpoints from `board`, `metrics` and `liveness` (True while the loop's heartbeat is recent)."""

    def __init__(
        self,
        listen: str = "127.0.0.1:8080",
        board: StatusBoard | None = None,
        metrics: Metrics | None = None,
        liveness: Callable[[], bool] = lambda: True,
    ) -> None:
        self.listen = listen
        self.board = board or StatusBoard()
        self.metrics = metrics or Metrics()
        self.liveness = liveness
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def respond(self, path: str, accept: str | None = None) -> tuple[int, bytes, str]:
        """(status, body, content type) for a GET of `path`."""
        if path == "/healthz":
            try:
                alive = bool(self.liveness())
            except Exception as exc:  # noqa: BLE001 - a failing probe is a failed probe
                return 500, f"liveness check failed: {exc}\n".encode(), "text/plain; charset=utf-8"
            if alive:
                return 200, b"ok\n", "text/plain; charset=utf-8"
            return 500, b"reconcile loop heartbeat is stale\n", "text/plain; charset=utf-8"
        if path == "/readyz":
            ready, reason = self.board.readiness()
            return _json(200 if ready else 503, {"ready": ready, "reason": reason})
        if path == "/metrics":
            body, ctype = self.metrics.exposition(accept)
            return 200, body, ctype
        if path == "/status":
            return _json(200, self.board.to_dict())
        if path == "/":
            return _json(200, {"endpoints": ["/healthz", "/readyz", "/metrics", "/status"]})
        return 404, b"not found\n", "text/plain; charset=utf-8"

    def start(self) -> None:
        """Bind and serve in a daemon thread (raises OSError at once if the address is taken)."""
        if self._server is not None:
            return
        host, port = parse_listen(self.listen)
        try:
            self._server = _Server((host, port), self)
        except OSError as exc:
            if host != "::" or exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                raise
            log.warning("IPv6 is not available: listening on IPv4 only", listen=self.listen, error=str(exc))
            self._server = _Server(("0.0.0.0", port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="vsr-http", daemon=True
        )
        self._thread.start()
        log.info("http server listening", address=self.address)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def address(self) -> str:
        """The bound `host:port` (the real port when 0 was asked for)."""
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
