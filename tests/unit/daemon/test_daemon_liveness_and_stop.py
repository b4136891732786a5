"""Liveness verdicts, the signal-safe stop flag, and the HTTP server's connection limits (real sockets)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

from reconciler.daemon.httpserver import HealthServer
from reconciler.daemon.liveness import Liveness
from reconciler.daemon.stopsignal import StopSignal


def test_liveness_names_the_stuck_loop_and_since_when():
    now = [1000.0]
    live = Liveness(clock=lambda: now[0], wall=lambda: 1_700_000_000.0 + now[0])
    live.register("main loop", 60)
    live.register("vCenter loop 'lab'", 10)
    now[0] += 11
    live.beat("main loop")
    verdict = live.check()
    assert verdict.alive is False
    assert verdict.message == ("vCenter loop 'lab' stuck: no progress for 11 s (since 2023-11-14T22:30:00Z; "
                               "threshold 10 s)")
    live.beater("vCenter loop 'lab'").beat()
    assert live.check().alive is True
    live.unregister("vCenter loop 'lab'")
    now[0] += 30
    assert live.check().message == "ok"


def test_stop_signal_wait_returns_early_on_request_from_a_signal_handler():
    stop = StopSignal()
    assert stop.install()
    try:
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
        started = time.monotonic()
        timer.start()
        assert stop.wait(5.0) is True
        assert time.monotonic() - started < 2.0
        os.kill(os.getpid(), signal.SIGINT)  # a second one: counted, never raises KeyboardInterrupt
        stop.wait(0.05)
        assert stop.signals == 2
    finally:
        stop.uninstall()
        stop.close()


def test_after_a_signalled_stop_further_signals_are_ignored_not_fatal():
    original = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    stop = StopSignal()
    assert stop.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2.0) is True
        stop.ignore_further()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGTERM)  # would end the test process under SIG_DFL
        time.sleep(0.05)
    finally:
        for sig, handler in original.items():
            signal.signal(sig, handler)
        stop.close()


def test_stop_signal_wait_times_out_without_a_request():
    stop = StopSignal()
    started = time.monotonic()
    assert stop.wait(0.2) is False
    assert time.monotonic() - started >= 0.19
    stop.close()


def port_of(server: HealthServer) -> int:
    return int(server.address.rsplit(":", 1)[1])


def get(port: int, path: str = "/healthz", timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data


def test_a_silent_client_is_dropped_after_the_read_timeout():
    with HealthServer("127.0.0.1:0", read_timeout=0.5) as server:
        with socket.create_connection(("127.0.0.1", port_of(server)), timeout=5) as s:
            started = time.monotonic()
            assert s.recv(1) == b""
            assert 0.4 < time.monotonic() - started < 2.0


def test_idle_connections_beyond_the_limit_are_evicted_for_a_new_client():
    with HealthServer("127.0.0.1:0", max_connections=4) as server:
        port = port_of(server)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(10)]
        try:
            time.sleep(0.2)
            assert get(port).startswith(b"HTTP/1.1 200 ")
            assert server._server is not None and server._server.connections <= 4
        finally:
            for s in idle:
                s.close()


def test_when_every_slot_is_busy_a_newcomer_gets_a_quick_503():
    release = threading.Event()
    with HealthServer("127.0.0.1:0", liveness=lambda: release.wait(10), max_connections=2) as server:
        port = port_of(server)
        busy = [threading.Thread(target=get, args=(port, "/healthz", 15)) for _ in range(2)]
        for t in busy:
            t.start()
        time.sleep(0.3)
        started = time.monotonic()
        answer = get(port)
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable") and answer.endswith(b"too many connections\n")
        assert time.monotonic() - started < 1.0
        release.set()
        for t in busy:
            t.join(5)
        assert get(port).startswith(b"HTTP/1.1 200 ")
