"""The report model: one row per object x control, pass rows from desired fields without a change."""

from __future__ import annotations

from reconciler.report import model

from report_fixtures import build_run


def rows(report):
    return {(r.object.name, r.control_id): r for r in report.rows}


def test_statuses_per_object_and_control(report):
    found = {k: r.status for k, r in rows(report).items()}
    assert found == {
        ("esx-01", "esxi-8.deactivate-ssh"): "fail",
        ("esx-01", "esxi-8.transparent-page-sharing"): "waived",
        ("esx-01", "advancedSettings.Custom.Key"): "unsupported",
        ("esx-01", "esxi-8.dcui-timeout"): "pass",
        ("esx-01", "esxi-8.network-reject-promiscuous-mode-standardswitch"): "fail",
        ("web-01", "vm-8.deactivate-console-copy"): "pending",
        ("web-01", "guest-8.virtual-hardware"): "pending",
        ("web-01", "vm-8.deactivate-non-essential-3d-features"): "pass",
        ("db-01", "vm-8.log-retention"): "fail",  # a conflict, reported though the VM was not planned
    }
    assert report.counts == {"pass": 2, "attested": 0, "waived": 1, "unsupported": 1, "pending": 2, "fail": 3}
    assert report.exit_code == 2 and report.objects == 3


def test_a_control_with_several_fields_takes_the_worst(report):
    ssh = rows(report)[("esx-01", "esxi-8.deactivate-ssh")]
    assert [(f.label, f.status) for f in ssh.fields] == [("services.TSM-SSH.policy", "pass"),
                                                         ("services.TSM-SSH.running", "fail")]
    assert ssh.current == {"services.TSM-SSH.policy": "off", "services.TSM-SSH.running": True}
    assert ssh.desired == {"services.TSM-SSH.policy": "off", "services.TSM-SSH.running": False}
    assert ssh.controls == ("esxi-8.deactivate-ssh", "ESXI-80-000193", "esx-9.ssh", "VCFE-9X-000096")
    assert ssh.lead.source == "specs/scg-8/host.yaml:16"


def test_parameters_are_not_results(report):
    paths = {f.path for r in report.rows for f in r.fields}
    assert ("powerCycle",) not in paths and ("networkSecurity", "excludePortgroups") not in paths


def test_subjects_and_uncatalogued_settings(report):
    promisc = rows(report)[("esx-01", "esxi-8.network-reject-promiscuous-mode-standardswitch")]
    assert promisc.fields[0].label == "networkSecurity.allowPromiscuous [vSwitch vSwitch0]"
    custom = rows(report)[("esx-01", "advancedSettings.Custom.Key")]
    assert custom.controls == () and custom.title == "setting not in the control catalog"


def test_status_mapping():
    from reconciler.controllers.contract import Skip
    from reconciler.engine.types import Change
    from reconciler.events.model import ObjectRef

    ref = ObjectRef("HostSystem", "h", "h")
    expected = {None: "fail", Skip.AUDIT: "fail", Skip.GUARD: "fail", Skip.CONFLICT: "fail", Skip.INVALID: "fail",
                Skip.NEEDS_FIRMWARE_CHANGE: "fail", Skip.FLAPPING: "fail", Skip.WAIVED: "waived",
                Skip.UNSUPPORTED: "unsupported", Skip.NEEDS_POWER_OFF: "pending",
                Skip.PENDING_POWER_CYCLE: "pending"}
    for reason, status in expected.items():
        assert model.status_of(Change(ref, "c", ("x",), 1, 2, reason=reason)) == status


def test_per_control_summary(report):
    summary = {s.id: s for s in report.by_control()}
    assert summary["esxi-8.deactivate-ssh"].counts["fail"] == 1
    assert [s.status for s in report.by_control()][0] == "fail"  # worst first


def test_problems_make_the_exit_code_1():
    built = model.build(build_run(problem=True))
    assert built.exit_code == 1
    assert built.errors == ["HostSystem esx-09: host is disconnected"]


def test_attestations_count_as_attested_and_expired_ones_are_reported():
    import datetime as dt

    from reconciler.engine import attestations
    from reconciler.engine.policies import CompiledSpecs

    today = dt.date(2026, 11, 22)
    run = build_run()
    run.specs = CompiledSpecs([], [], {}, [], [
        attestations.AttestationRule("tpm", {"hosts": ["esx-*"]}, ("esx-9.hardware-boot-order", "VCFE-9X-000152"),
                                     "TPM 2.0 on", "https://t.example/1", "ops@example.com", today, source="a.yaml:1"),
        attestations.AttestationRule("old", {"hosts": ["*"]}, ("esx-9.hardware-boot-order", "esx-9.updates"),
                                     "patched", "https://t.example/2", "ops@example.com", dt.date(2026, 11, 21)),
        attestations.AttestationRule("ssh", {"hosts": ["*"]}, ("esx-9.ssh",), "measured instead",
                                     "https://t.example/3", "ops@example.com", today),
    ])
    report = model.build(run, today=today)
    found = rows(report)
    tpm = found[("esx-01", "esx-9.hardware-boot-order")]
    assert (tpm.status, tpm.lead.policy, tpm.lead.source) == ("attested", "tpm", "a.yaml:1")  # active beats expired
    assert tpm.message == "attested by tpm (ops@example.com) until 2026-11-22: TPM 2.0 on; evidence https://t.example/1"
    assert found[("esx-01", "esx-9.vmk-vmotion")].status == "attested"  # named by its STIG ID
    updates = found[("esx-01", "esx-9.updates")]
    assert (updates.status, updates.lead.reason) == ("fail", "attestationExpired")
    assert "EXPIRED on 2026-11-21" in updates.message
    assert found[("esx-01", "esxi-8.deactivate-ssh")].status == "fail"  # measured: the statement does not hide it
    assert ("esx-01", "esx-9.ssh") not in found
    assert not any(name == "web-01" and cid.startswith("esx-9.") for name, cid in found)  # selects hosts only
    assert report.counts["attested"] == 2 and report.exit_code == 2
    assert tpm.as_dict()["status"] == "attested" and tpm.as_dict()["controls"] == ["esx-9.hardware-boot-order"]
