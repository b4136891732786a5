"""`selector.switches` of a VCenterSecurityPolicy narrows DV portgroups to those of the matching switches, end to
end on a simulator holding two distributed switches (the inventory's DVS0 and one created here)."""

from __future__ import annotations

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from harness import Workspace, by_name

VDS = vim.dvs.VmwareDistributedVirtualSwitch
LAB_SWITCH, LAB_PG, DEFAULT_PG = "lab-dvs", "lab-pg", "DC0_DVPG0"


@pytest.fixture(scope="module")
def vsim():
    from simulator import start_simulator
    handle = start_simulator()
    si = handle.connect()
    content = si.RetrieveContent()
    datacenter = next(e for e in content.rootFolder.childEntity if e.name == "DC0")
    WaitForTask(datacenter.networkFolder.CreateDVS_Task(spec=vim.DistributedVirtualSwitch.CreateSpec(
        configSpec=VDS.ConfigSpec(name=LAB_SWITCH))))
    lab = by_name(si, vim.DistributedVirtualSwitch, LAB_SWITCH)
    WaitForTask(lab.AddDVPortgroup_Task(spec=[vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
        name=LAB_PG, type="earlyBinding", numPorts=8)]))
    yield handle
    handle.stop()


@pytest.fixture
def ws(tmp_path, vsim):
    return Workspace(tmp_path, vsim)


def _learn_macs(si, name: str) -> None:
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, name)
    port = VDS.VmwarePortConfigPolicy(
        macManagementPolicy=VDS.MacManagementPolicy(macLearningPolicy=VDS.MacLearningPolicy(enabled=True)))
    WaitForTask(pg.ReconfigureDVPortgroup_Task(spec=vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
        configVersion=pg.config.configVersion, defaultPortConfig=port)))


def _mac_learning(si, name: str) -> bool:
    pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, name)
    return bool(pg.config.defaultPortConfig.macManagementPolicy.macLearningPolicy.enabled)


def _planned(plan) -> set[str]:
    return {c["object"]["name"] for c in plan.json["changes"] if c["path"] == "distributedPortgroup.macLearning"}


@pytest.mark.parametrize("switches, expected", [
    (["lab-*"], {LAB_PG}),
    (["DVS0"], {DEFAULT_PG}),
    ([], {LAB_PG, DEFAULT_PG}),          # no `switches`: portgroups by their own name, on any switch
    (["nothing-*"], set()),
])
def test_switches_narrow_the_portgroups_a_policy_manages(ws, capsys, switches, expected):
    si = ws.sim.connect()
    for name in (LAB_PG, DEFAULT_PG):
        _learn_macs(si, name)
    ws.policy("vc", f"""
        selector: {{switches: {switches}, portgroups: ["*"]}}
        distributedPortgroup: {{macLearning: false}}
    """, kind="VCenterSecurityPolicy")
    plan = ws.vsr(capsys, "plan")
    assert plan.code == (2 if expected else 0), plan.err
    assert _planned(plan) == expected

    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err
    assert {n for n in (LAB_PG, DEFAULT_PG) if not _mac_learning(si, n)} == expected, \
        "apply changed exactly the portgroups of the selected switches"
