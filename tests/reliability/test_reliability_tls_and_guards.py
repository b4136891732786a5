"""TLS refusals end to end (`vsr` and the daemon) and every lockout guard: the refusal, its message, the event,
and that the host is unchanged. Library-level TLS cases are in tests/unit/vsphere/test_tls.py."""

from __future__ import annotations

import pytest

from harness import Workspace, host, ruleset, service
from rel_helpers import Daemon, policy, vsr, wait_for

pytestmark = [pytest.mark.integration]

SSH_OFF = policy("HostSecurityPolicy", "ssh-off", 'selector: {hosts: ["*"]}\nservices: {TSM-SSH: {running: false}}')


def vc_doc(sim, tls: str) -> str:
    return (f"apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {{name: sim}}\nspec:\n"
            f"  server: \"{sim.host}:{sim.port}\"\n"
            f"  credentials: {{usernameFile: \"{sim.username_file}\", passwordFile: \"{sim.password_file}\"}}\n"
            f"  tls: {tls}\n")


def tls_case(tmp_path, sim, name: str, tls: str):
    specs = tmp_path / name
    specs.mkdir()
    (specs / "vc.yaml").write_text(vc_doc(sim, tls))
    (specs / "ssh.yaml").write_text(SSH_OFF)
    return vsr("apply", str(specs), "-o", "json", "--yes", "--journal", str(tmp_path / "j.db"), timeout=60)


def test_tls_unknown_ca_and_wrong_thumbprint_are_refused(sim_factory, tmp_path):
    sim = sim_factory("-drift")
    wrong = ":".join(["AB"] * 32)
    unknown = tls_case(tmp_path, sim, "unknown", "{verify: true}")
    pinned_wrong = tls_case(tmp_path, sim, "wrong", f"{{thumbprint: \"{wrong}\"}}")
    for run, words in ((unknown, f"TLS verification failed for {sim.host}:{sim.port}"),
                       (pinned_wrong, f"TLS thumbprint mismatch for {sim.host}:{sim.port}: the server presents "
                                      f"{sim.thumbprint}, pinned {wrong}")):
        assert run.code == 1
        text = run.out + run.err
        assert words in text, text[-2000:]
        assert "Traceback" not in text
        assert not [c for c in run.json["changes"] if c["outcome"] == "applied"]
    assert "set tls.caFile or tls.thumbprint" in unknown.out + unknown.err
    assert service(host(sim.connect(), "DC0_C0_H0"), "TSM-SSH").running is True, "nothing was changed"
    right = tls_case(tmp_path, sim, "right", f"{{thumbprint: \"{sim.thumbprint}\"}}")
    assert right.code == 0, "the right pin works (self-signed, no CA)"


def test_insecure_connects_and_warns(sim_factory, tmp_path):
    sim = sim_factory()
    (tmp_path / "ssh.yaml").write_text(SSH_OFF)
    adhoc = vsr("plan", str(tmp_path / "ssh.yaml"), "--server", sim.server, "--username", sim.username,
                "--password-file", str(sim.password_file), "--insecure", "--journal", str(tmp_path / "j.db"),
                "--log-format", "json", timeout=60)
    doc = tls_case(tmp_path, sim, "doc", "{verify: false}")
    for run in (adhoc, doc):
        assert run.code == 0, run.err[-2000:]
        warnings = [line for line in run.logs() if line.get("level") == "warning"] if run is adhoc else None
        text = run.err.lower()
        assert "warning" in text and "verif" in text, run.err
        if warnings is not None:
            assert [w for w in warnings if "verif" in str(w).lower()], "a warning says verification is off"


def test_daemon_with_an_untrusted_certificate_stays_up_and_reports_it(sim_factory, tmp_path):
    sim = sim_factory("-drift")
    d = Daemon(tmp_path / "d")
    (d.specs / "vc.yaml").write_text(vc_doc(sim, "{verify: true}"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    try:
        d.start()
        wait_for(lambda: "TLS verification failed" in d.get("/status")[1], 30,
                 f"daemon reports the TLS refusal\n{d.log.read_text()[-2000:]}")
        assert [vc["connected"] for vc in d.status()["vcenters"]] == [False]
        assert d.get("/readyz")[0] == 200  # readiness is the process, not the vCenter (docs/deploy.md)
        assert d.proc.poll() is None
        assert service(host(sim.connect(), "DC0_C0_H0"), "TSM-SSH").running is True
    finally:
        d.stop()


# -- lockout guards -------------------------------------------------------------------------------------------

def snapshot(h) -> dict:
    access = h.configManager.hostAccessManager
    return {
        "lockdown": str(access.lockdownMode),
        "exceptions": sorted(access.QueryLockdownExceptions() or []),
        "vSphereClient": (ruleset(h, "vSphereClient").enabled, ruleset(h, "vSphereClient").allowedHosts.allIp,
                          sorted(ruleset(h, "vSphereClient").allowedHosts.ipNetwork and
                                 [n.network for n in ruleset(h, "vSphereClient").allowedHosts.ipNetwork] or [])),
        "vpxa": (service(h, "vpxa").running, service(h, "vpxa").policy),
    }


def enable_client_ruleset(sim, name: str) -> None:
    """The simulator's ESXi capture has vSphereClient disabled; a real host has it enabled (the client uses it)."""
    h = host(sim.connect(), name)
    if not ruleset(h, "vSphereClient").enabled:
        h.configManager.firewallSystem.EnableRuleset(id="vSphereClient")


def guarded(ws, capsys, name: str, body: str, host_name: str):
    si = ws.sim.connect()
    before = snapshot(host(si, host_name))
    ws.policy(name, body)
    run = ws.vsr(capsys, "apply")
    assert run.json["specIssues"] == []
    after = snapshot(host(ws.sim.connect(), host_name))
    assert after == before, "the host is unchanged"
    blocked = [c for c in run.json["changes"] if c["reason"] == "guard"]
    assert blocked and all(c["outcome"] != "applied" for c in blocked)
    events = [e for e in ws.events("RemediationBlocked") if e.object.name == host_name]
    for c in blocked:
        if c["object"]["name"] == host_name:
            assert [e for e in events if e.path == c["path"] and c["message"] in e.message], c
    (ws.specs / f"{name}.yaml").unlink()
    return run, {c["path"]: c["message"] for c in blocked if c["object"]["name"] == host_name}


def test_guards_on_a_directly_connected_host(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    name = "localhost.localdomain"
    _, msgs = guarded(ws, capsys, "lockdown", 'selector: {hosts: ["*"]}\nlockdown: {mode: normal}', name)
    assert msgs["lockdown.mode"] == (
        f"refusing lockdown mode 'normal': the reconciler connects directly to this host as the user in "
        f"{esx.username_file}, which "
        "is not a lockdown exception user; add it to lockdown.exceptionUsers or connect through vCenter")
    _, msgs = guarded(ws, capsys, "strict", 'selector: {hosts: ["*"]}\nlockdown: {mode: strict, '
                      'exceptionUsers: [someone-else]}', name)
    assert "refusing lockdown mode 'strict'" in msgs["lockdown.mode"]
    _, msgs = guarded(ws, capsys, "allow", 'selector: {hosts: ["*"]}\n'
                      'firewall: {vSphereClient: {allowedIPs: ["192.0.2.0/24"]}}', name)
    assert msgs["firewall.vSphereClient.allowedIPs"].startswith("refusing to restrict ruleset vSphereClient to ")
    assert "it excludes 127.0.0.1, the address the reconciler uses to manage this host" in \
        msgs["firewall.vSphereClient.allowedIPs"]
    enable_client_ruleset(esx, name)
    _, msgs = guarded(ws, capsys, "disable", 'selector: {hosts: ["*"]}\nfirewall: {vSphereClient: {enabled: false}}',
                      name)
    assert msgs["firewall.vSphereClient.enabled"] == \
        "refusing to disable ruleset vSphereClient: the reconciler manages this host through it"
    # control: an allow-list that includes the reconciler's address is applied
    ws.policy("ok", 'selector: {hosts: ["*"]}\nfirewall: {vSphereClient: {allowedIPs: ["127.0.0.0/8"]}}')
    run = ws.vsr(capsys, "apply")
    assert run.code == 0 and ruleset(host(esx.connect(), name), "vSphereClient").allowedHosts.allIp is False


def test_guards_through_vcenter(sim_factory, tmp_path, capsys):
    sim = sim_factory()
    ws = Workspace(tmp_path, sim)
    h = "DC0_C0_H0"
    vc_address = host(sim.connect(), h).summary.managementServerIp
    assert vc_address
    _, msgs = guarded(ws, capsys, "vpxa", 'selector: {hosts: ["*"]}\nservices: {vpxa: {running: false, '
                      'policy: "off"}}', h)
    for path in ("services.vpxa.running", "services.vpxa.policy"):
        assert msgs[path] == ("refusing to stop vpxa: vCenter manages this host through it, so the reconciler (and "
                              "vCenter) would lose the host")
    _, msgs = guarded(ws, capsys, "allow", 'selector: {hosts: ["*"]}\n'
                      'firewall: {vSphereClient: {allowedIPs: ["192.0.2.0/24"]}}', h)
    assert f"it excludes {vc_address}, the address vCenter uses to manage this host" in \
        msgs["firewall.vSphereClient.allowedIPs"]
    enable_client_ruleset(sim, h)
    _, msgs = guarded(ws, capsys, "disable", 'selector: {hosts: ["*"]}\nfirewall: {vSphereClient: {enabled: false}}', h)
    assert msgs["firewall.vSphereClient.enabled"] == \
        "refusing to disable ruleset vSphereClient: vCenter manages this host through it"
    # through vCenter, lockdown is allowed (vCenter keeps its access through vpxuser): no guard
    ws.policy("lockdown", 'selector: {hosts: ["DC0_C0_H0"]}\nlockdown: {mode: normal}')
    run = ws.vsr(capsys, "apply")
    assert run.code == 0 and str(host(sim.connect(), h).configManager.hostAccessManager.lockdownMode) == \
        "lockdownNormal"
