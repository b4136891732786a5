"""The Attestation kind: positioned validation like Waiver's; unknown control IDs are errors naming the field,
an expired attestation is a warning, attesting a setting vsr measures is a warning."""

from __future__ import annotations

import datetime as dt

from reconciler.api import load_texts
from reconciler.engine.policies import compile_documents

GOOD = """\
apiVersion: vsr.dev/v1alpha1
kind: Attestation
metadata: {name: hardware}
spec:
  selector: {hosts: ["esx-*"]}
  controls: ["esx-9.hardware-boot-order", "VCFE-9X-000152"]
  statement: "boot order restricted in firmware and vMotion on its own network"
  evidence: https://tickets.example.com/SEC-901
  owner: platform@example.com
  expires: 2099-12-31
"""


def load(text: str):
    return load_texts([("att.yaml", text)])


def messages(result):
    return [str(i) for i in result.issues]


def test_a_valid_attestation_loads_and_compiles():
    result = load(GOOD)
    assert result.ok and not result.warnings, messages(result)
    specs = compile_documents(result.documents, dt.date(2026, 1, 1))
    (rule,) = specs.attestations
    assert (rule.name, rule.controls, rule.owner, rule.expires) == (
        "hardware", ("esx-9.hardware-boot-order", "VCFE-9X-000152"), "platform@example.com", dt.date(2099, 12, 31))
    assert rule.source == "att.yaml:1" and rule.active(dt.date(2099, 12, 31)) and not rule.active(dt.date(2100, 1, 1))


def test_an_unknown_control_is_an_error_naming_the_field_and_a_close_match():
    result = load(GOOD.replace('"esx-9.hardware-boot-order"', '"esx-9.hardware-boot-ordr"'))
    assert not result.ok
    (issue,) = result.errors
    assert (issue.file, issue.line) == ("att.yaml", 6)
    assert str(issue).endswith("Attestation/hardware: spec.controls[0]: unknown control 'esx-9.hardware-boot-ordr'; "
                               "did you mean 'esx-9.hardware-boot-order'?")


def test_expired_is_a_warning_and_the_rule_stops_counting():
    result = load(GOOD.replace("2099-12-31", "2020-01-31"))
    assert result.ok
    (warning,) = result.warnings
    assert str(warning) == ("att.yaml:10:3: Attestation/hardware: spec.expires: attestation expired on 2020-01-31; "
                            "it no longer counts")
    assert warning.severity == "warning"
    (rule,) = compile_documents(result.documents, dt.date.today()).attestations
    assert not rule.active(dt.date.today())


def test_attesting_a_measured_setting_is_a_warning():
    result = load(GOOD.replace('"VCFE-9X-000152"', '"esx-9.ssh"'))
    assert result.ok
    (warning,) = result.warnings
    assert "spec.controls[1]: esx-9.ssh is a setting vsr checks (services.TSM-SSH.policy, services.TSM-SSH.running)" \
        in str(warning)


def test_bad_fields_are_positioned_errors():
    bad = GOOD.replace("evidence: https://tickets.example.com/SEC-901", "evidence: SEC-901").replace(
        'controls: ["esx-9.hardware-boot-order", "VCFE-9X-000152"]', "controls: []").replace(
        "  owner: platform@example.com\n", "")
    found = messages(load(bad))
    assert "att.yaml:6:3: Attestation/hardware: spec.controls: must list at least one entry" in found
    assert any(m.startswith("att.yaml:8:3: Attestation/hardware: spec.evidence: must be a link (scheme://...")
               for m in found), found
    assert any("spec.owner" in m and "required" in m for m in found), found
