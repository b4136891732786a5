"""iSCSI mutual CHAP (`iscsi`, issue 16 item 6) end to end: hosts with a software iSCSI adapter converge to CHAP
and mutual CHAP required (drift -> plan -> apply -> read back -> plan 0), hosts without one yield nothing, the
secrets come from files, are required to enable CHAP, and never appear in any output."""

from __future__ import annotations

import pytest
from harness import Workspace
from pyVmomi import vim

from simulator import start_simulator

pytestmark = pytest.mark.integration

CHAP_SECRET = "chap-SECRET-4b1f9e-xyz"
MUTUAL_SECRET = "mutual-SECRET-77a0c3-xyz"


@pytest.fixture(scope="module")
def simulator():
    handle = start_simulator()
    yield handle
    handle.stop()


def adapters(si) -> dict[str, object]:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    out = {}
    for h in view.view:
        for hba in h.config.storageDevice.hostBusAdapter:
            if isinstance(hba, vim.host.InternetScsiHba) and hba.isSoftwareBased:
                out[h.name] = hba.authenticationProperties
    view.DestroyView()
    return out


def test_mutual_chap_converges_on_hosts_with_software_iscsi(simulator, tmp_path, capsys):
    si = simulator.connect()
    before = adapters(si)
    assert before and all(a.chapAuthenticationType == "chapProhibited" for a in before.values())
    ws = Workspace(tmp_path, simulator)
    (tmp_path / "chap").write_text(CHAP_SECRET + "\n")
    (tmp_path / "mutual").write_text(MUTUAL_SECRET + "\n")
    ws.policy("chap", f"""
        selector: {{hosts: ["*"]}}
        iscsi:
          mutualChap: true
          chapName: initiator-01
          mutualChapName: target-01
          chapSecretFile: "{tmp_path / 'chap'}"
          mutualChapSecretFile: "{tmp_path / 'mutual'}"
    """)
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out + first.err
    assert {c["object"]["name"] for c in first.json["changes"]} == set(before), first.out
    assert {c["path"] for c in first.json["changes"]} == {"iscsi.mutualChap", "iscsi.chapName", "iscsi.mutualChapName"}
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0 and all(c["outcome"] == "applied" for c in applied.json["changes"]), applied.out
    for auth in adapters(si).values():
        assert (auth.chapAuthEnabled, auth.chapAuthenticationType, auth.mutualChapAuthenticationType,
                auth.chapName, auth.mutualChapName) == (True, "chapRequired", "chapRequired", "initiator-01", "target-01")
        assert not auth.chapSecret and not auth.mutualChapSecret  # the host never returns secrets
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == [], again.out
    everything = "".join(r.out + r.err for r in (first, applied, again))
    everything += "".join(f"{e.message} {e.current} {e.desired}" for e in ws.events())
    assert CHAP_SECRET not in everything and MUTUAL_SECRET not in everything


def test_enabling_chap_without_secret_files_is_invalid(tmp_path, capsys):
    with start_simulator() as fresh:
        ws = Workspace(tmp_path, fresh)
        ws.policy("chap", """
            selector: {hosts: ["*"]}
            iscsi: {mutualChap: true, chapName: initiator-01, mutualChapName: target-01}
        """)
        applied = ws.vsr(capsys, "apply")
        changes = applied.json["changes"]
        assert changes and all(c["reason"] == "invalid" and "chapSecretFile and mutualChapSecretFile" in c["message"]
                               for c in changes), applied.out
        assert all(a.chapAuthenticationType == "chapProhibited" for a in adapters(fresh.connect()).values())
