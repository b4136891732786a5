"""sshAuthorizedKeys: keys compared as a set, shown as fingerprints."""

from __future__ import annotations

from reconciler.controllers.contract import ObjectRef, ObjectState
from reconciler.controllers.host_ssh_keys import ROOT, HostSshAuthorizedKeys, fingerprint, keys_of, parse_key

KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIJpwW8JPCohcqbjs+SfFqKUlSq4/GpvXyXHWrogpFUtv"
OTHER = "AAAAC3NzaC1lZDI1NTE5AAAAIH0ppihsK9VWXYZ5bYDl3nUaJOLiKo9Tj+/rbhrnRruK"


def state(text: str) -> ObjectState:
    s = ObjectState(ObjectRef("HostSystem", "ha-host", "esx", "esx"), {})
    s.own("sshAuthorizedKeys")["keys"] = keys_of(text)
    return s


def test_parse_checks_the_type_inside_the_key_material():
    assert parse_key(f"ssh-ed25519 {KEY} me") == ("ssh-ed25519", KEY)
    assert parse_key(f"ssh-rsa {KEY}") is None  # the blob says ssh-ed25519
    assert parse_key("# comment") is None and parse_key("ssh-ed25519 !!!") is None


def test_fingerprint_is_ssh_keygen_sha256():
    assert fingerprint(("ssh-ed25519", KEY), f"ssh-ed25519 {KEY} a b") == \
        "SHA256:g7h+Yw4iBuBcqamohbJQsWXyD3kne9fl5jrc74xcQGQ ssh-ed25519 a b"  # ssh-keygen -lf


def test_set_semantics_and_no_key_material_in_the_diff():
    controller = HostSshAuthorizedKeys()
    have = state(f"ssh-ed25519 {OTHER} x\nssh-ed25519 {KEY} old-comment\n\n# note\n")
    assert controller.diff({ROOT: [f"ssh-ed25519 {KEY}", f"ssh-ed25519 {OTHER} y"]}, have) == []
    (d,) = controller.diff({ROOT: [f"ssh-ed25519 {KEY}"]}, have)
    assert len(d.current) == 2 and len(d.desired) == 1
    assert KEY not in repr(d) and OTHER not in repr(d)
    (bad,) = controller.diff({ROOT: [f"ssh-ed25519 {KEY}"]}, state(f'from="10.0.0.1" ssh-ed25519 {KEY}'))
    assert bad.current[0].startswith("unreadable line")
