"""The password never appears in logs, events, the journal, plans, reports or exception text.

A distinctive password is given from a file and from an environment variable; every command runs at debug log
level (JSON and console formats), including failures (a refused login, faults), and every byte they produce is
searched: stdout, stderr, report files, the daemon's log, the journal database and its WAL/SHM files."""

from __future__ import annotations

import urllib.parse

import pytest

from harness import host, service
from rel_helpers import Daemon, policy, vcenter_doc, vsr, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "Zq7-vsr-SECRET-9f3a81~pw"
WRONG = "Wr0ng-vsr-SECRET-55c0de"
POLICY = policy("HostSecurityPolicy", "ssh-off", """
selector: {hosts: ["*"]}
services: {TSM-SSH: {running: false, policy: "off"}}
advancedSettings: {UserVars.DcuiTimeOut: 300}
""")
NEEDLES = [SECRET, urllib.parse.quote(SECRET, safe=""), SECRET.encode().hex(), WRONG]


def assert_absent(where: str, data: bytes | str) -> None:
    blob = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    for needle in NEEDLES:
        assert needle.encode() not in blob, f"secret found in {where}"


def sweep(paths) -> int:
    """Search every file under paths (journal + WAL/SHM, reports, logs); returns the number of bytes searched."""
    total = 0
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and path.name not in ("password", "wrong"):
                data = path.read_bytes()
                total += len(data)
                assert_absent(str(path), data)
    return total


@pytest.mark.parametrize("source,log_format", [("file", "json"), ("env", "console")])
def test_password_never_leaks(sim_factory, tmp_path, source, log_format):
    sim = sim_factory("-drift", "-fail", "UpdateOptions@DC0_C0_H1:1.0:NotAuthenticated", password=SECRET)
    specs, out = tmp_path / "specs", tmp_path / "out"
    specs.mkdir()
    out.mkdir()
    env = {"VSR_TEST_SECRET": SECRET} if source == "env" else {}
    (specs / "vc.yaml").write_text(vcenter_doc(sim, "sim", tmp_path / "creds",
                                               password_env="VSR_TEST_SECRET" if source == "env" else None))
    (specs / "p.yaml").write_text(POLICY)
    # the same secret as an SNMP community from a file a spec names (issue 16): set on the hosts, never shown
    community = tmp_path / "creds" / "snmp-communities"
    community.write_text(SECRET + "\n")
    (specs / "snmp.yaml").write_text(policy("HostSecurityPolicy", "snmp", f"""
selector: {{hosts: ["DC0_C0_H0"]}}
snmp: {{enabled: true, communitiesFile: "{community}"}}
"""))
    journal = tmp_path / "state" / "journal.db"
    common = ("--journal", str(journal), "--log-level", "debug", "--log-format", log_format)
    runs = [
        vsr("plan", str(specs), "-o", "json", *common, env=env),
        vsr("apply", str(specs), "-o", "json", "--yes", *common, env=env),   # a fault on one host: exception text
        vsr("report", str(specs), "-o", "html", "--file", str(out / "r.html"), *common, env=env),
        vsr("events", "-o", "json", *common, env=env),
    ]
    if source == "file":  # the other output formats once (the secret's source does not change them)
        runs += [
            vsr("apply", str(specs), "-o", "text", "--yes", *common, env=env),
            vsr("report", str(specs), "-o", "json", *common, env=env),
            vsr("report", str(specs), "-o", "sarif", "--file", str(out / "r.sarif"), *common, env=env),
            vsr("report", str(specs), "-o", "junit", "--file", str(out / "r.xml"), *common, env=env),
            vsr("events", *common, env=env),
        ]
    # the injected NotAuthenticated makes vsr check its session (a re-login when it is gone), then fail that host
    assert runs[1].code == 1 and [c for c in runs[1].json["changes"]
                                  if c["outcome"] == "failed" and c["object"]["name"] == "DC0_C0_H1"]
    snmp = host(sim.connect(), "DC0_C0_H0").configManager.snmpSystem.configuration
    assert list(snmp.readOnlyCommunities) == [SECRET]  # the community from the file was applied
    # failures: a wrong password (refused login) through the document and through the ad-hoc flags
    wrong = tmp_path / "creds" / "wrong"
    wrong.write_text(WRONG)
    bad_specs = tmp_path / "bad"
    bad_specs.mkdir()
    (bad_specs / "vc.yaml").write_text((specs / "vc.yaml").read_text()
                                       .replace(str(tmp_path / "creds" / "password"), str(wrong))
                                       .replace("passwordEnv: VSR_TEST_SECRET", f"passwordFile: \"{wrong}\""))
    (bad_specs / "p.yaml").write_text(POLICY)
    refused = vsr("plan", str(bad_specs), "-o", "json", *common, env=env)
    assert refused.code == 1 and "invalid username or password" in refused.out + refused.err
    adhoc = vsr("plan", str(specs / "p.yaml"), "--server", sim.server, "--username", sim.username, "--insecure",
                *common, env={"VSR_PASSWORD": WRONG})
    assert adhoc.code == 1
    runs += [refused, adhoc]
    # the daemon: debug logs, a remediation, the fault again, SIGTERM
    d = Daemon(tmp_path / "d", ("--resync", "1h"), env=env, log_level="debug", log_format=log_format)
    for doc in specs.iterdir():
        (d.specs / doc.name).write_text(doc.read_text())
    d.journal = journal
    try:
        d.start().wait_ready(30)
        si = sim.connect()
        host(si, "DC0_C0_H2").configManager.serviceSystem.StartService(id="TSM-SSH")
        wait_for(lambda: service(host(si, "DC0_C0_H2"), "TSM-SSH").running is False, 15, "daemon remediation")
        assert_absent("/status", d.get("/status")[1])
        assert_absent("/metrics", d.get("/metrics")[1])
    finally:
        d.stop()
    debug = '"level": "debug"' if log_format == "json" else "[debug"
    assert debug in d.log.read_text() + "".join(r.err for r in runs), "debug logging is on"
    for i, run in enumerate(runs):
        assert_absent(f"stdout of run {i}", run.out)
        assert_absent(f"stderr of run {i}", run.err)
    searched = sweep([tmp_path / "state", out, d.log])
    assert (tmp_path / "state" / "journal.db").exists() and searched > 0
    print(f"\nsecret ({source}, {log_format}): {len(runs)} CLI runs + daemon, {searched} bytes of files and "
          f"{sum(len(r.out) + len(r.err) for r in runs)} bytes of output searched: absent")


ACCOUNT_SECRET = "Acc-vsr-SECRET-7e21b0!pw"
WEAK_SECRET = "weak-vsr-secret"  # refused by the host's password quality: the fault must not echo it either
CHAP_SECRETS = ["chap-vsr-SECRET-0c4e1d", "mutual-vsr-SECRET-9a7b2f"]


def test_secrets_a_policy_names_never_leak(sim_factory, tmp_path):
    """Issue 16: the contents of files a HostSecurityPolicy names (local account passwords) never appear in plans,
    events, logs, reports or the journal, also when the host refuses the value; iSCSI CHAP secrets too."""
    sim = sim_factory("-esx")
    specs, out, creds = tmp_path / "specs", tmp_path / "out", tmp_path / "creds"
    specs.mkdir()
    out.mkdir()
    (specs / "vc.yaml").write_text(vcenter_doc(sim, "esx", creds))
    (creds / "admin.pw").write_text(ACCOUNT_SECRET + "\n")
    (creds / "weak.pw").write_text(WEAK_SECRET + "\n")
    (creds / "chap").write_text(CHAP_SECRETS[0] + "\n")
    (creds / "mutual").write_text(CHAP_SECRETS[1] + "\n")
    (specs / "p.yaml").write_text(policy("HostSecurityPolicy", "accounts", f"""
selector: {{hosts: ["*"]}}
localAccounts:
  svc-admin: {{role: Admin, passwordFile: "{creds / 'admin.pw'}"}}
  svc-weak: {{passwordFile: "{creds / 'weak.pw'}"}}
iscsi: {{mutualChap: true, chapName: ini, mutualChapName: tgt, chapSecretFile: "{creds / 'chap'}",
        mutualChapSecretFile: "{creds / 'mutual'}"}}
"""))
    journal = tmp_path / "state" / "journal.db"
    common = ("--journal", str(journal), "--log-level", "debug", "--log-format", "json")
    runs = [vsr("plan", str(specs), "-o", "json", *common),
            vsr("apply", str(specs), "-o", "json", "--yes", *common),
            vsr("apply", str(specs), "-o", "text", "--yes", *common),
            vsr("report", str(specs), "-o", "html", "--file", str(out / "r.html"), *common),
            vsr("events", "-o", "json", *common)]
    failed = [c for c in runs[1].json["changes"] if c["outcome"] == "failed"]
    assert [c["path"] for c in failed] == ["localAccounts.svc-weak.present"], runs[1].out
    assert [c for c in runs[1].json["changes"] if c["path"] == "iscsi.mutualChap" and c["outcome"] == "applied"]
    needles = [ACCOUNT_SECRET, WEAK_SECRET, ACCOUNT_SECRET.encode().hex(), *CHAP_SECRETS]
    for i, run in enumerate(runs):
        for needle in needles:
            assert needle not in run.out + run.err, f"a policy's secret in the output of run {i}"
    for path in [*(tmp_path / "state").rglob("*"), *out.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert not any(n.encode() in data for n in needles), f"a policy's secret in {path}"
