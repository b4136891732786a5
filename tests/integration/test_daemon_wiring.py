"""The daemon's real wiring, end to end: `vsr run` against the simulator, a spec edit flows through the spec
watcher, the vCenter loop's work queue and workers to vSphere, and shows in /status and /metrics.

(Replaces tests/unit/daemon/test_daemon_wiring.py, which rebuilt the wiring around a toy reconcile and so could
not catch a mistake in the real loop.)"""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import host, service, wait_for
from test_daemon import SSH_OFF, Daemon, vcenter_doc

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOSTS = ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "DC0_H0")


def samples(body: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_spec_edit_flows_through_watcher_queue_workers_status_and_metrics(fresh_sim, tmp_path):
    d = Daemon(tmp_path / "d", "--resync", "1h")
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    policy = d.specs / "ssh.yaml"
    policy.write_text(SSH_OFF)  # the simulator starts with SSH stopped everywhere: nothing to do
    try:
        d.start().wait_ready(30)
        (ssh,) = d.status()["policies"]
        assert (ssh["name"], ssh["observedGeneration"]) == ("ssh-off", 1)

        policy.write_text(SSH_OFF.replace("running: false", "running: true"))  # a commit changes the spec
        si = fresh_sim.connect()
        wait_for(lambda: all(service(host(si, h), "TSM-SSH").running for h in HOSTS), 20,
                 f"the edited spec applied on every host\n{d.log.read_text()[-3000:]}")
        wait_for(lambda: len(d.events("DriftRemediated")) == len(HOSTS), 10, "one DriftRemediated per host")

        def settled() -> bool:
            (p,) = d.status()["policies"]
            return p["observedGeneration"] == 2 and {c["type"]: c["status"] for c in p["conditions"]}["Ready"] == "True"
        wait_for(settled, 10, f"/status: generation 2, Ready\n{json.dumps(d.status())}")

        remediated = ("vsr_events_total", (("reason", "DriftRemediated"), ("type", "Normal")))
        wait_for(lambda: samples(d.get("/metrics")[1]).get(remediated) == len(HOSTS), 10,
                 f"/metrics: one DriftRemediated per host\n{d.get('/metrics')[1]}")
        code, body = d.get("/metrics")
        assert code == 200
        got = samples(body)
        assert got[remediated] == len(HOSTS)
        assert got[("workqueue_depth", (("name", "vcenter-sim"),))] == 0
        # the spec edit reconciles every host through the queue (the first pass is one bulk plan, not counted here;
        # the watch update that follows a write may add a no-op reconcile, hence a lower bound)
        assert got[("controller_runtime_reconcile_total", (("controller", "services"), ("result", "success")))] \
            >= len(HOSTS)
        assert got.get(("controller_runtime_reconcile_total", (("controller", "services"), ("result", "error"))),
                       0.0) == 0.0
        assert sorted(e.object.name for e in d.events("DriftRemediated")) == sorted(HOSTS)
        assert d.stop() < 10 and d.proc.returncode == 0
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(5)
