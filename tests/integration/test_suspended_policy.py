"""A suspended policy beside an active one on the same controller, end to end: the active policy is applied, the
suspended one contributes nothing (no conflict at equal priority, no field of its own)."""

from __future__ import annotations

import pytest

from harness import Workspace, host, service

pytestmark = pytest.mark.integration

HOST = "DC0_C0_H0"


def test_a_suspended_policy_beside_an_active_one_is_ignored(tmp_path, fresh_sim, capsys):
    ws = Workspace(tmp_path, fresh_sim)
    si = fresh_sim.connect()
    host(si, HOST).configManager.serviceSystem.StartService(id="TSM-SSH")
    ws.policy("ssh-off", f'selector: {{hosts: ["{HOST}"]}}\nservices: {{TSM-SSH: {{running: false}}}}\n')
    ws.policy("ssh-on", f'selector: {{hosts: ["{HOST}"]}}\nsuspend: true\n'
                        'services: {TSM-SSH: {running: true, policy: "on"}}\n')
    run = ws.vsr(capsys, "apply")
    assert [(c["object"]["name"], c["path"], c["policy"], c["outcome"], c.get("reason")) for c in run.json["changes"]] \
        == [(HOST, "services.TSM-SSH.running", "ssh-off", "applied", None)]
    assert run.code == 0
    ssh = service(host(si, HOST), "TSM-SSH")
    assert (ssh.running, ssh.policy) == (False, "off"), "the suspended policy's fields are left alone"
