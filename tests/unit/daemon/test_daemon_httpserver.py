"""HealthServer over real HTTP on a free loopback port."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.daemon.httpserver import HealthServer, parse_listen
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.status import StatusBoard


def request(server: HealthServer, path: str, method: str = "GET", headers: dict | None = None):
    host, port = server.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


@pytest.fixture
def parts():
    board, metrics = StatusBoard(), Metrics()
    alive = threading.Event()
    alive.set()
    server = HealthServer("127.0.0.1:0", board, metrics, liveness=alive.is_set)
    server.start()
    yield server, board, metrics, alive
    server.stop()


def test_address_reports_the_real_port(parts):
    server, *_ = parts
    host, port = server.address.split(":")
    assert host == "127.0.0.1" and int(port) > 0


def test_healthz_follows_liveness(parts):
    server, _, _, alive = parts
    assert request(server, "/healthz")[0] == 200
    alive.clear()
    status, _, body = request(server, "/healthz")
    assert status == 503 and b"stale" in body


def test_healthz_liveness_exception_is_500():
    def broken() -> bool:
        raise RuntimeError("boom")

    with HealthServer("127.0.0.1:0", liveness=broken) as server:
        status, _, body = request(server, "/healthz")
    assert status == 500 and b"boom" in body


def test_readyz_503_until_specs_loaded_and_loops_running_then_200_even_when_disconnected(parts):
    server, board, *_ = parts
    status, ctype, body = request(server, "/readyz")
    assert status == 503 and ctype == "application/json"
    assert json.loads(body) == {"ready": False, "reason": "specs not loaded yet"}
    board.mark_specs_loaded()
    status, _, body = request(server, "/readyz")
    assert status == 503 and json.loads(body) == {"ready": False, "reason": "vCenter loops not running"}
    board.set_loops_running(True)
    assert request(server, "/readyz")[:1] == (200,)
    board.set_vcenter("lab", False, error="connection refused")
    status, _, body = request(server, "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "reason": "ok"}


def test_metrics_endpoint_serves_the_registry(parts):
    server, _, metrics, _ = parts
    metrics.observe_reconcile("hostServices", "success", 0.2)
    status, ctype, body = request(server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert "controller_runtime_reconcile" in names and "workqueue_depth" in names
    assert b'controller_runtime_reconcile_total{controller="hostServices",result="success"} 1.0' in body
    status, ctype, body = request(server, "/metrics", headers={"Accept": "application/openmetrics-text"})
    assert ctype.startswith("application/openmetrics-text") and body.rstrip().endswith(b"# EOF")


def test_status_endpoint_is_the_board_as_json(parts):
    server, board, *_ = parts
    board.observe_spec("esxi-baseline", kind="HostSecurityPolicy", digest="d", revision="abc123")
    board.record_reconcile("esxi-baseline", objects=4, drifted=1)
    status, ctype, body = request(server, "/status")
    assert status == 200 and ctype == "application/json"
    doc = json.loads(body)
    assert doc["policies"][0]["name"] == "esxi-baseline"
    assert doc["policies"][0]["specRevision"] == "abc123"
    assert {c["type"]: c["status"] for c in doc["policies"][0]["conditions"]} == {
        "Ready": "False", "Drifted": "True", "Stalled": "False",
    }  # fmt: skip


def test_unknown_path_404_head_has_no_body_and_query_ignored(parts):
    server, *_ = parts
    assert request(server, "/nope")[0] == 404
    status, _, body = request(server, "/healthz", method="HEAD")
    assert status == 200 and body == b""
    assert request(server, "/healthz?verbose=1")[0] == 200
    assert request(server, "/status/")[0] == 200


def test_status_handler_error_is_a_500_not_a_dead_server(parts):
    server, board, *_ = parts

    def broken():
        raise RuntimeError("bug")

    board.to_dict = broken  # type: ignore[method-assign]
    assert request(server, "/status")[0] == 500
    assert request(server, "/healthz")[0] == 200


def test_concurrent_requests(parts):
    server, *_ = parts
    results: list[tuple[str, int]] = []
    lock = threading.Lock()

    def hit():
        for path in ("/healthz", "/metrics", "/status", "/readyz"):
            status = request(server, path)[0]
            with lock:
                results.append((path, status))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 32
    # a board that has seen no pass yet: alive, not ready (the same answer to every one of the 8 clients)
    assert sorted(set(results)) == [("/healthz", 200), ("/metrics", 200), ("/readyz", 503), ("/status", 200)]


def test_stop_releases_the_port_and_busy_port_fails_at_start():
    server = HealthServer("127.0.0.1:0")
    server.start()
    port = int(server.address.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        HealthServer(f"127.0.0.1:{port}").start()  # taken
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    again = HealthServer(f"127.0.0.1:{port}")
    again.start()  # free again
    again.stop()


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = HealthServer("[::1]:0")
        server.start()
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    try:
        assert server.address.startswith("[::1]:")
        assert request(server, "/healthz")[0] == 200
    finally:
        server.stop()


def test_unspecified_ipv6_listens_on_both_stacks():
    # The chart passes --listen=[::]:PORT: kubelet probes may come over IPv4 or IPv6 (dual-stack clusters).
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = HealthServer("[::]:0")
        server.start()
    except OSError as exc:
        pytest.skip(f"IPv6 unavailable: {exc}")
    try:
        port = int(server.address.rsplit(":", 1)[1])
        for host in ("127.0.0.1", "::1"):
            conn = http.client.HTTPConnection(host, port, timeout=5)
            try:
                conn.request("GET", "/healthz")
                assert conn.getresponse().status == 200, host
            finally:
                conn.close()
    finally:
        server.stop()


def test_unspecified_ipv6_falls_back_to_ipv4_without_ipv6(monkeypatch):
    import errno

    from reconciler.daemon import httpserver

    real = httpserver._Server.__init__

    def no_ipv6(self, addr, app):
        if ":" in addr[0]:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        real(self, addr, app)

    monkeypatch.setattr(httpserver._Server, "__init__", no_ipv6)
    with HealthServer("[::]:0") as server:
        assert server.address.startswith("0.0.0.0:")
        port = int(server.address.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
    with pytest.raises(OSError):  # an explicit IPv6 address is not silently replaced
        HealthServer("[::1]:0").start()


@pytest.mark.parametrize(
    "listen,expected",
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), (":9090", ("0.0.0.0", 9090)), ("[::1]:80", ("::1", 80)),
     ("[::]:8080", ("::", 8080)),
     ("0.0.0.0:0", ("0.0.0.0", 0))],
)  # fmt: skip
def test_parse_listen(listen, expected):
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["8080", "host:", "host:http", "h:70000"])
def test_parse_listen_rejects(listen):
    with pytest.raises(ValueError):
        parse_listen(listen)
