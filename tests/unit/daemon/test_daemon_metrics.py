"""Metrics: names, labels, values, and the exposition checked by promtool (or at least by the parser)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from reconciler.daemon.metrics import Metrics
from reconciler.daemon.workqueue import WorkQueue

ROOT = Path(__file__).resolve().parents[3]


def find_promtool() -> str | None:
    """$VSR_PROMTOOL, then PATH, then build/promtool/promtool (extracted from Debian's prometheus package)."""
    for candidate in (os.environ.get("VSR_PROMTOOL"), shutil.which("promtool"), ROOT / "build/promtool/promtool"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def populated() -> Metrics:
    m = Metrics()
    m.init_controllers(["hostServices", "hostFirewall"])
    m.observe_reconcile("hostServices", "success", 0.12)
    m.observe_reconcile("hostServices", "error", 1.5)
    m.observe_reconcile("hostFirewall", "requeue", 0.003)
    m.set_drift("esxi-baseline", "hostServices", 3)
    m.set_drift("vm-baseline", "vmAdvanced", 7)
    m.event("Warning", "DriftDetected")
    m.event("Normal", "DriftRemediated")
    m.event("Normal", "DriftRemediated")
    m.set_waivers_active(2)
    m.set_vcenter_connected("lab", True)
    m.set_vcenter_connected("dr", False)
    m.set_last_reconcile("lab", 1_700_000_000.0)
    m.set_spec_documents(valid=5, invalid=1, kept=1)
    q = WorkQueue("lab", metrics=m)
    q.add(("lab", "host-1"))
    q.done(q.get(timeout=0))
    q.add_rate_limited(("lab", "host-1"))
    return m


def value(m: Metrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return m.registry.get_sample_value(name, labels or {})


def test_reconcile_counters_and_histogram():
    m = populated()
    assert value(m, "controller_runtime_reconcile_total", {"controller": "hostServices", "result": "success"}) == 1
    assert value(m, "controller_runtime_reconcile_total", {"controller": "hostServices", "result": "error"}) == 1
    assert value(m, "controller_runtime_reconcile_total", {"controller": "hostFirewall", "result": "success"}) == 0
    assert value(m, "controller_runtime_reconcile_errors_total", {"controller": "hostServices"}) == 1
    assert value(m, "controller_runtime_reconcile_errors_total", {"controller": "hostFirewall"}) == 0
    assert value(m, "controller_runtime_reconcile_time_seconds_count", {"controller": "hostServices"}) == 2
    assert value(m, "controller_runtime_reconcile_time_seconds_sum", {"controller": "hostServices"}) == 1.62


def test_observe_reconcile_rejects_unknown_result():
    with pytest.raises(ValueError):
        Metrics().observe_reconcile("c", "maybe", 0.1)


def test_vsr_gauges_and_counters():
    m = populated()
    assert value(m, "vsr_drift_fields", {"policy": "esxi-baseline", "controller": "hostServices"}) == 3
    assert value(m, "vsr_events_total", {"type": "Normal", "reason": "DriftRemediated"}) == 2
    assert value(m, "vsr_waivers_active") == 2
    assert value(m, "vsr_vcenter_connected", {"vcenter": "lab"}) == 1
    assert value(m, "vsr_vcenter_connected", {"vcenter": "dr"}) == 0
    assert value(m, "vsr_last_reconcile_timestamp_seconds", {"vcenter": "lab"}) == 1_700_000_000.0
    assert [value(m, "vsr_spec_documents", {"state": s}) for s in ("valid", "invalid", "kept")] == [5, 1, 1]
    assert value(m, "workqueue_retries_total", {"name": "lab"}) == 1


def test_replace_drift_removes_stale_series():
    m = populated()
    m.replace_drift({("esxi-baseline", "hostServices"): 0, ("new", "hostLockdown"): 1})
    assert value(m, "vsr_drift_fields", {"policy": "vm-baseline", "controller": "vmAdvanced"}) is None
    assert value(m, "vsr_drift_fields", {"policy": "esxi-baseline", "controller": "hostServices"}) == 0
    assert value(m, "vsr_drift_fields", {"policy": "new", "controller": "hostLockdown"}) == 1
    m.replace_drift({})
    assert value(m, "vsr_drift_fields", {"policy": "new", "controller": "hostLockdown"}) is None


def test_own_registry_not_the_global_one():
    m1, m2 = Metrics(), Metrics()  # two instances must not collide (the global registry would raise)
    m1.set_waivers_active(4)
    assert m2.registry.get_sample_value("vsr_waivers_active") == 0
    assert REGISTRY.get_sample_value("vsr_waivers_active") is None


EXPECTED_FAMILIES = {
    "controller_runtime_reconcile": "counter",
    "controller_runtime_reconcile_time_seconds": "histogram",
    "controller_runtime_reconcile_errors": "counter",
    "workqueue_depth": "gauge",
    "workqueue_adds": "counter",
    "workqueue_retries": "counter",
    "workqueue_queue_duration_seconds": "histogram",
    "workqueue_work_duration_seconds": "histogram",
    "vsr_drift_fields": "gauge",
    "vsr_events": "counter",
    "vsr_waivers_active": "gauge",
    "vsr_vcenter_connected": "gauge",
    "vsr_last_reconcile_timestamp_seconds": "gauge",
    "vsr_spec_documents": "gauge",
}


def test_exposition_parses_with_every_family():
    body, ctype = populated().exposition()
    assert ctype.startswith("text/plain")
    families = {f.name: f.type for f in text_string_to_metric_families(body.decode())}
    for name, kind in EXPECTED_FAMILIES.items():
        assert families.get(name) == kind, name
    assert b"controller_runtime_reconcile_total{" in body


def test_openmetrics_when_asked():
    body, ctype = populated().exposition("application/openmetrics-text; version=1.0.0")
    assert ctype.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_promtool_check_metrics():
    promtool = find_promtool()
    if promtool is None:
        pytest.skip(
            "promtool not found: set VSR_PROMTOOL, or `apt-get download prometheus && dpkg -x prometheus_*.deb x` "
            "and copy x/usr/bin/promtool to build/promtool/promtool"
        )
    body, _ = populated().exposition()
    out = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False)
    assert out.returncode == 0, (out.stdout + out.stderr).decode()
    # and the check can fail: a badly named counter is reported
    bad = b"# HELP foo_seconds_total x\n# TYPE foo_seconds_total gauge\nfoo_seconds_total 1\n"
    out = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, timeout=30, check=False)
    assert out.returncode == 3, (out.stdout + out.stderr).decode()  # promtool: 3 = lint problems found


def test_unfinished_work_and_longest_running_processor():
    now = [100.0]
    m = Metrics()
    q = WorkQueue("lab", clock=lambda: now[0], metrics=m)
    assert value(m, "workqueue_longest_running_processor_seconds", {"name": "lab"}) == 0
    q.add("a")
    q.add("b")
    q.get(timeout=0)
    now[0] += 3
    q.get(timeout=0)
    now[0] += 2
    assert value(m, "workqueue_longest_running_processor_seconds", {"name": "lab"}) == 5
    assert value(m, "workqueue_unfinished_work_seconds", {"name": "lab"}) == 7
    q.done("a")
    q.done("b")
    assert value(m, "workqueue_unfinished_work_seconds", {"name": "lab"}) == 0
    body, _ = m.exposition()
    assert b'workqueue_longest_running_processor_seconds{name="lab"} 0.0' in body
    promtool = find_promtool()
    if promtool:
        out = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False)
        assert out.returncode == 0, (out.stdout + out.stderr).decode()
