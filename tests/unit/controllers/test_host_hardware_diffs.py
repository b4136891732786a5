"""hardware.*: firmware facts from the host's capability, audit only (reconciler.controllers.host_hardware)."""

from __future__ import annotations

import pytest

from reconciler.controllers.contract import ObjectState, Skip
from reconciler.controllers.host_hardware import SECURE_BOOT, TPM2, TXT, HostHardware
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01")
INTEL = "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
GOOD = {"capability.tpmSupported": True, "capability.tpmVersion": "2.0", "capability.uefiSecureBoot": True,
        "capability.txtEnabled": True, "summary.hardware.cpuModel": INTEL}
ALL = {TPM2: True, SECURE_BOOT: True, TXT: True}


def diff(props: dict, desired: dict = ALL) -> dict:
    return {d.path: d for d in HostHardware().diff(desired, ObjectState(REF, props))}


def test_a_compliant_host_has_no_finding():
    assert diff(GOOD) == {}


@pytest.mark.parametrize("change, path, shown", [
    ({"capability.tpmSupported": False, "capability.tpmVersion": None}, TPM2, "none"),
    ({"capability.tpmVersion": "1.2"}, TPM2, "1.2"),
    ({"capability.uefiSecureBoot": False}, SECURE_BOOT, False),
    ({"capability.txtEnabled": False}, TXT, False),
])
def test_each_missing_firmware_feature_is_an_audit_finding(change, path, shown):
    (only,) = diff({**GOOD, **change}).values()
    assert (only.path, only.current, only.desired, only.skip) == (path, shown, True, Skip.AUDIT)
    assert "set in the server's firmware" in only.message


def test_txt_where_available_only_intel_cpus_need_it():
    amd = {**GOOD, "capability.txtEnabled": False, "summary.hardware.cpuModel": "AMD EPYC 7763 64-Core Processor"}
    assert diff(amd) == {}


def test_a_host_that_does_not_report_is_unsupported_and_false_is_not_required():
    found = diff({"summary.hardware.cpuModel": INTEL})
    assert {p: d.skip for p, d in found.items()} == {TPM2: Skip.UNSUPPORTED, SECURE_BOOT: Skip.UNSUPPORTED,
                                                     TXT: Skip.UNSUPPORTED}
    assert "capability.uefiSecureBoot" in found[SECURE_BOOT].message
    assert diff({}, {TPM2: False, SECURE_BOOT: False, TXT: False}) == {}
