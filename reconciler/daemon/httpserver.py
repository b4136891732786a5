"""The daemon's HTTP endpoints: `/healthz`, `/readyz`, `/metrics`, `/status`.

A `ThreadingHTTPServer` in a daemon thread; read-only, no request body is ever read. Hardened against clients
that hold connections open: every socket read times out after `read_timeout` seconds (an idle or trickling
client is dropped), and at most `max_connections` connections are served at once. A new connection beyond that
evicts the connection that has waited longest for a request (idle keep-alive or a client that never sent
anything), so a burst of idle sockets cannot lock out the kubelet's probe; only when every slot is busy answering
a request is the newcomer refused with a short 503.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard
from reconciler.hostport import split_host_port

log = structlog.get_logger(__name__)


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port`, `:port` (all IPv4 interfaces), `[v6]:port` → (host, port); `[::]:port` serves IPv4 and IPv6."""
    host, port = split_host_port(listen, None, min_port=0)
    return host or "0.0.0.0", port


READ_TIMEOUT = 5.0
MAX_CONNECTIONS = 32
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr: tuple[str, int], app: HealthServer) -> None:
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self._conns_lock = threading.Lock()
        # socket -> (waiting for a request?, since when): the connections being served right now
        self._conns: dict[socket.socket, tuple[bool, float]] = {}
        self.refused = 0
        self.evicted = 0
        super().__init__(addr, _Handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6 and self.server_address[0] == "::":
            # `[::]:PORT` serves both stacks (IPv4 as mapped addresses), whatever the host's bindv6only default.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    # -- connection accounting (the accept loop is one thread; handlers mark their state) ---------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        victim = None
        with self._conns_lock:
            if len(self._conns) >= self.app.max_connections:
                idle = [(since, sock) for sock, (waiting, since) in self._conns.items() if waiting]
                if not idle:
                    self.refused += 1
                    refuse = True
                else:
                    victim = min(idle, key=lambda item: item[0])[1]
                    del self._conns[victim]
                    self.evicted += 1
                    refuse = False
            else:
                refuse = False
            if not refuse:
                self._conns[request] = (True, time.monotonic())
        if refuse:
            log.warning("http connection refused: every slot is busy", client=client_address[0],
                        limit=self.app.max_connections)
            try:
                request.setblocking(False)
                request.send(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        if victim is not None:
            log.debug("http connection evicted (idle, slots full)", limit=self.app.max_connections)
            try:
                victim.shutdown(socket.SHUT_RDWR)  # its handler's blocked read returns at once; it then exits
            except OSError:
                pass
        super().process_request(request, client_address)

    def mark(self, request: Any, waiting: bool) -> None:
        with self._conns_lock:
            if request in self._conns:
                self._conns[request] = (waiting, time.monotonic())

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    @property
    def connections(self) -> int:
        with self._conns_lock:
            return len(self._conns)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "vsr"
    wbufsize = -1  # headers and body leave in one write: no Nagle/delayed-ACK stall per request

    def setup(self) -> None:
        # every read (request line, headers, keep-alive idle); typeshed declares `timeout` a class variable, but
        # StreamRequestHandler.setup() reads it from the instance, so a per-server value is set here
        self.timeout = self.server.app.read_timeout  # type: ignore[misc]
        super().setup()

    def handle_one_request(self) -> None:
        self.server.mark(self.request, waiting=True)
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http request", client=self.client_address[0], line=format % args)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def _dispatch(self, head: bool) -> None:
        self.server.mark(self.request, waiting=False)
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
    """Serves the endpoints from `board`, `metrics` and `liveness` (a callable returning True/False, or an object
    with `alive` and `message` such as `liveness.Verdict`: False means `/healthz` answers 503)."""

    def __init__(
        self,
        listen: str = "127.0.0.1:8080",
        board: StatusBoard | None = None,
        metrics: Metrics | None = None,
        liveness: Callable[[], Any] = lambda: True,
        *,
        read_timeout: float = READ_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.listen = listen
        self.board = board or StatusBoard()
        self.metrics = metrics or Metrics()
        self.liveness = liveness
        self.read_timeout = read_timeout
        self.max_connections = max(1, max_connections)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def respond(self, path: str, accept: str | None = None) -> tuple[int, bytes, str]:
        """(status, body, content type) for a GET of `path`."""
        if path == "/healthz":
            try:
                verdict = self.liveness()
            except Exception as exc:  # noqa: BLE001 - a failing probe is a failed probe
                return 500, f"liveness check failed: {exc}\n".encode(), "text/plain; charset=utf-8"
            alive = getattr(verdict, "alive", verdict)
            if alive:
                return 200, b"ok\n", "text/plain; charset=utf-8"
            message = getattr(verdict, "message", "reconcile loop heartbeat is stale")
            return 503, f"{message}\n".encode(), "text/plain; charset=utf-8"
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
