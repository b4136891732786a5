"""The esxcli-backed host controls end to end on the simulator: drift made out of band with esxcli (ExecuteSoap
posted to the simulator, as `Get-EsxCli -V2` does) -> `vsr plan` shows it with `readAt` -> `vsr apply` fixes it ->
read back with esxcli -> a second plan exits 0. Through vCenter (one host in lockdown mode) and through a direct
`-esx` connection; every control is batched into one policy per test to keep the simulator runs few."""

from __future__ import annotations

from typing import Any

import pytest

from harness import Workspace, host
from reconciler.vsphere import esxcli
from reconciler.vsphere.esxcli import Command
from simulator import start_simulator

pytestmark = pytest.mark.integration

HOST, LOCKED = "DC0_C0_H0", "DC0_C0_H1"


class Direct:
    """`call` without retries: the out-of-band tool."""

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)


def cli(h: Any, namespace: str, command: str, **args: Any) -> Any:
    return esxcli.Client(Direct()).execute(h, Command(namespace, command), args)  # type: ignore[arg-type]


def ssh(h: Any) -> dict[str, str]:
    return {r["Key"]: r["Value"] for r in cli(h, "system ssh server config", "list")}


def get(h: Any, namespace: str, command: str = "get") -> dict[str, Any]:
    value = cli(h, namespace, command)
    return value[0] if isinstance(value, list) else value


def accounts(h: Any) -> dict[str, str]:
    return {r["UserID"]: r["Shellaccess"] for r in cli(h, "system account", "list")}


def kernel(h: Any) -> dict[str, dict[str, str]]:
    return {r["Name"]: r for r in cli(h, "system settings kernel", "list")}


def drift(h: Any) -> None:
    """Out-of-band changes of every esxcli-backed setting (the insecure values of the STIG checks)."""
    for key, value in [("gatewayports", "yes"), ("clientalivecountmax", "10"), ("permittunnel", "yes"),
                       ("ciphers", "aes128-ctr"), ("allowstreamlocalforwarding", "yes")]:
        cli(h, "system ssh server config", "set", keyword=key, value=value)
    cli(h, "system security fips140 ssh", "set", enable=False)
    cli(h, "system security keypersistence", "enable")
    cli(h, "system syslog config logfilter", "set", logfilteringenabled=True)
    cli(h, "system settings kernel", "set", setting="entropySources", value="3")


POLICY = """
    selector: {hosts: [%s]}
    sshServer:
      gatewayports: "no"
      clientalivecountmax: 3
      permittunnel: "no"
      ciphers: "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
      allowstreamlocalforwarding: "no"
    fips140: {ssh: true}
    keyPersistence: false
    logFiltering: false
    shellAccess: {dcui: false}
    encryption: {mode: TPM, requireSecureBoot: true}
    tls: {profile: NIST_2024}
    kernel: {entropySources: 0}
    remediation: {reboot: Allowed}
"""
PATHS = {"sshServer.gatewayports", "sshServer.clientalivecountmax", "sshServer.permittunnel", "sshServer.ciphers",
         "sshServer.allowstreamlocalforwarding", "fips140.ssh", "keyPersistence", "logFiltering", "shellAccess.dcui",
         "encryption.mode", "encryption.requireSecureBoot", "tls.profile", "kernel.entropySources"}
REBOOT = {"tls.profile", "kernel.entropySources"}


def assert_converged(h: Any) -> None:
    config = ssh(h)
    assert (config["gatewayports"], config["clientalivecountmax"], config["permittunnel"],
            config["allowstreamlocalforwarding"]) == ("no", "3", "no", "no")
    assert config["ciphers"] == "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
    assert esxcli.boolean(get(h, "system security fips140 ssh")["Enabled"]) is True
    assert esxcli.boolean(get(h, "system security keypersistence")["Enabled"]) is False
    assert esxcli.boolean(get(h, "system syslog config logfilter")["LogFilteringEnabled"]) is False
    assert esxcli.boolean(accounts(h)["dcui"]) is False
    encryption = get(h, "system settings encryption")
    assert (encryption["Mode"], esxcli.boolean(encryption["RequireSecureBoot"])) == ("TPM", True)
    tls = get(h, "system tls server")
    assert tls["Profile"] == "NIST_2024" and esxcli.boolean(tls["RebootRequired"]) is True
    entropy = kernel(h)["entropySources"]
    assert (entropy["Configured"], entropy["Runtime"]) == ("0", "0")  # the out-of-band 3 never reached the kernel


def converge(ws: Workspace, capsys: Any, names: list[str]) -> None:
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out + first.err
    for name in names:
        found = {c["path"] for c in first.changes(name=name)}
        assert PATHS <= found, (name, PATHS - found, first.out)
        assert all(c.get("readAt") for c in first.changes(name=name)), first.out
        assert {c["path"] for c in first.changes(name=name, impact="reboot")} == REBOOT
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err
    for name in names:
        outcomes = {c["path"]: c["outcome"] for c in applied.changes(name=name)}
        assert outcomes == dict.fromkeys(PATHS, "applied"), applied.out
    again = ws.vsr(capsys, "plan")
    assert again.code == 0, again.out + again.err
    left = {(c["object"]["name"], c["path"], c["reason"]) for c in again.json["changes"]}
    assert left == {(n, "tls.profile", "pendingReboot") for n in names}, again.out  # until the host reboots


@pytest.fixture(scope="module")
def vc():
    handle = start_simulator()
    yield handle
    handle.stop()


def test_every_control_through_vcenter_including_a_host_in_lockdown(vc, tmp_path, capsys):
    si = vc.connect()
    h, locked = host(si, HOST), host(si, LOCKED)
    locked.configManager.hostAccessManager.ChangeLockdownMode(mode="lockdownNormal")
    drift(h)
    drift(locked)
    ws = Workspace(tmp_path, vc)
    ws.policy("esxcli", POLICY % f'"{HOST}", "{LOCKED}"')
    converge(ws, capsys, [HOST, LOCKED])
    assert str(locked.configManager.hostAccessManager.lockdownMode) == "lockdownNormal"
    for target in (h, locked):
        assert_converged(target)


def test_reboot_changes_wait_unless_the_policy_allows_them(vc, tmp_path, capsys):
    ws = Workspace(tmp_path, vc)
    ws.policy("tls", '''
        selector: {hosts: ["DC0_C0_H2"]}
        tls: {profile: NIST_2024_TLS_13_ONLY}
    ''')
    plan = ws.vsr(capsys, "apply")
    assert plan.code == 0, plan.out + plan.err
    (change,) = plan.changes(name="DC0_C0_H2", path="tls.profile")
    assert (change["reason"], change["impact"], change["current"]) == ("needsReboot", "reboot", "COMPATIBLE")
    assert get(host(vc.connect(), "DC0_C0_H2"), "system tls server")["Profile"] == "COMPATIBLE"


def test_every_control_through_a_direct_esx_connection_and_the_shell_guard(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx", username="root")
    si = esx.connect()
    (name,) = [h.name for h in si.content.viewManager.CreateContainerView(si.content.rootFolder, [
        __import__("pyVmomi").vim.HostSystem], True).view]
    h = host(si, name)
    drift(h)
    ws = Workspace(tmp_path, esx)
    ws.policy("esxcli", POLICY % f'"{name}"')
    converge(ws, capsys, [name])
    assert_converged(h)
    ws.policy("root-shell", f'''
        selector: {{hosts: ["{name}"]}}
        shellAccess: {{{esx.username}: false}}
    ''')
    refused = ws.vsr(capsys, "apply")
    (change,) = refused.changes(name=name, path=f"shellAccess.{esx.username}")
    assert change["reason"] == "guard" and "connects directly to this host" in change["message"], refused.out
    assert esxcli.boolean(accounts(h)[esx.username]) is True


def test_daemon_finds_an_out_of_band_esxcli_change_at_the_next_poll(vc, tmp_path):
    from test_daemon import Daemon, vcenter_doc
    from harness import wait_for

    target = "DC0_C0_H2"
    d = Daemon(tmp_path / "d", "--poll-interval", "1s")
    (d.specs / "vc.yaml").write_text(vcenter_doc(vc, "sim", tmp_path / "creds"))
    (d.specs / "logs.yaml").write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: logs}\nspec:\n"
        f"  selector: {{hosts: [\"{target}\"]}}\n  logFiltering: false\n")
    try:
        d.start().wait_ready()
        h = host(vc.connect(), target)
        cli(h, "system syslog config logfilter", "set", logfilteringenabled=True)  # no property update tells
        wait_for(lambda: d.events("DriftRemediated", target, "logFiltering"), 5.0,
                 f"DriftRemediated by the next poll\n{d.log.read_text()}")
        assert d.events("DriftDetected", target, "logFiltering")
        assert esxcli.boolean(get(h, "system syslog config logfilter")["LogFilteringEnabled"]) is False
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
