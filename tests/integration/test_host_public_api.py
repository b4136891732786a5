"""Host public-API controls end to end on one `-drift` simulator (issue 16): NTP servers, the firewall default
policy and its guard, the image acceptance level (polled), VGT on standard port groups, the SNMP agent with
communities from a secret file (never in any output), and the audit-only Active Directory and certificate
checks. Each test works on its own host (or its own setting), so they share the simulator."""

from __future__ import annotations

import datetime as dt

import pytest
from pyVmomi import vim

from harness import Workspace, host, service, wait_for
from reconciler.cli import main as vsr_main
from simulator import start_simulator
from test_daemon import Daemon, vcenter_doc

pytestmark = pytest.mark.integration

DRIFTED, DRIFTED2, CLEAN, STANDALONE = "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "DC0_H0"
SECRET = "Kx9-community-SECRET-77e1"


@pytest.fixture(scope="module")
def sim():
    handle = start_simulator("-drift")
    yield handle
    handle.stop()


@pytest.fixture
def ws(tmp_path, sim):
    return Workspace(tmp_path, sim)


def only(name: str) -> str:
    return f"selector: {{hosts: [{name}]}}\n"


def converge(ws, capsys, **match):
    """plan (exit 2, a change matching `match`) -> apply (exit 0, all applied) -> plan (exit 0, no change)."""
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out + first.err
    assert first.changes(**match), f"no change matching {match} in {first.out}"
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err
    assert applied.json["changes"] and all(c["outcome"] == "applied" for c in applied.json["changes"]), applied.out
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == [], again.out
    return first.changes(**match)


def test_ntp_servers_converge_and_read_back(ws, capsys, sim):
    ws.policy("ntp", only(DRIFTED) + "ntp: {servers: [ntp1.lab.test, 192.0.2.123]}")
    (change,) = converge(ws, capsys, name=DRIFTED, path="ntp.servers")
    assert (change["current"], change["desired"]) == ([], ["ntp1.lab.test", "192.0.2.123"])
    info = host(sim.connect(), DRIFTED).configManager.dateTimeSystem.dateTimeInfo
    assert list(info.ntpConfig.server) == ["ntp1.lab.test", "192.0.2.123"]


def test_firewall_default_policy_blocks_incoming_and_the_guard_keeps_vcenters_path(ws, capsys, sim):
    si = sim.connect()
    # DRIFTED2 accepts incoming traffic (-drift) and its vSphereClient ruleset no longer admits vCenter (127.0.0.1)
    h2 = host(si, DRIFTED2)
    h2.configManager.firewallSystem.UpdateRuleset(id="vSphereClient", spec=vim.host.Ruleset.RulesetSpec(
        allowedHosts=vim.host.Ruleset.IpList(allIp=False, ipAddress=["10.9.9.9"])))
    ws.policy("fw-default", f"selector: {{hosts: [{DRIFTED}, {DRIFTED2}]}}\n"
                            "firewallDefaultPolicy: {incomingBlocked: true, outgoingBlocked: true}")
    plan = ws.vsr(capsys, "plan")
    (refused,) = plan.changes(name=DRIFTED2, path="firewallDefaultPolicy.incomingBlocked")
    assert refused["reason"] == "guard" and "does not admit 127.0.0.1, the address of vCenter" in refused["message"]
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 2  # the refused change stays as drift
    (done,) = applied.changes(name=DRIFTED, path="firewallDefaultPolicy.incomingBlocked")
    assert (done["current"], done["desired"], done["outcome"]) == (False, True, "applied")
    assert host(si, DRIFTED).config.firewall.defaultPolicy.incomingBlocked is True
    assert h2.config.firewall.defaultPolicy.incomingBlocked is False  # refused: not written
    h2.configManager.firewallSystem.UpdateRuleset(id="vSphereClient", spec=vim.host.Ruleset.RulesetSpec(
        allowedHosts=vim.host.Ruleset.IpList(allIp=True)))
    assert ws.vsr(capsys, "apply").code == 0
    assert ws.vsr(capsys, "plan").json["changes"] == []


def test_acceptance_level_minimum_raises_a_lower_level_and_reports_when_it_was_read(ws, capsys, sim):
    ws.policy("vib", only(DRIFTED) + "acceptanceLevel: {minimum: PartnerSupported}")
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    (change,) = converge(ws, capsys, name=DRIFTED, path="acceptanceLevel.minimum")
    assert (change["current"], change["desired"]) == ("CommunitySupported", "PartnerSupported")
    assert dt.datetime.fromisoformat(change["readAt"].replace("Z", "+00:00")) >= before
    manager = host(sim.connect(), DRIFTED).configManager.imageConfigManager
    assert manager.HostImageConfigGetAcceptance() == "partner"


def test_acceptance_level_the_host_refuses_fails_that_host_only(ws, capsys):
    ws.policy("vib-high", only(CLEAN) + "acceptanceLevel: {minimum: VMwareCertified}")
    applied = ws.vsr(capsys, "apply")
    (failed,) = applied.changes(name=CLEAN, path="acceptanceLevel.minimum")
    assert failed["outcome"] == "failed" and "AcceptanceConfigError" in failed["error"], failed
    assert applied.code == 1


def test_vgt_is_reported_without_a_replacement_and_replaced_with_one(ws, capsys, sim):
    net = host(sim.connect(), CLEAN).configManager.networkSystem
    pg = next(p for p in net.networkInfo.portgroup if p.spec.name == "VM Network")
    spec = pg.spec
    spec.vlanId = 4095
    net.UpdatePortGroup(pgName="VM Network", portgrp=spec)
    ws.policy("vgt", only(CLEAN) + "vgt: {allowed: false}")
    plan = ws.vsr(capsys, "plan")
    (audit,) = plan.changes(name=CLEAN, path="vgt.allowed")
    assert (plan.code, audit["subject"], audit["reason"]) == (2, "portgroup VM Network", "audit")
    ws.policy("vgt", only(CLEAN) + "vgt: {allowed: false, exceptPortgroups: [VM*]}")
    assert ws.vsr(capsys, "plan").code == 0
    ws.policy("vgt", only(CLEAN) + "vgt: {allowed: false, replacementVlan: 10}")
    converge(ws, capsys, name=CLEAN, path="vgt.allowed", subject="portgroup VM Network")
    vlans = {p.spec.name: p.spec.vlanId for p in net.networkInfo.portgroup}
    assert vlans["VM Network"] == 10


def test_snmp_communities_from_a_secret_file_are_set_and_never_shown(ws, capsys, sim, tmp_path):
    secret = tmp_path / "snmp-communities"
    secret.write_text(f"{SECRET}\n\n")
    ws.policy("snmp", only(DRIFTED2) + f"snmp: {{enabled: true, communitiesFile: \"{secret}\"}}")
    plan = ws.vsr(capsys, "plan")
    (change,) = plan.changes(name=DRIFTED2, path="snmp.communitiesFile")
    assert (change["current"], change["desired"]) == ("<secret>", f"<secret in {secret}>")  # "public" differs
    runs = [plan, ws.vsr(capsys, "apply"), ws.vsr(capsys, "plan"), ws.vsr(capsys, "report")]
    assert runs[1].code == 0 and runs[2].code == 0 and runs[2].json["changes"] == []
    config = host(sim.connect(), DRIFTED2).configManager.snmpSystem.configuration
    assert (config.enabled, list(config.readOnlyCommunities)) == (True, [SECRET])
    missing = tmp_path / "gone"
    ws.policy("snmp", only(DRIFTED2) + f"snmp: {{communitiesFile: \"{missing}\"}}")
    bad = ws.vsr(capsys, "plan")
    (invalid,) = bad.changes(name=DRIFTED2, path="snmp.communitiesFile")
    assert invalid["reason"] == "invalid" and f"{missing}: file not found" in invalid["message"]
    for run in [*runs, bad]:
        assert SECRET not in run.out + run.err
    assert vsr_main(["events", "-o", "json", "--journal", str(ws.journal)]) == 0
    events = capsys.readouterr()
    assert "snmp.communitiesFile" in events.out and SECRET not in events.out + events.err
    journal = b"".join(p.read_bytes() for p in ws.root.glob("journal.db*"))
    assert journal and SECRET.encode() not in journal


def test_active_directory_and_certificate_issuer_are_audit_only(ws, capsys, sim):
    ws.policy("identity", only(STANDALONE) + "activeDirectory: {domain: corp.lab.test}\n"
                                            'certificate: {allowedIssuers: ["O=Example Corp, CN=Issuing CA"]}')
    plan = ws.vsr(capsys, "plan")
    (ad,) = plan.changes(name=STANDALONE, path="activeDirectory.domain")
    (cert,) = plan.changes(name=STANDALONE, path="certificate.allowedIssuers")
    assert (ad["current"], ad["reason"]) == (None, "audit") and "joinPasswordFile" in ad["message"]
    assert cert["reason"] == "audit" and "O=vcsa.vsr.test" in cert["current"]
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 2 and all(c["outcome"] != "applied" for c in applied.json["changes"])
    # the operator installs a certificate from the allowed CA: the audit passes
    manager = host(sim.connect(), STANDALONE).configManager.certificateManager
    manager.InstallServerCertificate(cert=_certificate("O=Example Corp, CN=Issuing CA"))
    assert manager.certificateInfo.issuer.startswith("CN=Issuing CA")
    after = ws.vsr(capsys, "plan")
    assert [c["path"] for c in after.changes(name=STANDALONE)] == ["activeDirectory.domain"]


def test_active_directory_join_with_an_account_from_files_never_shows_the_password(ws, capsys, sim, tmp_path):
    user, password = tmp_path / "ad-user", tmp_path / "ad-password"
    user.write_text("CORP\\svc-join\n")
    password.write_text(SECRET + "\n")
    ws.policy("ad", only(CLEAN) + f"activeDirectory: {{domain: corp.lab.test, joinUsernameFile: \"{user}\", "
                                  f"joinPasswordFile: \"{password}\"}}")
    (change,) = converge(ws, capsys, name=CLEAN, path="activeDirectory.domain")
    assert (change["current"], change["desired"]) == (None, "corp.lab.test")
    h = host(sim.connect(), CLEAN)
    store = next(s for s in h.config.authenticationManagerInfo.authConfig if isinstance(s, vim.host.ActiveDirectoryInfo))
    assert (store.joinedDomain, store.domainMembershipStatus) == ("corp.lab.test", "ok")
    assert service(h, "lwsmd").running is True
    report = ws.vsr(capsys, "report")
    journal = b"".join(p.read_bytes() for p in ws.root.glob("journal.db*"))
    assert SECRET not in report.out + report.err and SECRET.encode() not in journal


def _certificate(issuer: str) -> str:
    """A PEM certificate issued by `issuer` ("O=..., CN=...")."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    oids = {"O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}
    name = x509.Name([x509.NameAttribute(oids[k.strip()], v.strip())
                      for k, v in (part.split("=", 1) for part in issuer.split(","))])
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, STANDALONE)]))
            .issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.slow
def test_daemon_restores_ntp_servers_changed_out_of_band(sim, tmp_path):
    d = Daemon(tmp_path / "d")
    (d.specs / "vc.yaml").write_text(vcenter_doc(sim, "sim", tmp_path / "creds"))
    (d.specs / "ntp.yaml").write_text("apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: ntp}\n"
                                      f"spec:\n  {only(STANDALONE)}  ntp: {{servers: [ntp1.lab.test]}}\n")
    system = host(sim.connect(), STANDALONE).configManager.dateTimeSystem
    try:
        d.start().wait_ready()
        wait_for(lambda: list(system.dateTimeInfo.ntpConfig.server or []) == ["ntp1.lab.test"], 10, "first apply")
        system.UpdateDateTimeConfig(config=vim.host.DateTimeConfig(ntpConfig=vim.host.NtpConfig(server=["6.6.6.6"])))
        wait_for(lambda: list(system.dateTimeInfo.ntpConfig.server or []) == ["ntp1.lab.test"], 10,
                 "watched and restored")
        assert d.events("DriftDetected", STANDALONE, "ntp.servers")
        assert service(host(sim.connect(), STANDALONE), "ntpd").running is False  # ntpd itself is services.ntpd
    finally:
        d.stop()
