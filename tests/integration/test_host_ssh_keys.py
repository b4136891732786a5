"""root's SSH authorized keys (`sshAuthorizedKeys.root`, issue 16 item 11, seed 000) on a directly connected
`-esx -drift` simulator, through the host's HTTPS endpoint: drift (a stale key) -> plan (fingerprints only) ->
apply -> read back over HTTPS -> plan 0; a set (order and comments do not matter); `unsupported` through vCenter."""

from __future__ import annotations

import ssl
import urllib.request

import pytest
from harness import Workspace

from simulator import start_simulator

pytestmark = pytest.mark.integration

STALE = "AAAAC3NzaC1lZDI1NTE5AAAAIHGWM8JxVJDajsurL90JJKc3032kXmXzChv8FZBckBPR"  # sim/sshkeys.go, -drift
KEY_A = "AAAAC3NzaC1lZDI1NTE5AAAAIJpwW8JPCohcqbjs+SfFqKUlSq4/GpvXyXHWrogpFUtv"
KEY_B = "AAAAC3NzaC1lZDI1NTE5AAAAIH0ppihsK9VWXYZ5bYDl3nUaJOLiKo9Tj+/rbhrnRruK"


@pytest.fixture(scope="module")
def esx():
    handle = start_simulator("-esx", "-drift")
    yield handle
    handle.stop()


def authorized_keys(sim, cookie: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"https://{sim.host}:{sim.port}/host/ssh_root_authorized_keys")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(sim.ca_file))) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_authorized_keys_converge_as_a_set_shown_as_fingerprints(esx, tmp_path, capsys):
    si = esx.connect()
    cookie = si._stub.cookie.split(";")[0]
    assert authorized_keys(esx, None)[0] == 401
    assert STALE in authorized_keys(esx, cookie)[1]
    ws = Workspace(tmp_path, esx)
    ws.policy("keys", f"""
        selector: {{hosts: ["*"]}}
        sshAuthorizedKeys:
          root: ["ssh-ed25519 {KEY_A} admin@laptop", "ssh-ed25519 {KEY_B} backup@nas"]
    """)
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out + first.err
    (change,) = first.json["changes"]
    assert change["path"] == "sshAuthorizedKeys.root"
    assert [c.split()[1:] for c in change["current"]] == [["ssh-ed25519", "old-laptop"]]
    assert all(c.startswith("SHA256:") for c in change["current"] + change["desired"])
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0 and applied.json["changes"][0]["outcome"] == "applied", applied.out
    status, text = authorized_keys(esx, cookie)
    assert status == 200 and STALE not in text
    assert sorted(line.split()[1] for line in text.splitlines()) == sorted([KEY_A, KEY_B])
    # the same keys in another order with other comments: still compliant
    ws.policy("keys", f"""
        selector: {{hosts: ["*"]}}
        sshAuthorizedKeys:
          root: ["ssh-ed25519 {KEY_B}", "ssh-ed25519 {KEY_A} renamed"]
    """)
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == [], again.out
    report = ws.vsr(capsys, "report")
    for run in (first, applied, again, report):
        assert KEY_A not in run.out + run.err and STALE not in run.out + run.err
    assert not any(KEY_A in f"{e.message} {e.current} {e.desired}" for e in ws.events())


def test_through_vcenter_is_unsupported_with_the_reason(sim, tmp_path, capsys):
    ws = Workspace(tmp_path, sim)
    ws.policy("keys", f"""
        selector: {{hosts: ["DC0_C0_H0"]}}
        sshAuthorizedKeys: {{root: ["ssh-ed25519 {KEY_A}"]}}
    """)
    (change,) = ws.vsr(capsys, "plan").json["changes"]
    assert change["reason"] == "unsupported" and "connect to the host directly" in change["message"]
