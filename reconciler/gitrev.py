"""The git commit a spec path is at (the daemon's status, saved plans), read without running git when it can."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _resolve_ref(gitdir: Path, ref: str) -> str | None:
    common = gitdir
    commondir = _read(gitdir / "commondir")
    if commondir:
        common = (gitdir / commondir).resolve()
    for base in dict.fromkeys((gitdir, common)):
        value = _read(base / ref)
        if value and _SHA.match(value):
            return value
        packed = _read(base / "packed-refs")
        if packed:
            for line in packed.splitlines():
                if line.startswith(("#", "^")):
                    continue
                sha, _, name = line.partition(" ")
                if name.strip() == ref and _SHA.match(sha):
                    return sha
    return None


def _head_of(gitdir: Path) -> str | None:
    head = _read(gitdir / "HEAD")
    if not head:
        return None
    if _SHA.match(head):
        return head
    if head.startswith("ref:"):
        return _resolve_ref(gitdir, head[4:].strip())
    return None


def git_revision(path: str | os.PathLike[str], *, timeout: float = 2.0) -> str | None:
    """The commit the checkout holding `path` is at (following symlinks), or None if it is not a git checkout.

    Reads `.git` (directory, or `gitdir:` file of a worktree), `HEAD`, loose refs and `packed-refs`; then tries the
    name of a git-sync worktree (`.worktrees/<sha>`); last, `git rev-parse HEAD` with a short timeout."""
    real = Path(os.path.realpath(path))
    start = real if real.is_dir() else real.parent
    for directory in (start, *start.parents):
        dotgit = directory / ".git"
        if dotgit.is_dir():
            gitdir: Path | None = dotgit
        elif dotgit.is_file():
            content = _read(dotgit) or ""
            gitdir = None
            if content.startswith("gitdir:"):
                gitdir = Path(content[7:].strip())
                if not gitdir.is_absolute():
                    gitdir = (directory / gitdir).resolve()
        else:
            continue
        if gitdir is not None:
            sha = _head_of(gitdir)
            if sha:
                return sha
        break
    for directory in (start, *start.parents):
        if directory.parent.name == ".worktrees" and _SHA.match(directory.name):
            return directory.name
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=start, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and _SHA.match(sha) else None


def git_dirty(path: str | os.PathLike[str], *, timeout: float = 10.0) -> bool:
    """Do the files under `path` (a file: its directory) differ from the checkout's commit? False when unknown."""
    real = Path(path)
    where = real if real.is_dir() else real.parent
    try:
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--", "."], capture_output=True,
                                text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return status.returncode == 0 and bool(status.stdout.strip())
