"""The simulator's vCenter-level `-drift` (docs/simulator.md "`-drift` (exactly)") against the shipped vCenter
baselines: each finds exactly the drifted fields of DVS0, DC0_DVPG0 and the vCenter settings; with the SCG 9
fields enforced (its Audit rows too), `vsr apply` fixes them all and the next plan is empty."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyVmomi import vim

from harness import Workspace, by_name
from simulator import start_simulator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SWITCH, PG, VPX = "DVS0", "DC0_DVPG0", "VpxSettings"

#: (object, path) -> (current, desired): every vCenter-level field `-drift` leaves non-compliant
SWITCH_DRIFT = {
    (SWITCH, "distributedSwitch.linkDiscoveryOperation"): ("both", "none"),
    (SWITCH, "distributedSwitch.mirrorSessions"): (["legacy-span"], []),
    (SWITCH, "distributedSwitch.ipfixCollectors"): ("192.0.2.10", ""),
}
PG_DRIFT = {
    (PG, "distributedPortgroup.macLearning"): (True, False),
    (PG, "distributedPortgroup.ipfixEnabled"): (True, False),
    (PG, "distributedPortgroup.portConfigResetAtDisconnect"): (False, True),
    (PG, "distributedPortgroup.vlanOverrideAllowed"): (True, False),
    (PG, "distributedPortgroup.securityPolicyOverrideAllowed"): (True, False),
}
SETTINGS_DRIFT = {
    (VPX, "advancedSettings.config.log.level"): ("verbose", "info"),
    (VPX, "advancedSettings.vpxd.event.syslog.enabled"): (False, True),
}
ALL_DRIFT = {**SWITCH_DRIFT, **PG_DRIFT, **SETTINGS_DRIFT}

#: the baselines' vCenter files (stig-vcf9 is an overlay of scg-9), what they report on `-drift`, and which of it
#: only as Audit
EXPECTED = {
    "scg-9": (("scg-9",), ALL_DRIFT,
              {k for k in ALL_DRIFT if k[1] != "distributedSwitch.linkDiscoveryOperation"}),
    "scg-8": (("scg-8",), {**SWITCH_DRIFT, **PG_DRIFT}, set()),
    "stig": (("stig",), {**SWITCH_DRIFT, **{k: v for k, v in PG_DRIFT.items() if not k[1].endswith(".macLearning")}},
             set()),
    "stig-vcf9": (("scg-9", "stig-vcf9"),
                  {**ALL_DRIFT, (VPX, "advancedSettings.VirtualCenter.VimPasswordExpirationInDays"): (30, 10)}, set()),
}


@pytest.fixture(autouse=True)
def restore_logging():
    """vsr run in-process binds structlog to this test's captured stderr; restore it for later tests."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="module")
def drift_sim():
    """Read-only: the tests using it only plan."""
    handle = start_simulator("-drift")
    yield handle
    handle.stop()


def baseline(name: str) -> str:
    return (ROOT / "specs/baselines" / name / "vcenter.yaml").read_text()


def planned(plan) -> dict[tuple[str, str], tuple]:
    return {(c["object"]["name"], c["path"]): (c["current"], c["desired"]) for c in plan.json["changes"]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_vcenter_baseline_finds_the_drift(tmp_path, capsys, drift_sim, name):
    ws = Workspace(tmp_path, drift_sim)
    files, expected, audit = EXPECTED[name]
    for file in files:
        ws.write(f"{file}-vcenter.yaml", baseline(file))
    plan = ws.vsr(capsys, "plan")
    assert plan.code == 2, plan.err
    assert planned(plan) == expected
    reasons = {(c["object"]["name"], c["path"]): c.get("reason") for c in plan.json["changes"]}
    assert {k for k, r in reasons.items() if r == "audit"} == audit


def test_a_plain_simulator_passes_the_same_fields(tmp_path, capsys, sim):
    """Without -drift the same fields comply (the default DVS0 listens to CDP, which SCG 9 enforces to none)."""
    ws = Workspace(tmp_path, sim)
    ws.write("scg-9-vcenter.yaml", baseline("scg-9"))
    plan = ws.vsr(capsys, "plan")
    assert planned(plan) == {(SWITCH, "distributedSwitch.linkDiscoveryOperation"): ("listen", "none")}


def test_scg9_fields_enforced_converge_on_drift(tmp_path, capsys):
    text = baseline("scg-9")
    assert text.count("enforcement: Audit") == 1
    with start_simulator("-drift") as handle:
        ws = Workspace(tmp_path, handle)
        ws.write("scg-9-vcenter.yaml", text.replace("enforcement: Audit", "enforcement: Enforce"))
        si = handle.connect()
        versions = (by_name(si, vim.DistributedVirtualSwitch, SWITCH).config.configVersion,
                    by_name(si, vim.dvs.DistributedVirtualPortgroup, PG).config.configVersion)
        assert all(v.isdigit() for v in versions), versions

        plan = ws.vsr(capsys, "plan")
        assert plan.code == 2, plan.err
        assert planned(plan) == ALL_DRIFT
        assert all(c.get("reason") in (None, "") for c in plan.json["changes"]), plan.json["changes"]

        applied = ws.vsr(capsys, "apply")
        assert applied.code == 0, applied.out + applied.err
        assert sorted((c["object"]["name"], c["path"]) for c in applied.json["changes"]
                      if c.get("outcome") == "applied") == sorted(ALL_DRIFT)

        dvs = by_name(si, vim.DistributedVirtualSwitch, SWITCH).config
        assert (dvs.linkDiscoveryProtocolConfig.protocol, dvs.linkDiscoveryProtocolConfig.operation) == ("cdp", "none")
        assert list(dvs.vspanSession) == []
        assert dvs.ipfixConfig.collectorIpAddress in (None, "")
        pg = by_name(si, vim.dvs.DistributedVirtualPortgroup, PG).config
        port, policy = pg.defaultPortConfig, pg.policy
        assert (port.macManagementPolicy.macLearningPolicy.enabled, port.ipfixEnabled.value) == (False, False)
        assert (policy.portConfigResetAtDisconnect, policy.vlanOverrideAllowed,
                policy.securityPolicyOverrideAllowed, policy.blockOverrideAllowed) == (True, False, False, True)
        assert int(dvs.configVersion) > int(versions[0]) and int(pg.configVersion) > int(versions[1])
        options = {o.key: o.value for o in si.RetrieveContent().setting.setting}
        assert (options["config.log.level"], options["vpxd.event.syslog.enabled"]) == ("info", True)

        again = ws.vsr(capsys, "plan")
        assert (again.code, again.json["changes"]) == (0, []), again.out
