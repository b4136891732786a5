"""The esxcli-backed HostSecurityPolicy sections: bad input gets positioned errors (file:line, document, field)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reconciler.api import load_specs

HEAD = "apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: p}\nspec:\n  selector: {hosts: ['*']}\n"


def issues(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + body)
    result = load_specs([path], today=dt.date(2026, 1, 1))
    return [str(e) for e in result.errors]


@pytest.mark.parametrize("body,line,where,says", [
    ("  sshServer:\n    ignoreRhosts: 'yes'\n", 7, "spec.sshServer.ignoreRhosts", ""),
    ("  sshServer:\n    ignorerhosts: true\n", 7, "spec.sshServer.ignorerhosts", "'yes' or 'no'"),
    ("  sshServer:\n    clientalivecountmax: '3'\n", 7, "spec.sshServer.clientalivecountmax", "integer"),
    ("  sshServer:\n    ciphers: aes256-ctr, 3des\n", 7, "spec.sshServer.ciphers", "unknown cipher ' 3des'"),
    ("  tls:\n    profile: NIST_2023\n", 7, "spec.tls.profile", "NIST_2024_TLS_13_ONLY"),
    ("  encryption: {mode: tpm}\n", 6, "spec.encryption.mode", "'TPM' or 'NONE'"),
    ("  shellAccess: {dcui: 'false'}\n", 6, "spec.shellAccess.dcui", "must be true or false"),
    ("  remediation: {reboot: Always}\n", 6, "spec.remediation.reboot", "'Never' or 'Allowed'"),
])
def test_positioned_errors(tmp_path, body, line, where, says):
    [error] = issues(tmp_path, body)
    assert error.startswith(f"{tmp_path / 'p.yaml'}:{line}:") and "HostSecurityPolicy/p" in error
    assert f" {where}: " in error and says in error


def test_a_valid_section_loads(tmp_path):
    assert issues(tmp_path, "  sshServer: {ciphers: 'aes256-gcm@openssh.com,aes128-ctr', gatewayports: 'no', "
                            "clientaliveinterval: 200}\n  tls: {profile: NIST_2024}\n  kernel: {entropySources: 0}\n"
                            "  keyPersistence: false\n  remediation: {reboot: Allowed}\n") == []
