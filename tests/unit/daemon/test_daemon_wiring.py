"""The building blocks together, as the engine's loop wires them (a toy reconcile instead of vSphere):
spec edit -> SpecWatcher -> WorkQueue -> workers -> Metrics + StatusBoard + FlapDetector -> HTTP."""

from __future__ import annotations

import http.client
import json
import threading
import time

from reconciler.daemon import (
    FlapDetector,
    HealthServer,
    Heartbeat,
    Metrics,
    SpecWatcher,
    StatusBoard,
    WorkQueue,
    document_digest,
    run_workers,
)


def get_json(server: HealthServer, path: str) -> tuple[int, dict]:
    host, port = server.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_spec_edit_flows_through_queue_workers_status_and_metrics(tmp_path):
    spec = tmp_path / "specs" / "policy.yaml"  # only *.yaml/*.yml files count as specs
    spec.parent.mkdir()
    spec.write_text("ssh=off\n")
    live = {("lab", f"host-{i}"): "on" for i in range(5)}  # the "estate"
    lock = threading.Lock()
    metrics, board, heartbeat = Metrics(), StatusBoard(), Heartbeat(max_age=30)
    flaps = FlapDetector(threshold=3, window=60)
    queue = WorkQueue("lab", metrics=metrics)
    metrics.init_controllers(["services"])
    reconciled = threading.Condition()
    done_keys: set = set()

    def desired() -> str:
        return spec.read_text().strip().split("=")[1]

    def reconcile(key) -> bool:
        t0 = time.monotonic()
        want = desired()
        with lock:
            drift = live[key] != want
            if drift:
                live[key] = want
                flaps.record(key, "services.TSM-SSH.running")
                metrics.event("Normal", "DriftRemediated")
        metrics.observe_reconcile("services", "success", time.monotonic() - t0)
        with reconciled:
            done_keys.add(key)
            reconciled.notify_all()
        return True

    def replan(changed: frozenset[str]) -> None:
        board.observe_spec("esxi", kind="HostSecurityPolicy", digest=document_digest(spec.read_text()))
        for key in live:
            queue.add(key)

    def wait_all() -> bool:
        with reconciled:
            ok = reconciled.wait_for(lambda: len(done_keys) == len(live), 10)
            done_keys.clear()
        return ok

    stop = threading.Event()
    server = HealthServer("127.0.0.1:0", board, metrics, liveness=heartbeat.alive)
    watcher = SpecWatcher([spec.parent], replan, debounce=0.1)
    server.start()
    watcher.start()
    pool = run_workers(queue, 2, reconcile, stop)
    try:
        assert watcher.wait_ready(10)
        board.set_vcenter("lab", True)
        replan(frozenset())  # the first full pass
        assert wait_all()
        with lock:
            board.record_reconcile("esxi", kind="HostSecurityPolicy", objects=len(live))
        board.mark_first_pass_done()
        board.mark_specs_loaded()
        board.set_loops_running(True)
        assert get_json(server, "/readyz") == (200, {"ready": True, "reason": "ok"})
        assert set(live.values()) == {"off"}

        spec.write_text("ssh=on\n")  # a commit changes the spec
        assert wait_all()
        assert set(live.values()) == {"on"}
        _, status = get_json(server, "/status")
        (policy,) = status["policies"]
        assert policy["observedGeneration"] == 2
        assert {c["type"]: c["status"] for c in policy["conditions"]}["Ready"] == "True"
        v = metrics.registry.get_sample_value
        assert v("vsr_events_total", {"type": "Normal", "reason": "DriftRemediated"}) == 10
        # at least one reconcile per object and pass (a split burst of inotify events may add a no-op pass)
        assert v("controller_runtime_reconcile_total", {"controller": "services", "result": "success"}) >= 10
        assert v("workqueue_adds_total", {"name": "lab"}) >= 10
        assert v("workqueue_depth", {"name": "lab"}) == 0
    finally:
        watcher.stop()
        assert pool.stop(5)
        queue.shutdown()
        server.stop()
