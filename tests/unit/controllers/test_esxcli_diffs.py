"""Diffs and guards of the esxcli-backed host controllers, on parsed esxcli values as the client returns them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reconciler.controllers.contract import ConnectionFacts, FieldDiff, Impact, ObjectState, PolledValue, Skip
from reconciler.controllers.host_encryption import HostEncryption
from reconciler.controllers.host_esxcli_misc import HostKeyPersistence, HostLogFiltering, HostShellAccess
from reconciler.controllers.host_kernel import HostKernel
from reconciler.controllers.host_ssh_server import HostFips140, HostSshServer
from reconciler.controllers.host_tls import HostTls
from reconciler.events.model import ObjectRef

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
DIRECT = ConnectionFacts("esx", is_vcenter=False, username="root", local_address=None)
VCENTER = ConnectionFacts("vc", is_vcenter=True, username="administrator@vsphere.local", local_address=None)
ALLOW_REBOOT = {("remediation",): {"reboot": "Allowed"}}


def state(**polled: Any) -> ObjectState:
    s = ObjectState(ObjectRef("HostSystem", "host-21", "esx-01", "vc"), {})
    s.polled.update({f"esxcli.{k}": PolledValue(v, NOW) for k, v in polled.items()})
    return s


SSH_ROWS = [{"Key": "ciphers", "Value": "aes256-ctr,aes128-ctr"}, {"Key": "ignorerhosts", "Value": "yes"},
            {"Key": "clientalivecountmax", "Value": "3"}, {"Key": "gatewayports", "Value": "yes"}]


def test_ssh_compares_esxcli_value_forms_and_reports_missing_keys():
    s = state(sshServerConfig=SSH_ROWS)
    diffs = HostSshServer().diff({("sshServer", "ignorerhosts"): "yes", ("sshServer", "clientalivecountmax"): 3,
                                  ("sshServer", "gatewayports"): "no", ("sshServer", "ciphers"): "aes256-ctr",
                                  ("sshServer", "allowstreamlocalforwarding"): "no"}, s)
    assert [(d.path[1], d.current, d.desired, d.skip) for d in diffs] == [
        ("allowstreamlocalforwarding", None, "no", Skip.UNSUPPORTED),
        ("ciphers", "aes256-ctr,aes128-ctr", "aes256-ctr", None),
        ("gatewayports", "yes", "no", None)]


def test_fips_reads_each_service():
    s = state(**{"fips140.ssh": {"Enabled": "false"}, "fips140.rhttpproxy": {"Enabled": "true"}})
    diffs = HostFips140().diff({("fips140", "ssh"): True, ("fips140", "rhttpproxy"): True}, s)
    assert diffs == [FieldDiff(("fips140", "ssh"), False, True)]


@pytest.mark.parametrize("desired,expected", [
    ({}, Skip.NEEDS_REBOOT),
    (ALLOW_REBOOT, None),
])
def test_tls_profile_needs_a_reboot_unless_allowed(desired, expected):
    s = state(tlsServer={"Profile": "COMPATIBLE", "RebootRequired": "false"})
    [d] = HostTls().diff({("tls", "profile"): "NIST_2024", **desired}, s)
    assert (d.current, d.desired, d.impact, d.skip) == ("COMPATIBLE", "NIST_2024", Impact.REBOOT, expected)


def test_tls_profile_written_but_not_booted_is_pending():
    s = state(tlsServer={"Profile": "NIST_2024", "RebootRequired": "true"})
    [d] = HostTls().diff({("tls", "profile"): "NIST_2024"}, s)
    assert d.skip is Skip.PENDING_REBOOT
    assert HostTls().diff({("tls", "profile"): "NIST_2024"}, state(tlsServer={"Profile": "NIST_2024"})) == []


def test_tls_guard_only_judges_direct_connections(monkeypatch):
    from reconciler.vsphere import tls
    d = FieldDiff(("tls", "profile"), "COMPATIBLE", "NIST_2024_TLS_13_ONLY", impact=Impact.REBOOT)
    monkeypatch.setattr(tls, "client_protocols", lambda: frozenset({"TLSv1.2"}))
    assert "cannot negotiate TLS 1.3" in HostTls().guard(d, {}, state(), DIRECT)
    assert HostTls().guard(d, {}, state(), VCENTER) is None
    monkeypatch.setattr(tls, "client_protocols", lambda: frozenset({"TLSv1.2", "TLSv1.3"}))
    assert HostTls().guard(d, {}, state(), DIRECT) is None


def test_encryption_tpm_cannot_be_undone():
    s = state(settingsEncryption={"Mode": "TPM", "RequireSecureBoot": "false",
                                  "RequireExecutablesOnlyFromInstalledVIBs": "false"})
    diffs = HostEncryption().diff({("encryption", "mode"): "NONE", ("encryption", "requireSecureBoot"): True,
                                   ("encryption", "requireExecInstalledOnly"): False}, s)
    assert [(d.path[1], d.skip) for d in diffs] == [("mode", Skip.UNSUPPORTED), ("requireSecureBoot", None)]


def test_kernel_configured_vs_runtime():
    rows = [{"Name": "disableHwrng", "Configured": "TRUE", "Runtime": "TRUE", "Default": "FALSE"},
            {"Name": "entropySources", "Configured": "0", "Runtime": "3", "Default": "0"}]
    diffs = HostKernel().diff({("kernel", "disableHwrng"): False, ("kernel", "entropySources"): 0, **ALLOW_REBOOT},
                              state(kernelSettings=rows))
    assert [(d.path[1], d.current, d.skip) for d in diffs] == [("disableHwrng", True, None),
                                                               ("entropySources", 0, Skip.PENDING_REBOOT)]


def test_key_persistence_and_log_filter():
    assert HostKeyPersistence().diff({("keyPersistence",): False}, state(keyPersistence={"Enabled": "true"})) == \
        [FieldDiff(("keyPersistence",), True, False)]
    assert HostLogFiltering().diff({("logFiltering",): False}, state(logFilter={"LogFilteringEnabled": "false"})) == []


def test_shell_access_and_its_guard():
    rows = [{"UserID": "root", "Description": "Administrator", "Shellaccess": "true"},
            {"UserID": "dcui", "Description": "DCUI User", "Shellaccess": "true"}]
    s = state(accounts=rows)
    diffs = HostShellAccess().diff({("shellAccess", "dcui"): False, ("shellAccess", "root"): False,
                                    ("shellAccess", "nobody"): False}, s)
    assert [(d.path[1], d.current, d.skip) for d in diffs] == [("dcui", True, None), ("nobody", None, Skip.UNSUPPORTED),
                                                               ("root", True, None)]
    root, dcui = diffs[2], diffs[0]
    assert "refusing to disable the shell access of 'root'" in HostShellAccess().guard(root, {}, s, DIRECT)
    assert HostShellAccess().guard(dcui, {}, s, DIRECT) is None
    assert HostShellAccess().guard(root, {}, s, VCENTER) is None
