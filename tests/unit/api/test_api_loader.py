"""Loader behaviour: valid examples, files and directories, positions, limits, last known good."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from pathlib import Path

import pytest

from reconciler.api import (
    Document,
    SourceRef,
    SpecIssue,
    last_known_good,
    load_specs,
    load_text,
)

VALID = Path(__file__).parent / "valid"
TODAY = dt.date(2026, 11, 22)
HEAD = "apiVersion: vsr.dev/v1alpha1\n"


def policy(name: str, body: str = "  selector: {hosts: ['*']}\n  lockdown: {mode: normal}\n",
           kind: str = "HostSecurityPolicy") -> str:
    return f"{HEAD}kind: {kind}\nmetadata: {{name: {name}}}\nspec:\n{body}"


def test_design_examples_load() -> None:
    result = load_specs([VALID / "design.yaml"], today=TODAY)
    assert result.issues == []
    assert [d.key for d in result.documents] == [
        ("VCenter", "lab"), ("HostSecurityPolicy", "esxi-baseline"), ("VMSecurityPolicy", "vm-baseline"),
        ("Waiver", "capture-portgroup")]
    host = result.get("HostSecurityPolicy", "esxi-baseline").model.spec
    assert host.services["TSM-SSH"].policy == "off" and host.services["TSM-SSH"].running is False
    assert host.firewall["ntpClient"].allowed_ips == "all"
    assert host.firewall["sshServer"].allowed_ips == ["192.168.10.0/24"]
    assert host.advanced_settings == {"Syslog.global.logHost": "udp://192.168.10.5:514", "Mem.ShareForceSalting": 2}
    assert type(host.advanced_settings["Mem.ShareForceSalting"]) is int
    assert host.network_security.distributed_portgroups is None  # omitted = unmanaged
    vm = result.get("VMSecurityPolicy", "vm-baseline").model.spec
    assert vm.advanced_settings["isolation.tools.copy.disable"] == "TRUE"
    assert vm.devices.cdrom == "disconnected" and vm.min_hardware_version == 19 and vm.power_cycle == "IfPoweredOff"
    assert vm.selector.vms == ["*"] and vm.selector.templates is False
    waiver = result.get("Waiver", "capture-portgroup").model
    assert waiver.spec.expires == dt.date(2027, 3, 31)
    assert waiver.is_active(dt.date(2027, 3, 31)) and not waiver.is_active(dt.date(2027, 4, 1))
    vc = result.get("VCenter", "lab").model.spec
    assert vc.tls.verify is True and vc.host == "vcsa.lab.example" and vc.port == 443


def test_omitted_fields_are_unmanaged() -> None:
    doc = load_text(policy("min", "  selector: {hosts: ['*']}\n")).documents[0]
    spec = doc.model.spec
    assert (spec.services, spec.firewall, spec.advanced_settings, spec.lockdown, spec.network_security) == (None,) * 5
    assert spec.enforcement == "Enforce" and spec.suspend is False and spec.priority == 0


def test_multi_file_example_with_anchors_merge_keys_ipv6() -> None:
    result = load_specs([VALID / "multi.yml"], today=TODAY)
    assert result.issues == []
    prod = result.get("VCenter", "prod").model.spec
    assert prod.host == "2001:db8::10" and prod.port == 8443
    assert prod.tls.thumbprint == ":".join(["01", "23", "45", "67", "89", "AB", "CD", "EF"] * 4)
    dr = result.get("HostSecurityPolicy", "dr-hosts")
    assert dr.model.spec.services["TSM"].policy == "off" and dr.model.spec.services["TSM"].running is True
    # a merged value is positioned where it is written (the anchor), an explicit key where it is
    anchor = dr.position(("spec", "services", "TSM-SSH"))
    assert dr.position(("spec", "services", "TSM", "policy")).line == anchor.line
    assert dr.position(("spec", "services", "TSM", "running")).line == anchor.line + 1
    adv = result.get("HostSecurityPolicy", "prod-hosts").model.spec.advanced_settings
    assert [type(v) for v in adv.values()] == [int, str, int, float, bool]


def test_document_position_and_fallback() -> None:
    doc = load_specs([VALID / "design.yaml"], today=TODAY).get("HostSecurityPolicy", "esxi-baseline")
    assert doc.source == SourceRef(str(VALID / "design.yaml"), 10, 1)
    assert doc.position(("spec", "lockdown", "mode")).line == 22
    assert doc.position(("spec", "lockdown", "nope", "deeper")) == doc.position(("spec", "lockdown"))
    assert doc.position(("nothing",)) == doc.source
    assert doc.field_source(("services", "TSM-SSH", "running")).line == 19
    assert str(doc.position(("spec", "lockdown"))) == f"{VALID / 'design.yaml'}:22"
    assert "positions" not in repr(doc)


def test_issue_string_form() -> None:
    issue = SpecIssue("a.yaml", 3, 5, "HostSecurityPolicy", "x", "spec.firewall.ssh.allowedIPs[1]", "bad", "error")
    assert str(issue) == "a.yaml:3:5: HostSecurityPolicy/x: spec.firewall.ssh.allowedIPs[1]: bad"
    assert str(SpecIssue("a.yaml", 1, 1, "", "", "", "no such file")) == "a.yaml:1:1: no such file"
    assert set(issue.to_dict()) == {"file", "line", "column", "kind", "name", "path", "message", "severity"}


def test_directories_recursive_hidden_and_worktrees_skipped(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "one.yaml").write_text(policy("one"))
    (tmp_path / "two.yml").write_text(policy("two"))
    (tmp_path / "notes.txt").write_text("not yaml: [")
    (tmp_path / ".hidden.yaml").write_text("broken: [")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text("broken: [")
    (tmp_path / ".worktrees" / "abc").mkdir(parents=True)
    (tmp_path / ".worktrees" / "abc" / "one.yaml").write_text(policy("one"))
    result = load_specs([tmp_path])
    assert result.errors == []
    assert sorted(d.name for d in result.documents) == ["one", "two"]
    assert len(result.files) == 2


def test_explicit_file_with_other_suffix_is_read(tmp_path: Path) -> None:
    path = tmp_path / "spec.txt"
    path.write_text(policy("txt"))
    assert [d.name for d in load_specs([path]).documents] == ["txt"]


def test_symlink_loops_terminate(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "p.yaml").write_text(policy("p"))
    os.symlink(tmp_path, tmp_path / "d" / "loop")
    os.symlink(tmp_path / "missing", tmp_path / "d" / "dangling.yaml")
    os.symlink(tmp_path / "d" / "self.yaml", tmp_path / "d" / "self.yaml")
    result = load_specs([tmp_path])
    assert [d.name for d in result.documents] == ["p"]
    assert result.errors == []


def test_git_sync_symlink_root_is_followed(tmp_path: Path) -> None:
    (tmp_path / ".worktrees" / "rev1").mkdir(parents=True)
    (tmp_path / ".worktrees" / "rev1" / "p.yaml").write_text(policy("p"))
    os.symlink(tmp_path / ".worktrees" / "rev1", tmp_path / "current")
    assert [d.name for d in load_specs([tmp_path / "current"]).documents] == ["p"]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = load_specs([tmp_path / "nope"])
    assert [str(i) for i in result.errors] == [f"{tmp_path / 'nope'}:1:1: no such file or directory"]


def test_file_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (5 * 1024 * 1024) + "\n")
    (tmp_path / "ok.yaml").write_text(policy("ok"))
    result = load_specs([tmp_path])
    assert [d.name for d in result.documents] == ["ok"]
    assert len(result.errors) == 1 and "too large" in result.errors[0].message and "5 MiB" in result.errors[0].message
    small = tmp_path / "ok.yaml"
    assert "too large" in load_specs([small], max_file_bytes=50).errors[0].message
    assert load_specs([small], max_file_bytes=len(small.read_bytes())).ok


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.yaml"
    locked.write_text(policy("locked"))
    (tmp_path / "ok.yaml").write_text(policy("ok"))
    real_open = pathlib.Path.open

    def fake_open(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "locked.yaml":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", fake_open)
    result = load_specs([tmp_path])
    assert [d.name for d in result.documents] == ["ok"]
    assert [str(i) for i in result.errors] == [f"{locked}:1:1: cannot read file: Permission denied"]


def test_utf8_bom_and_crlf_are_fine() -> None:
    text = "\ufeff" + policy("bom").replace("\n", "\r\n")
    result = load_text(text)
    assert result.errors == [] and result.documents[0].name == "bom"


def test_syntax_error_in_one_document_keeps_the_others() -> None:
    text = policy("first") + "---\n" + policy("broken", "  selector: {hosts: [\n") + "---\n" + policy("third")
    result = load_text(text, "f.yaml")
    assert [d.name for d in result.documents] == ["first", "third"]
    assert len(result.errors) == 1
    assert (result.errors[0].line, result.errors[0].column) == (12, 21)
    assert "'[' is never closed" in result.errors[0].message


def test_empty_documents_and_comments_are_skipped() -> None:
    result = load_text("# only a comment\n---\n---\n" + policy("p") + "---\n# trailing\n")
    assert result.issues == [] and [d.name for d in result.documents] == ["p"]


def test_empty_selector_warns_but_loads() -> None:
    result = load_text(policy("empty", "  selector: {hosts: []}\n  lockdown: {mode: normal}\n"))
    assert [d.name for d in result.documents] == ["empty"]
    assert [w.path for w in result.warnings] == ["spec.selector"] and "matches nothing" in result.warnings[0].message
    result = load_text(policy("nosel", "  lockdown: {mode: normal}\n"))
    assert result.ok and "matches nothing" in result.warnings[0].message


def test_tls_verify_false_warns() -> None:
    text = (f"{HEAD}kind: VCenter\nmetadata: {{name: v}}\nspec:\n  server: esx01:443\n"
            "  credentials: {username: root, passwordEnv: PW}\n  tls: {verify: false}\n")
    result = load_text(text)
    assert result.ok and [w.path for w in result.warnings] == ["spec.tls.verify"]


@pytest.mark.parametrize("server,ok", [
    ("vcsa.example.com", True), ("vcsa:443", True), ("10.0.0.1:8443", True), ("[::1]:443", True), ("fe80::1", True),
    ("vcsa:0", False), ("vcsa:99999", False), ("https://vcsa", False), ("vcsa/sdk", False), ("bad host", False),
    ("[::1", False), ("", False),
])
def test_server_forms(server: str, ok: bool) -> None:
    text = (f"{HEAD}kind: VCenter\nmetadata: {{name: v}}\nspec:\n  server: '{server}'\n"
            "  credentials: {username: root, passwordEnv: PW}\n")
    result = load_text(text)
    assert result.ok is ok, result.errors
    if not ok:
        assert result.errors[0].path == "spec.server"


def test_conflicts_only_when_certain_and_equal_priority() -> None:
    a = policy("a", "  selector: {clusters: ['Prod']}\n  lockdown: {mode: normal}\n")
    different_value = policy("b", "  selector: {clusters: ['Prod']}\n  lockdown: {mode: strict}\n")
    assert len(load_text(a + "---\n" + different_value).errors) == 2
    narrower = policy("b", "  selector: {clusters: ['Prod'], hosts: ['esx1']}\n  lockdown: {mode: strict}\n")
    assert load_text(a + "---\n" + narrower).ok  # esx1 may not exist or not be in Prod: decided per object
    same_value = policy("b", "  selector: {clusters: ['Prod']}\n  lockdown: {mode: normal}\n")
    assert load_text(a + "---\n" + same_value).ok
    higher = policy("b", "  selector: {clusters: ['Prod']}\n  priority: 5\n  lockdown: {mode: strict}\n")
    assert load_text(a + "---\n" + higher).ok
    maybe = policy("b", "  selector: {hosts: ['esx1']}\n  lockdown: {mode: strict}\n")
    assert load_text(a + "---\n" + maybe).ok  # esx1 may not be in Prod: resolved at plan time
    suspended = policy("b", "  selector: {clusters: ['Prod']}\n  suspend: true\n  lockdown: {mode: strict}\n")
    assert load_text(a + "---\n" + suspended).ok
    vm = policy("b", "  selector: {clusters: ['Prod']}\n  secureBoot: true\n", kind="VMSecurityPolicy")
    assert load_text(a + "---\n" + vm).ok
    excluded = policy("b", "  selector: {clusters: ['Prod'], exclude: [esx9]}\n  lockdown: {mode: strict}\n")
    assert load_text(a + "---\n" + excluded).ok


def test_waiver_policies_must_exist_warns() -> None:
    text = (f"{HEAD}kind: Waiver\nmetadata: {{name: w}}\nspec:\n  selector: {{hosts: [h]}}\n"
            "  fields: [lockdown.mode]\n  policies: [ghost]\n  reason: r\n  owner: o\n  expires: 2099-01-01\n")
    result = load_text(text)
    assert result.ok and "no policy named 'ghost'" in result.warnings[0].message


def test_quoted_date_accepted_datetime_refused() -> None:
    base = (f"{HEAD}kind: Waiver\nmetadata: {{name: w}}\nspec:\n  selector: {{hosts: [h]}}\n"
            "  fields: [lockdown.mode]\n  reason: r\n  owner: o\n  expires: EXP\n")
    assert load_text(base.replace("EXP", '"2099-01-01"')).ok
    result = load_text(base.replace("EXP", "2099-01-01T10:00:00Z"))
    assert "not a date and time" in result.errors[0].message
    assert "write YYYY-MM-DD" in load_text(base.replace("EXP", "soon")).errors[0].message
    blank = base.replace("EXP", "2099-01-01").replace("reason: r", "reason: '  '")
    assert "must not be blank" in load_text(blank).errors[0].message


def _docs(*names: str) -> list[Document]:
    return load_text("---\n".join(policy(n) for n in names), "p.yaml").documents


def test_last_known_good_keeps_invalid_documents() -> None:
    previous = load_text(policy("a") + "---\n" + policy("b") + "---\n" + policy("gone"), "p.yaml")
    new = load_text(policy("a") + "---\n" + policy("b", "  selector: {hosts: ['*']}\n  lockdown: {mode: x}\n"), "p.yaml")
    documents, kept = last_known_good(previous, new)
    assert [d.name for d in kept] == ["b"] and kept[0] is previous.get("HostSecurityPolicy", "b")
    assert sorted(d.name for d in documents) == ["a", "b"]  # "gone" was deleted, not broken
    assert new.get("HostSecurityPolicy", "a") in documents
    # a list of documents works as well, and a file that no longer parses keeps all of its documents
    broken = load_text("a: [\n", "p.yaml")
    documents, kept = last_known_good(previous.documents, broken)
    assert sorted(d.name for d in kept) == ["a", "b", "gone"]
    documents, kept = last_known_good(previous, previous)
    assert kept == [] and documents == previous.documents


def test_same_file_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.yaml").write_text(policy("p"))
    os.symlink(tmp_path / "p.yaml", tmp_path / "current.yaml")
    monkeypatch.chdir(tmp_path)
    result = load_specs([tmp_path, "p.yaml", tmp_path / "p.yaml"])
    assert result.ok and [d.name for d in result.documents] == ["p"]


def test_possible_overlap_keeps_both_policies() -> None:
    """Issue 12 item 8: every clustered host vs hosts that may not exist is no conflict, and neither policy is
    dropped (before, both were reported as conflicting and left out)."""
    wide = policy("wide", "  selector: {clusters: ['*']}\n  lockdown: {mode: normal}\n")
    odd = policy("odd", "  selector: {hosts: ['no-such-host-*']}\n  lockdown: {mode: strict}\n")
    result = load_text(wide + "---\n" + odd)
    assert result.ok, result.errors
    assert sorted(d.name for d in result.documents) == ["odd", "wide"]
