"""Issue 12 items 13 and 15: `vsr run` stops within 3 s whatever state its vCenters are in, never deadlocks on
repeated signals, reports a busy --listen port in one line; its HTTP server survives idle-socket floods; /healthz
fails, naming the loop, when a vCenter loop stops making progress."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rel_helpers import VSR, Daemon, free_port, http_get, vcenter_doc, wait_for

pytestmark = pytest.mark.integration

BOUND = 3.0  # the documented shutdown guarantee, seconds


def port_is_free(port: int) -> bool:
    """Nothing listens on `port` any more (SO_REUSEADDR: TIME_WAIT leftovers of served requests don't count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def terminate_timed(d: Daemon, *signals: int, gap: float = 0.0) -> tuple[int | None, float]:
    """Send `signals` (back to back, or `gap` s apart); (exit code or None if still running after 10 s, seconds
    from the first signal until exit)."""
    assert d.proc is not None
    started = time.monotonic()
    for i, sig in enumerate(signals):
        if i and gap:
            time.sleep(gap)
        os.kill(d.proc.pid, sig)
    try:
        code = d.proc.wait(10)
    except subprocess.TimeoutExpired:
        d.proc.kill()
        d.proc.wait(5)
        return None, time.monotonic() - started
    return code, time.monotonic() - started


def daemon_for(tmp_path: Path, sim, name: str = "d", *args: str) -> Daemon:
    d = Daemon(tmp_path / name, ("--resync", "1h", *args))
    (d.specs / "vcenter.yaml").write_text(vcenter_doc(sim, "sim", tmp_path / f"{name}-creds"))
    return d


def log_tail(d: Daemon) -> str:
    return d.log.read_text(errors="replace")[-3000:]


# -- item 15: shutdown --------------------------------------------------------------------------------------------
def test_sigterm_with_the_vcenter_killed_exits_within_3s_and_frees_the_port(tmp_path, sim_factory):
    sim = sim_factory()
    d = daemon_for(tmp_path, sim).start()
    d.wait_ready()
    sim.process.kill()  # SIGKILL: connection refused from now on; the loop goes into reconnect backoff
    sim.process.wait(5)
    wait_for(lambda: "reconnecting" in d.log.read_text(), 15, "the loop noticing the vCenter is gone")
    code, seconds = terminate_timed(d, signal.SIGTERM)
    assert (code, seconds < BOUND) == (0, True), f"exit {code} after {seconds:.1f} s\n{log_tail(d)}"
    assert port_is_free(d.port)


def test_sigterm_with_the_vcenter_frozen_mid_session_exits_within_3s(tmp_path, sim_factory):
    """SIGSTOP the simulator: every socket stays open and nothing answers (a black-holed vCenter). The loop is
    blocked in its long-poll, workers in their calls; shutdown abandons them instead of waiting."""
    sim = sim_factory()
    d = daemon_for(tmp_path, sim).start()
    d.wait_ready()
    sim.process.send_signal(signal.SIGSTOP)
    try:
        time.sleep(1.5)  # the loop's next WaitForUpdatesEx is now in flight and will not return
        code, seconds = terminate_timed(d, signal.SIGTERM)
    finally:
        sim.process.send_signal(signal.SIGCONT)
    assert (code, seconds < BOUND) == (0, True), f"exit {code} after {seconds:.1f} s\n{log_tail(d)}"
    assert port_is_free(d.port)
    assert "abandoning threads blocked in vSphere calls" in d.log.read_text()


def test_sigterm_while_connecting_to_a_blackhole_exits_within_3s(tmp_path, sim_factory):
    """The VCenter document points at a socket that accepts TCP but never answers (TLS handshake hangs)."""
    sim = sim_factory()
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        d = Daemon(tmp_path / "d", ("--resync", "1h"))
        text = vcenter_doc(sim, "hole", tmp_path / "creds").replace(f"{sim.host}:{sim.port}",
                                                                    f"127.0.0.1:{hole.getsockname()[1]}")
        (d.specs / "vcenter.yaml").write_text(text)
        d.start()
        wait_for(lambda: d.get("/healthz")[0] == 200, 20, f"daemon serving\n{log_tail(d)}")
        time.sleep(1.0)  # the loop is inside its connect now
        code, seconds = terminate_timed(d, signal.SIGTERM)
    assert (code, seconds < BOUND) == (0, True), f"exit {code} after {seconds:.1f} s\n{log_tail(d)}"
    assert port_is_free(d.port)


def signal_storm(pid: int, pairs: int, rng: random.Random) -> None:
    """SIGINT then SIGTERM, `pairs` times, a few dozen microseconds apart: the second signal lands while the
    first handler runs (nested handlers), which is how Ctrl-C in `make run` deadlocked the old handler."""
    def spin(us: float) -> None:
        until = time.perf_counter() + us / 1e6
        while time.perf_counter() < until:
            pass
    for _ in range(pairs):
        os.kill(pid, signal.SIGINT)
        spin(rng.uniform(20, 150))
        os.kill(pid, signal.SIGTERM)
        spin(rng.uniform(0, 100))


@pytest.mark.slow
def test_signal_storm_never_deadlocks(tmp_path, sim_factory):
    """Each pair has a few per cent chance of nesting the handlers; 150 pairs per daemon, three daemons: a
    handler that takes a lock (threading.Event.set) hangs here almost surely."""
    sim = sim_factory()
    rng = random.Random(12)
    for attempt in range(3):
        d = daemon_for(tmp_path, sim, f"d{attempt}").start()
        d.wait_ready()
        assert d.proc is not None
        started = time.monotonic()
        signal_storm(d.proc.pid, 150, rng)
        try:
            code = d.proc.wait(10)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            code = None
        seconds = time.monotonic() - started
        assert (code, seconds < BOUND) == (0, True), \
            f"attempt {attempt}: exit {code} after {seconds:.1f} s\n{log_tail(d)}"
        assert port_is_free(d.port)
        assert "already stopping" in d.log.read_text(), log_tail(d)


def test_busy_listen_port_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        (tmp_path / "specs").mkdir()
        proc = subprocess.run([VSR, "run", str(tmp_path / "specs"), "--journal", str(tmp_path / "j.db"),
                               "--listen", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (f"error: --listen 127.0.0.1:{port}: cannot listen: address already in use "
                           "(another vsr run? choose a free port with --listen)\n")


# -- item 13: the HTTP server -------------------------------------------------------------------------------------
def raw_get(port: int, path: str, timeout: float = 1.0) -> tuple[int, str]:
    """One GET on a fresh socket, answered within `timeout` seconds or raises."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def test_idle_socket_flood_does_not_lock_out_healthz_and_idle_clients_are_dropped(tmp_path, sim_factory):
    sim = sim_factory()
    d = daemon_for(tmp_path, sim).start()
    d.wait_ready()
    idle = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(50)]
    half = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(10)]
    for s in half:
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assert raw_get(d.port, "/healthz", timeout=1.0) == (200, "ok\n")
        assert time.monotonic() - started < 1.0
        assert raw_get(d.port, "/readyz", timeout=1.0)[0] == 200
        # every idle socket is closed by the server: evicted for the newcomers, or after the 5 s read timeout
        started = time.monotonic()
        for s in idle + half:
            s.settimeout(max(0.1, 8.0 - (time.monotonic() - started)))
            assert s.recv(1) == b"", "the server must drop a client that sends nothing"
        assert time.monotonic() - started < 7.0
    finally:
        for s in idle + half:
            s.close()
    code, _ = terminate_timed(d, signal.SIGTERM)
    assert code == 0


def test_healthz_names_a_stuck_vcenter_loop(tmp_path, sim_factory):
    """WaitForUpdatesEx takes 6 s on this simulator: the loop's thread is blocked in it, beyond --stuck-after."""
    sim = sim_factory("-method-delay", "WaitForUpdatesEx:6000")
    d = daemon_for(tmp_path, sim, "d", "--stuck-after", "2s").start()
    wait_for(lambda: d.get("/healthz")[0] == 503, 30, f"/healthz failing\n{log_tail(d)}")
    status, body = d.get("/healthz")
    assert status == 503
    assert body.startswith("vCenter loop 'sim' stuck: no progress for "), body
    assert "(since 20" in body and "threshold 2 s)" in body, body
    code, seconds = terminate_timed(d, signal.SIGTERM)
    assert (code, seconds < BOUND) == (0, True), f"exit {code} after {seconds:.1f} s\n{log_tail(d)}"


def test_healthz_stays_ok_while_a_loop_waits_in_reconnect_backoff(tmp_path, sim_factory):
    """A loop that cannot reach its vCenter is waiting, not stuck: backoff (1, 2, 4 s...) beats every second."""
    sim = sim_factory()
    d = daemon_for(tmp_path, sim, "d", "--stuck-after", "2s").start()
    d.wait_ready()
    sim.process.kill()
    sim.process.wait(5)
    deadline = time.monotonic() + 9.0  # through backoffs of 1, 2 and 4 s: each longer than 2 s counts
    while time.monotonic() < deadline:
        assert d.get("/healthz") == (200, "ok\n"), log_tail(d)
        time.sleep(0.25)
    assert d.stop() < BOUND


# -- `make run` -----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_quickstart_ctrl_c_twice_stops_everything_and_shows_the_journal(tmp_path):
    """What a terminal does on Ctrl-C: SIGINT to the script's whole process group; pressed twice, impatiently."""
    port = free_port()
    script = Path(__file__).resolve().parents[2] / "scripts" / "quickstart.py"
    env = {**os.environ, "VSR_QUICKSTART_DIR": str(tmp_path / "qs"), "VSR_QUICKSTART_LISTEN": f"127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True, text=True)
    try:
        def settled() -> bool:  # ready means started; remediations are in the journal once the first pass is done
            code, body = http_get(port, "/status")
            return proc.poll() is not None or (code == 200 and json.loads(body).get("firstPassDone") is True)

        wait_for(settled, 60, "the daemon's first pass done")
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    sim_port = int(out.split("simulator: https://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    assert port_is_free(port) and port_is_free(sim_port)
    journal = out.split("$ vsr events --journal", 1)[1]
    assert "DriftRemediated" in journal, out[-3000:]
