"""VMkernel NIC services (`vmkServices`, issue 16 item 5) end to end on the `-drift` simulator, where DC0_C0_H0
runs vMotion on vmk0 beside management: plan -> apply -> read back -> plan 0; the management guard; a vmk the
host lacks is invalid; management shared with another service is a spec error."""

from __future__ import annotations

import pytest
from harness import Workspace, host

from simulator import start_simulator

pytestmark = pytest.mark.integration

HOST = "DC0_C0_H0"


@pytest.fixture(scope="module")
def drifted():
    handle = start_simulator("-drift")
    yield handle
    handle.stop()


def selected(si, name: str) -> dict[str, list[str]]:
    info = host(si, name).config.virtualNicManagerInfo
    out = {}
    for cfg in info.netConfig:
        devices = {c.key: c.device for c in cfg.candidateVnic}
        out[cfg.nicType] = sorted(devices[k] for k in cfg.selectedVnic or [])
    return out


def test_vmotion_moves_off_the_management_vmk(drifted, tmp_path, capsys):
    si = drifted.connect()
    assert selected(si, HOST)["vmotion"] == ["vmk0", "vmk1"]
    ws = Workspace(tmp_path, drifted)
    ws.policy("vmk", f"""
        selector: {{hosts: ["{HOST}"]}}
        vmkServices: {{management: [vmk0], vmotion: [vmk1], vSphereProvisioning: []}}
    """)
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out + first.err
    (change,) = first.json["changes"]
    assert (change["path"], change["current"], change["desired"]) == ("vmkServices.vmotion", ["vmk0", "vmk1"], ["vmk1"])
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0 and applied.json["changes"][0]["outcome"] == "applied", applied.out
    now = selected(si, HOST)
    assert (now["management"], now["vmotion"], now["vSphereProvisioning"]) == (["vmk0"], ["vmk1"], [])
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == [], again.out


def test_management_guard_and_unknown_vmk(drifted, tmp_path, capsys):
    si = drifted.connect()
    ws = Workspace(tmp_path, drifted)
    ws.policy("vmk", """
        selector: {hosts: ["DC0_C0_H1"]}
        vmkServices: {management: [vmk1], vsan: [vmk7]}
    """)
    applied = ws.vsr(capsys, "apply")
    by_path = {c["path"]: c for c in applied.json["changes"]}
    assert by_path["vmkServices.management"]["reason"] == "guard", applied.out
    assert "carries management now (vmk0)" in by_path["vmkServices.management"]["message"]
    assert by_path["vmkServices.vsan"]["reason"] == "invalid" and "vmk7" in by_path["vmkServices.vsan"]["message"]
    now = selected(si, "DC0_C0_H1")
    assert (now["management"], now["vsan"]) == (["vmk0"], [])


def test_shared_management_vmk_is_a_spec_error(drifted, tmp_path, capsys):
    ws = Workspace(tmp_path, drifted)
    ws.policy("vmk", """
        selector: {hosts: ["*"]}
        vmkServices: {management: [vmk0], vsan: [vmk0]}
    """)
    run = ws.vsr(capsys, "plan")
    assert run.code != 0 and "vmk0 would carry both management and vsan" in run.out + run.err
