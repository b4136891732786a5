"""The read-back decides each field's outcome (reconciler.engine.executor): `applied` when the host now holds the
desired value, `notEffective` when the call returned but the host does not keep the value.

The simulator behaves as ESXi: entering normal lockdown starts the DCUI if it is stopped. A policy that wants
the DCUI stopped and the host in normal lockdown therefore stops the DCUI (services apply first), then lockdown
starts it again: the services call returned, yet the read-back still differs."""

from __future__ import annotations

import pytest

from harness import Workspace, host, service

pytestmark = pytest.mark.integration

HOST = "DC0_C0_H0"


@pytest.fixture
def ws(tmp_path, fresh_sim):
    return Workspace(tmp_path, fresh_sim)


def test_a_value_the_host_keeps_is_applied(ws, capsys):
    ws.policy("ssh", f'selector: {{hosts: ["{HOST}"]}}\nservices: {{TSM-SSH: {{running: true}}}}\n')
    run = ws.vsr(capsys, "apply")
    (change,) = run.changes(name=HOST, path="services.TSM-SSH.running")
    assert (change["outcome"], change["current"], change["desired"]) == ("applied", False, True)
    assert run.code == 0
    assert service(host(ws.sim.connect(), HOST), "TSM-SSH").running is True


def test_a_value_the_host_does_not_keep_is_not_effective(ws, capsys):
    ws.policy("dcui", f'selector: {{hosts: ["{HOST}"]}}\nservices: {{DCUI: {{running: false}}}}\n'
                      'lockdown: {mode: normal}\n')
    run = ws.vsr(capsys, "apply")
    (mode,) = run.changes(name=HOST, path="lockdown.mode")
    assert mode["outcome"] == "applied"
    (dcui,) = run.changes(name=HOST, path="services.DCUI.running")
    assert dcui["outcome"] == "notEffective"
    assert dcui["current"] is True and dcui["desired"] is False
    assert dcui["message"] == "applied but not effective: the read-back still differs"
    assert run.code == 2, "drift remains: 0 converged, 2 drift remains (docs/operations.md)"
    assert service(host(ws.sim.connect(), HOST), "DCUI").running is True
