"""SpecWatcher on real files (inotify through watchfiles) and git_revision on real checkouts."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from reconciler.daemon.specwatch import SpecWatcher, is_noise_name, symlinks_on_path
from reconciler.gitrev import git_revision

DEBOUNCE = 0.2
QUIET = 0.6  # how long "no further callback" is checked (debounce + watch latency, with margin)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[frozenset[str]] = []
        self.cond = threading.Condition()

    def __call__(self, changed: frozenset[str]) -> None:
        with self.cond:
            self.calls.append(changed)
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.calls) >= n, timeout)

    def stays_at(self, n: int, quiet: float = QUIET) -> bool:
        """True if no callback beyond the n-th arrives within `quiet` seconds."""
        with self.cond:
            return not self.cond.wait_for(lambda: len(self.calls) > n, quiet) and len(self.calls) == n


@pytest.fixture
def watch():
    watchers: list[SpecWatcher] = []

    def start(paths, debounce=DEBOUNCE):
        rec = Recorder()
        w = SpecWatcher(paths, rec, debounce=debounce)
        w.start()
        assert w.wait_ready(10)
        watchers.append(w)
        return w, rec

    yield start
    for w in watchers:
        w.stop()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def git_sync_publish(root: Path, sha: str, files: dict[str, str], link: str = "specs") -> Path:
    """Do what git-sync v4 does: new worktree under .worktrees, atomic link swap, old worktree removed."""
    wt = root / ".worktrees" / sha
    for name, text in files.items():
        write(wt / name, text)
    write(wt / ".git", f"gitdir: {root}/.git/worktrees/{sha}\n")
    old = (root / link).resolve() if (root / link).is_symlink() else None
    tmp = root / f"tmp-link-{sha[:6]}"
    os.symlink(f".worktrees/{sha}", tmp)
    os.replace(tmp, root / link)  # rename(2) over the link, like `mv -T tmp link`
    if old is not None and old != wt:
        shutil.rmtree(old)
    return wt


SHA1, SHA2, SHA3 = "a" * 40, "b" * 40, "c" * 40


# -- plain directories ----------------------------------------------------------------------------------------


def test_edit_and_new_file_each_give_one_callback(tmp_path, watch):
    specs = tmp_path / "specs"
    write(specs / "a.yaml", "a: 1\n")
    _, rec = watch([specs])
    (specs / "a.yaml").write_text("a: 2\n")
    assert rec.wait_for(1)
    assert rec.stays_at(1)
    assert str(specs / "a.yaml") in rec.calls[0]
    write(specs / "sub" / "b.yaml", "b: 1\n")
    assert rec.wait_for(2)
    assert rec.stays_at(2)


def test_a_burst_of_writes_is_debounced_into_one_callback(tmp_path, watch):
    specs = tmp_path / "specs"
    specs.mkdir()
    _, rec = watch([specs])
    for i in range(20):
        write(specs / f"p{i}.yaml", f"n: {i}\n")
        time.sleep(0.01)
    assert rec.wait_for(1)
    assert rec.stays_at(1)
    assert len(rec.calls[0]) >= 20


def test_noise_does_not_trigger(tmp_path, watch):
    specs = tmp_path / "specs"
    write(specs / "a.yaml", "a: 1\n")
    _, rec = watch([specs])
    write(specs / ".a.yaml.swp", "x")
    write(specs / "a.yaml~", "x")
    write(specs / ".#a.yaml", "x")
    write(specs / "4913", "x")
    write(specs / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(tmp_path / "elsewhere.yaml", "x")  # beside, not inside, the spec path
    assert rec.stays_at(0, quiet=DEBOUNCE + QUIET)
    (specs / "a.yaml").write_text("a: 3\n")  # and the watcher is alive
    assert rec.wait_for(1)


def test_single_file_path_ignores_its_neighbours(tmp_path, watch):
    f = tmp_path / "policy.yaml"
    write(f, "a: 1\n")
    _, rec = watch([f])
    write(tmp_path / "other.yaml", "b: 1\n")
    assert rec.stays_at(0, quiet=DEBOUNCE + QUIET)
    tmp = tmp_path / "policy.yaml.tmp"  # an editor's atomic save
    write(tmp, "a: 2\n")
    os.replace(tmp, f)
    assert rec.wait_for(1)
    assert rec.stays_at(1)


def test_callback_exception_does_not_kill_the_watcher(tmp_path):
    specs = tmp_path / "specs"
    write(specs / "a.yaml", "a: 1\n")
    rec = Recorder()

    def boom(changed):
        rec(changed)
        raise RuntimeError("callback bug")

    w = SpecWatcher([specs], boom, debounce=DEBOUNCE)
    w.start()
    try:
        assert w.wait_ready(10)
        (specs / "a.yaml").write_text("a: 2\n")
        assert rec.wait_for(1)
        (specs / "a.yaml").write_text("a: 3\n")
        assert rec.wait_for(2)
        assert w.running
    finally:
        w.stop()


def test_stop_is_prompt(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    w = SpecWatcher([specs], lambda c: None)
    w.start()
    assert w.wait_ready(10)
    t0 = time.monotonic()
    w.stop()
    assert time.monotonic() - t0 < 2
    assert not w.running


# -- git-sync ------------------------------------------------------------------------------------------------


def test_git_sync_symlink_swaps_each_give_one_callback(tmp_path, watch):
    root = tmp_path / "git"
    root.mkdir()
    git_sync_publish(root, SHA1, {"specs/p.yaml": "v: 1\n"})
    spec_path = root / "specs" / "specs"  # a directory inside the link
    _, rec = watch([spec_path])
    git_sync_publish(root, SHA2, {"specs/p.yaml": "v: 2\n"})
    assert rec.wait_for(1)
    assert rec.stays_at(1)
    assert str(root / "specs") in rec.calls[0]
    # the watch now follows the new worktree: a second publish is seen too (the bug of watching the link)
    git_sync_publish(root, SHA3, {"specs/p.yaml": "v: 3\n"})
    assert rec.wait_for(2)
    assert rec.stays_at(2)
    assert (spec_path / "p.yaml").read_text() == "v: 3\n"


def test_worktrees_noise_without_a_swap_does_not_trigger(tmp_path, watch):
    root = tmp_path / "git"
    root.mkdir()
    git_sync_publish(root, SHA1, {"p.yaml": "v: 1\n"})
    _, rec = watch([root / "specs"])
    write(root / ".worktrees" / SHA2 / "p.yaml", "v: 2\n")  # a worktree being prepared
    write(root / ".git" / "objects" / "ab" / "cdef", "blob")
    write(root / ".git" / "worktrees" / SHA2 / "HEAD", SHA2)
    assert rec.stays_at(0, quiet=DEBOUNCE + QUIET)


def test_ln_and_mv_T_publish_via_shell(tmp_path, watch):
    if shutil.which("ln") is None or shutil.which("mv") is None:
        pytest.skip("coreutils not available")
    root = tmp_path / "git"
    write(root / "v1" / "p.yaml", "v: 1\n")
    write(root / "v2" / "p.yaml", "v: 2\n")
    os.symlink("v1", root / "link")
    _, rec = watch([root / "link"])
    subprocess.run(["sh", "-c", "ln -s v2 tmp && mv -T tmp link"], cwd=root, check=True)
    assert rec.wait_for(1)
    assert rec.stays_at(1)
    (root / "v2" / "p.yaml").write_text("v: 2b\n")  # an in-place edit in the new target is seen
    assert rec.wait_for(2)
    (root / "v1" / "p.yaml").write_text("v: 1b\n")  # the old target no longer matters
    assert rec.stays_at(2)


def test_symlinks_on_path_follows_chains(tmp_path):
    (tmp_path / "real" / "specs").mkdir(parents=True)
    os.symlink("real", tmp_path / "l1")
    os.symlink(str(tmp_path / "l1"), tmp_path / "l2")
    links = symlinks_on_path(tmp_path / "l2" / "specs")
    assert links == [tmp_path / "l2", tmp_path / "l1"]
    assert symlinks_on_path(tmp_path / "real" / "specs") == []


@pytest.mark.parametrize(
    "name,noise",
    [("a.yaml", False), (".a.yaml.swp", True), ("a.yaml~", True), (".#a.yaml", True), ("#a.yaml#", True),
     ("4913", True), ("a.yaml.tmp", True), (".~lock.a.yaml#", True), ("values.yaml", False)],
)  # fmt: skip
def test_is_noise_name(name, noise):
    assert is_noise_name(name) is noise


# -- git revision ---------------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@needs_git
def test_git_revision_of_a_checkout_loose_and_packed_refs(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "specs" / "p.yaml", "v: 1\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")
    assert git_revision(repo / "specs" / "p.yaml") == head
    assert git_revision(repo / "specs") == head
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert git_revision(repo / "specs") == head
    _git(repo, "checkout", "-q", "--detach")
    assert git_revision(repo) == head


@needs_git
def test_git_revision_through_a_symlinked_worktree(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "p.yaml", "v: 1\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")
    _git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / ".worktrees" / "wt"), head)
    os.symlink(".worktrees/wt", tmp_path / "link")
    assert git_revision(tmp_path / "link") == head


def test_git_revision_from_git_sync_worktree_name(tmp_path):
    root = tmp_path / "git"
    root.mkdir()
    git_sync_publish(root, SHA1, {"specs/p.yaml": "v: 1\n"})  # .git file points nowhere readable
    assert git_revision(root / "specs" / "specs") == SHA1


def test_git_revision_none_outside_git(tmp_path):
    write(tmp_path / "p.yaml", "v: 1\n")
    assert git_revision(tmp_path / "p.yaml") is None


def test_link_that_does_not_exist_yet_is_picked_up_at_first_publish(tmp_path, watch):
    """vsr may start before git-sync's first sync: the link appears later."""
    root = tmp_path / "git"
    root.mkdir()
    _, rec = watch([root / "specs"])
    git_sync_publish(root, SHA1, {"p.yaml": "v: 1\n"})
    assert rec.wait_for(1)
    assert rec.stays_at(1)
    git_sync_publish(root, SHA2, {"p.yaml": "v: 2\n"})
    assert rec.wait_for(2)


def test_directory_deleted_and_recreated(tmp_path, watch):
    specs = tmp_path / "specs"
    write(specs / "a.yaml", "a: 1\n")
    _, rec = watch([specs])
    shutil.rmtree(specs)
    assert rec.wait_for(1)
    write(specs / "a.yaml", "a: 2\n")
    assert rec.wait_for(2)
    (specs / "a.yaml").write_text("a: 3\n")
    assert rec.wait_for(3)


@needs_git
def test_git_revision_falls_back_to_git_rev_parse(tmp_path, monkeypatch):
    """Ref storage vsr cannot read (e.g. reftable) -> `git rev-parse HEAD`; no git at all -> None."""
    import reconciler.gitrev as sw

    repo = tmp_path / "repo"
    write(repo / "p.yaml", "v: 1\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr(sw, "_head_of", lambda gitdir: None)
    assert git_revision(repo / "p.yaml") == head
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert git_revision(repo / "p.yaml") is None
