"""Loader details the mutation check (scripts/mutation.py) showed untested: exact file-level messages and their
fields, unreadable directories, symlinked entries inside a tree, `today`, cross-file duplicates, a checker crash."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from reconciler.api import load_specs, load_text, loader
from reconciler.api.loader import load_texts, read_text

HEAD = "apiVersion: vsr.dev/v1alpha1\n"
TODAY = dt.date(2026, 1, 10)
CREDS = "  credentials: {usernameEnv: VSR_USERNAME, passwordFile: /etc/vsr/password}\n"


def policy(name: str, body: str = "  selector: {hosts: ['*']}\n  lockdown: {mode: normal}\n") -> str:
    return f"{HEAD}kind: HostSecurityPolicy\nmetadata: {{name: {name}}}\nspec:\n{body}"


WAIVER = (f"{HEAD}kind: Waiver\nmetadata: {{name: w}}\nspec:\n  selector: {{hosts: ['esx-01']}}\n"
          "  fields: ['services.*']\n  reason: debugging\n  owner: ops@example.com\n  expires: 2026-01-10\n")


def test_file_level_issues_have_no_document_fields(tmp_path: Path) -> None:
    (issue,) = load_specs([tmp_path / "nope"]).errors
    assert issue.to_dict() == {"file": str(tmp_path / "nope"), "line": 1, "column": 1, "kind": "", "name": "",
                               "path": "", "message": "no such file or directory", "severity": "error"}
    (syntax,) = load_text("a: [\n", "f.yaml").errors
    assert (syntax.file, syntax.kind, syntax.name, syntax.path) == ("f.yaml", "", "", "")


def test_unreadable_directory_is_one_positioned_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "ok.yaml").write_text(policy("ok"))
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(loader.os, "scandir", scandir)
    result = load_specs([tmp_path])
    assert [d.name for d in result.documents] == ["ok"]
    assert [str(i) for i in result.errors] == [f"{tmp_path / 'locked'}:1:1: cannot read directory: Permission denied"]
    assert (result.errors[0].kind, result.errors[0].name, result.errors[0].path) == ("", "", "")


def test_directory_that_cannot_be_stat_ed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d").mkdir()
    real_stat = Path.stat

    def stat(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "d" and not kwargs and not args:
            raise OSError(5, "Input/output error")
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    result = load_specs([tmp_path])
    assert [str(i) for i in result.errors] == [f"{tmp_path / 'd'}:1:1: cannot read directory: Input/output error"]
    assert (result.errors[0].kind, result.errors[0].name, result.errors[0].path) == ("", "", "")


def test_symlinked_directories_and_files_inside_a_tree_are_followed(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "linked-dir.yaml").write_text(policy("in-linked-dir"))
    (tmp_path / "file-target.txt").write_text(policy("via-linked-file"))
    (tmp_path / "specs").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "specs" / "dir")
    os.symlink(tmp_path / "file-target.txt", tmp_path / "specs" / "file.yaml")
    result = load_specs([tmp_path / "specs"])
    assert result.issues == []
    assert sorted(d.name for d in result.documents) == ["in-linked-dir", "via-linked-file"]
    assert result.files == [str(tmp_path / "specs" / "dir" / "linked-dir.yaml"), str(tmp_path / "specs" / "file.yaml")]


def test_a_looping_symlink_does_not_stop_the_rest_of_the_directory(tmp_path: Path) -> None:
    os.symlink(tmp_path / "a-self.yaml", tmp_path / "a-self.yaml")
    (tmp_path / "b.yaml").write_text(policy("b"))
    result = load_specs([tmp_path])
    assert [d.name for d in result.documents] == ["b"] and result.issues == []


def test_several_links_back_to_the_root_are_walked_once(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(policy("p"))
    for name in ("l1", "l2", "l3", "l4"):
        os.symlink(tmp_path, tmp_path / name)
    result = load_specs([tmp_path])
    assert [d.name for d in result.documents] == ["p"] and result.issues == []


def test_an_empty_file_is_no_document_and_no_issue(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    result = load_specs([tmp_path])
    assert (result.documents, result.issues, result.files) == ([], [], [str(tmp_path / "empty.yaml")])


def test_today_decides_whether_a_waiver_has_expired(tmp_path: Path) -> None:
    assert load_text(WAIVER, "w.yaml", today=TODAY).issues == []
    (late,) = load_text(WAIVER, "w.yaml", today=TODAY + dt.timedelta(days=1)).warnings
    assert late.message == "waiver expired on 2026-01-10; it no longer applies"
    (tmp_path / "w.yaml").write_text(WAIVER)
    assert load_specs([tmp_path], today=TODAY).issues == []
    assert [w.message for w in load_specs([tmp_path], today=TODAY + dt.timedelta(days=1)).warnings] == [
        "waiver expired on 2026-01-10; it no longer applies"]
    assert [w.path for w in load_specs([tmp_path]).warnings] == ["spec.expires"], "no today: the real date"


def test_load_text_names_its_file() -> None:
    assert load_text(policy("p"), "one.yaml").files == ["one.yaml"]
    assert load_text(policy("p")).files == ["<text>"]


def test_duplicates_across_files_point_at_each_other() -> None:
    result = load_texts([("a.yaml", policy("p")), ("b.yaml", "# first line\n" + policy("p"))])
    assert result.documents == []
    assert [str(i) for i in result.errors] == [
        "a.yaml:3:12: HostSecurityPolicy/p: metadata.name: HostSecurityPolicy/p is defined more than once: "
        "here and at b.yaml:4:12",
        "b.yaml:4:12: HostSecurityPolicy/p: metadata.name: HostSecurityPolicy/p is defined more than once: "
        "here and at a.yaml:3:12"]


def test_a_nameless_vcenter_beside_a_named_one_is_an_issue_not_a_crash() -> None:
    named = f"{HEAD}kind: VCenter\nmetadata: {{name: lab}}\nspec:\n  server: vc.example\n{CREDS}"
    nameless = f"{HEAD}kind: VCenter\nmetadata: {{}}\nspec:\n  server: vc2.example\n{CREDS}"
    result = load_text(named + "---\n" + nameless, "v.yaml")
    assert [d.name for d in result.documents] == ["lab"]
    assert [str(i) for i in result.issues] == ["v.yaml:10:1: VCenter/?: metadata.name: missing required field 'name'"]


def test_a_checker_crash_is_reported_on_its_document_and_the_others_load(monkeypatch: pytest.MonkeyPatch) -> None:
    real_check = loader.DocumentChecker.check

    def check(self):  # type: ignore[no-untyped-def]
        if self.raw.data["metadata"]["name"] == "bad":
            raise ZeroDivisionError("boom")
        return real_check(self)

    monkeypatch.setattr(loader.DocumentChecker, "check", check)
    result = load_text(policy("bad") + "---\n" + policy("good"), "c.yaml")
    assert [d.name for d in result.documents] == ["good"]
    assert [str(i) for i in result.errors] == [
        "c.yaml:1:1: HostSecurityPolicy/bad: internal error while checking this document (ZeroDivisionError); please report it"]


def test_read_text_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (3 * 1048576 + 1))
    text, issue = read_text(big, max_bytes=2 * 1048576)
    assert text is None and issue is not None
    assert issue.message == "file is too large (3.0 MiB; the limit is 2 MiB)"
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nbb: \xff\n")
    text, issue = read_text(bad)
    assert text is None and issue is not None
    assert (issue.line, issue.column, issue.message) == (
        2, 5, "file is not valid UTF-8 (byte 0xff); save it as UTF-8")
    assert (issue.kind, issue.name, issue.path) == ("", "", "")
    real_open = Path.open

    def fails(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "bad.yaml":
            raise OSError("no reason given")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", fails)
    assert read_text(bad)[1].message == "cannot read file: OSError"


def test_get_and_of_kind() -> None:
    vc = f"{HEAD}kind: VCenter\nmetadata: {{name: lab}}\nspec:\n  server: vc.example\n{CREDS}"
    result = load_text(policy("p") + "---\n" + vc)
    assert result.get("HostSecurityPolicy", "nope") is None
    assert result.get("VCenter", "p") is None
    assert [d.name for d in result.of_kind("VCenter")] == ["lab"]
    assert [d.kind for d in result.of_kind("HostSecurityPolicy")] == ["HostSecurityPolicy"]


def test_too_large_messages_round_like_the_limit(tmp_path: Path) -> None:
    odd = tmp_path / "odd.yaml"
    odd.write_bytes(b"#" * 1835008)  # 1.75 MiB
    _, issue = read_text(odd, max_bytes=1048576)
    assert issue is not None and issue.file == str(odd)
    assert issue.message == "file is too large (1.8 MiB; the limit is 1 MiB)"
    sparse = tmp_path / "sparse.yaml"
    with sparse.open("wb") as fh:
        fh.truncate(1000 * 1048576 + 1)
    _, issue = read_text(sparse, max_bytes=1000 * 1048576)
    assert issue is not None and issue.message == "file is too large (1000.0 MiB; the limit is 1000 MiB)"


def test_a_file_that_grows_after_stat_is_still_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grown = tmp_path / "grown.yaml"
    grown.write_bytes(b"#" * 101)
    real_stat = Path.stat

    class Small:
        st_size = 10

    def stat(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return Small() if self.name == "grown.yaml" else real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    text, issue = read_text(grown, max_bytes=100)
    assert text is None and issue is not None
    assert (issue.file, issue.message) == (str(grown), "file is too large (the limit is 9.53674e-05 MiB)")
    text, issue = read_text(grown, max_bytes=101)
    assert issue is None and text == "#" * 101


def test_utf8_error_column_counts_from_the_last_line_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nb: 2\nccc: \xfe\n")
    _, issue = read_text(bad)
    assert issue is not None
    assert (issue.file, issue.line, issue.column) == (str(bad), 3, 6)


def test_a_nameless_vcenter_does_not_count_as_a_second_connection() -> None:
    named = f"{HEAD}kind: VCenter\nmetadata: {{name: lab}}\nspec:\n  server: vc.example\n{CREDS}"
    nameless = f"{HEAD}kind: VCenter\nmetadata: {{}}\nspec:\n  server: vc2.example\n{CREDS}"
    result = load_text(named + "---\n" + nameless + "---\n" + policy("p"), "v.yaml")
    assert sorted(d.name for d in result.documents) == ["lab", "p"]
    assert [str(i) for i in result.issues] == ["v.yaml:10:1: VCenter/?: metadata.name: missing required field 'name'"]
