"""The rolling-maintenance pre-check judges the cluster's DRS automation and HA admission control, and the
simulator enforces both: a cluster whose DRS is not fully automated cannot evacuate a host by itself, and HA
admission control with a failover level of N refuses a host whose absence would leave N hosts or fewer. The
plan shows the refusal, `apply` stops the window before writing, and a direct EnterMaintenanceMode_Task is
refused by the simulator the same way (so the pre-check is not the only thing that knows)."""

from __future__ import annotations

from typing import Any

import pytest
from pyVmomi import vim, vmodl
from pyVim.task import WaitForTask

from harness import Workspace, by_name, host
from test_esxcli_controls import get

pytestmark = pytest.mark.integration

CLUSTER = [f"DC0_C0_H{i}" for i in range(4)]
TLS = '''
    selector: {clusters: ["DC0_C0"]}
    tls: {profile: NIST_2024}
    remediation: {maintenanceMode: Allowed, reboot: Allowed, maxHostsInParallel: 1}
'''


@pytest.fixture()
def four(sim_factory):
    return sim_factory("-host", "4", "-standalone-host", "0", "-reboot-seconds", "0.1")


def reconfigure(si: Any, *, drs: Any = None, das: Any = None, modify: bool = True) -> None:
    cluster = by_name(si, vim.ClusterComputeResource, "DC0_C0")
    WaitForTask(cluster.ReconfigureComputeResource_Task(vim.cluster.ConfigSpecEx(drsConfig=drs, dasConfig=das), modify))


def ha(level: int) -> Any:
    return vim.cluster.DasConfigInfo(enabled=True, admissionControlEnabled=True,
                                     admissionControlPolicy=vim.cluster.FailoverLevelAdmissionControlPolicy(failoverLevel=level))


def notes(plan: Any) -> list[str]:
    return [n for n in plan.json["notes"] if "rolling maintenance" in n]


def test_drs_not_fully_automated_refuses_the_window_and_the_simulator_refuses_the_evacuation(four, tmp_path, capsys):
    si = four.connect()
    reconfigure(si, drs=vim.cluster.DrsConfigInfo(defaultVmBehavior="manual"))
    config = by_name(si, vim.ClusterComputeResource, "DC0_C0").configurationEx
    assert config.drsConfig.enabled is True and config.drsConfig.defaultVmBehavior == "manual"  # merged (modify)

    ws = Workspace(tmp_path, four)
    ws.policy("tls", TLS)
    plan = ws.vsr(capsys, "plan")
    assert len(notes(plan)) == 4
    assert all("pre-check refuses: 2 powered-on VM(s) cannot be evacuated: DRS on cluster DC0_C0 is manual" in n
               for n in notes(plan)), notes(plan)
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 1, applied.out
    first = applied.changes(name="DC0_C0_H0", path="tls.profile")[0]
    assert first["outcome"] == "failed" and "pre-check failed" in first["error"], first
    for name in CLUSTER:
        h = host(si, name)
        assert h.runtime.inMaintenanceMode is False
        assert get(h, "system tls server")["Profile"] == "COMPATIBLE"  # nothing written

    with pytest.raises(vim.fault.InvalidState) as refused:
        WaitForTask(host(si, "DC0_C0_H0").EnterMaintenanceMode_Task(timeout=0))
    assert "DRS on cluster DC0_C0 is manual" in refused.value.msg

    reconfigure(si, drs=vim.cluster.DrsConfigInfo(enabled=False, defaultVmBehavior="fullyAutomated"))
    with pytest.raises(vim.fault.InvalidState) as off:
        WaitForTask(host(si, "DC0_C0_H0").EnterMaintenanceMode_Task(timeout=0))
    assert "DRS is disabled on cluster DC0_C0" in off.value.msg
    assert "DRS on cluster DC0_C0 is off" in notes(ws.vsr(capsys, "plan"))[0]


def test_ha_admission_control_refuses_a_host_whose_absence_breaks_the_failover_level(four, tmp_path, capsys):
    si = four.connect()
    reconfigure(si, das=ha(3))  # 4 hosts tolerating 3 failures: none may leave
    ws = Workspace(tmp_path, four)
    ws.policy("tls", TLS)
    plan = ws.vsr(capsys, "plan")
    assert all("pre-check refuses: HA admission control on cluster DC0_C0 tolerates 3 host failure(s): "
               "3 other host(s) would be left" in n for n in notes(plan)), notes(plan)
    with pytest.raises(vim.fault.InsufficientFailoverResourcesFault):
        WaitForTask(host(si, "DC0_C0_H1").EnterMaintenanceMode_Task(timeout=0))
    assert host(si, "DC0_C0_H1").runtime.inMaintenanceMode is False

    reconfigure(si, das=ha(2))  # 3 hosts left > 2: one at a time is fine
    plan = ws.vsr(capsys, "plan")
    assert all("pre-check ok: 2 powered-on VM(s) can move to 3 other host(s)" in n for n in notes(plan)), notes(plan)
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err
    assert [c["outcome"] for c in applied.changes(path="tls.profile")] == ["applied"] * 4
    assert all(host(si, n).runtime.inMaintenanceMode is False for n in CLUSTER)


def test_the_simulator_validates_cluster_drs_and_ha_settings(four):
    si = four.connect()
    with pytest.raises(vmodl.fault.InvalidArgument) as bad:
        reconfigure(si, drs=vim.cluster.DrsConfigInfo(defaultVmBehavior="sometimes"))
    assert bad.value.invalidProperty == "spec.drsConfig.defaultVmBehavior"
    with pytest.raises(vmodl.fault.InvalidArgument) as level:
        reconfigure(si, das=ha(0))
    assert level.value.invalidProperty == "spec.dasConfig.admissionControlPolicy.failoverLevel"
    reconfigure(si, das=ha(1), modify=False)  # replaces: DRS back to its unset default (off)
    config = by_name(si, vim.ClusterComputeResource, "DC0_C0").configurationEx
    assert not config.drsConfig.enabled and config.dasConfig.admissionControlPolicy.failoverLevel == 1

