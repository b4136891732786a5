"""The daemon on a directly connected ESXi host keeps root's authorized keys and the listed local accounts: both
are polled sources (no property updates), so an out-of-band change is found at the next poll and put back,
with DriftDetected / DriftRemediated events; the keys never appear in the daemon's log or events."""

from __future__ import annotations

import ssl
import urllib.request

import pytest
from pyVmomi import vim

from harness import wait_for
from test_daemon import Daemon, vcenter_doc
from test_host_accounts import accounts
from test_host_ssh_keys import KEY_A, KEY_B

pytestmark = pytest.mark.integration

PASSWORD = "Direct-Daemon-Pw-9!"


def put_keys(sim, si, text: str) -> None:
    cookie = si._stub.cookie.split(";")[0]
    request = urllib.request.Request(f"https://{sim.host}:{sim.port}/host/ssh_root_authorized_keys",
                                     data=text.encode(), method="PUT", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(sim.ca_file))) as r:
        assert r.status in (200, 204)


def get_keys(sim, si) -> str:
    cookie = si._stub.cookie.split(";")[0]
    request = urllib.request.Request(f"https://{sim.host}:{sim.port}/host/ssh_root_authorized_keys",
                                     headers={"Cookie": cookie})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(sim.ca_file))) as r:
        return r.read().decode()


def test_daemon_restores_keys_and_accounts_changed_out_of_band(sim_factory, tmp_path):
    esx = sim_factory("-esx")
    si = esx.connect()
    secret = tmp_path / "svc.pw"
    secret.write_text(PASSWORD + "\n")
    d = Daemon(tmp_path / "d", "--poll-interval", "1s")
    (d.specs / "esx.yaml").write_text(vcenter_doc(esx, "esx", tmp_path / "creds"))
    (d.specs / "direct.yaml").write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: direct}\nspec:\n"
        "  selector: {hosts: [\"*\"]}\n"
        f"  sshAuthorizedKeys: {{root: [\"ssh-ed25519 {KEY_A} admin@laptop\"]}}\n"
        f"  localAccounts:\n    svc-admin: {{description: \"named administrator\", role: Admin, "
        f"passwordFile: \"{secret}\"}}\n")
    try:
        d.start().wait_ready()
        wait_for(lambda: d.events("DriftRemediated", path="sshAuthorizedKeys.root")
                 and accounts(si).get("svc-admin") == ("named administrator", False), 20.0,
                 f"first pass converges\n{d.log.read_text()}")
        assert KEY_A in get_keys(esx, si)

        put_keys(esx, si, f"ssh-ed25519 {KEY_B} intruder@somewhere\n")
        si.RetrieveContent().accountManager.UpdateUser(
            user=vim.host.LocalAccountManager.AccountSpecification(id="svc-admin", description="changed by hand"))
        wait_for(lambda: len(d.events("DriftRemediated", path="sshAuthorizedKeys.root")) >= 2
                 and len(d.events("DriftRemediated", path="localAccounts.svc-admin.description")) >= 2, 15.0,
                 f"the next poll finds and fixes both\n{d.log.read_text()}")
        text = get_keys(esx, si)
        assert KEY_A in text and KEY_B not in text
        assert accounts(si)["svc-admin"][0] == "named administrator"
        detected = d.events("DriftDetected", path="sshAuthorizedKeys.root")[-1]
        logged = d.log.read_text() + "".join(f"{e.message} {e.current} {e.desired}" for e in d.events("DriftDetected"))
        assert KEY_A not in logged and KEY_B not in logged and PASSWORD not in logged  # fingerprints only
        assert "SHA256:" in f"{detected.current}" and "intruder@somewhere" in f"{detected.current}", detected
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
