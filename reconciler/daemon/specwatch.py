"""Watch spec paths and call back, debounced, when they change — git-sync aware.

git-sync publishes a new commit by writing a worktree under `<root>/.worktrees/<hash>` and then atomically
swapping the symlink `<root>/<link>` to it. A watch on the link follows it into the *old* worktree and misses
every later publish, so for every spec path that is, or lies inside, a symlink this watches the directory
holding the link and re-resolves the link on every change. Changes under `.worktrees/` count only when they are
under the worktree the link currently points to; `.git/` and editor temp files never count.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import structlog
import watchfiles

log = structlog.get_logger(__name__)

OnChange = Callable[[frozenset[str]], None]

_TEMP_NAME = re.compile(
    r"(~$)|(^\.#)|(^#.*#$)|(\.sw[a-p]$)|(^4913$)|(\.(tmp|temp|bak|part|crdownload|kate-swp)$)|(^\.~lock\.)"
    r"|(^\.DS_Store$)|(^\.goutputstream-)"
)


def is_noise_name(name: str) -> bool:
    """True for editor backups, swap and lock files (vim, emacs, kate, LibreOffice, GNOME, partial downloads)."""
    return bool(_TEMP_NAME.search(name))


def symlinks_on_path(path: Path, limit: int = 40) -> list[Path]:
    """Every symlink met while resolving `path` (each component, following chains), in order."""
    links: list[Path] = []
    parts = list(Path(os.path.abspath(path)).parts)
    current = Path(parts[0])
    rest = parts[1:]
    while rest:
        current = current / rest.pop(0)
        if current.is_symlink():
            if len(links) >= limit:
                break
            links.append(current)
            target = Path(os.readlink(current))
            if not target.is_absolute():
                target = current.parent / target
            tparts = list(Path(os.path.normpath(target)).parts)
            current = Path(tparts[0])
            rest = tparts[1:] + rest
    return links


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _under(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


_SKIP_DIRS = {".git", ".worktrees", "__pycache__"}
SPEC_SUFFIXES = (".yaml", ".yml")


class _Targets:
    """What to watch for a set of spec paths, and which changes matter, as resolved at one moment.

    Every directory is watched on its own, non-recursively: a recursive watch of the directory holding a link
    would follow the link into whatever it pointed to at the time and report later changes under stale names."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.links: set[str] = set()
        self.prefixes: set[str] = set()  # changes under these count: the resolved spec paths
        self.dirs: set[str] = set()  # directories to watch (non-recursively)
        for p in paths:
            absolute = Path(os.path.abspath(p))
            links = symlinks_on_path(absolute)
            real = Path(os.path.realpath(absolute))
            self.links.update(str(link) for link in links)
            self.prefixes.add(str(real))
            self.dirs.update(str(_nearest_existing(link.parent)) for link in links)
            if real.is_dir():
                for top, subdirs, _ in os.walk(real):
                    subdirs[:] = [d for d in subdirs if d not in _SKIP_DIRS]
                    self.dirs.add(top)
            else:
                self.dirs.add(str(_nearest_existing(real.parent)))

    def relevant(self, changed: str, known_dirs: frozenset[str] = frozenset()) -> bool:
        """A spec file (*.yaml, *.yml), a directory (new, or one we watched that vanished) or a watched link,
        under the spec paths; never `.git/`, editor noise or other files (a log written beside the specs)."""
        parts = Path(changed).parts
        if ".git" in parts or is_noise_name(parts[-1] if parts else ""):
            return False
        if changed in self.links:
            return True
        if not any(_under(changed, prefix) for prefix in self.prefixes):
            return False
        if changed in self.prefixes or changed.endswith(SPEC_SUFFIXES):
            return True
        return changed in known_dirs or changed in self.dirs or os.path.isdir(changed)

    def key(self) -> frozenset[str]:
        return frozenset(self.dirs)


class _StopOrRestart:
    """The stop_event watchfiles polls: set on stop or when the watched roots must change."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.restart = False

    def is_set(self) -> bool:
        return self.restart or self.stop.is_set()


class SpecWatcher:
    """Calls `on_change(changed_paths)` once per burst of relevant changes: `debounce` seconds after the last one,
    and at most `max_wait` seconds after the first one (a file rewritten forever cannot postpone reloads).

    Runs in its own daemon thread (`start()`); `stop()` returns within a fraction of a second."""

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        on_change: OnChange,
        debounce: float = 0.5,
        *,
        max_wait: float = 5.0,
        poll: float = 0.1,
        force_polling: bool | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("no spec paths to watch")
        self.on_change = on_change
        self.debounce = debounce
        self.max_wait = max(max_wait, debounce)
        self.poll = poll
        self.force_polling = force_polling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.callbacks = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vsr-specwatch", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block until the first watch is in place (useful in tests and at startup)."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        pending: set[str] = set()
        deadline = 0.0
        first = 0.0  # when the oldest pending change was seen
        failures = 0
        while not self._stop.is_set():
            targets = _Targets(self.paths)
            stop = _StopOrRestart(self._stop)
            log.debug("watching spec paths", dirs=len(targets.dirs), links=sorted(targets.links))
            try:
                for changes in watchfiles.watch(
                    *sorted(targets.dirs),
                    recursive=False,
                    watch_filter=None,
                    debounce=max(1, int(self.poll * 1000)),
                    step=min(50, max(1, int(self.poll * 500))),
                    rust_timeout=max(1, int(self.poll * 1000)),
                    yield_on_timeout=True,
                    stop_event=stop,
                    raise_interrupt=False,
                    force_polling=self.force_polling,
                    ignore_permission_denied=True,
                ):
                    self._ready.set()
                    now = time.monotonic()
                    if changes:
                        fresh = _Targets(self.paths)  # re-resolve: the link may have just been swapped
                        # judged against the links as they are now; a link that vanished still counts
                        known = frozenset(targets.dirs)
                        hits = {path for _, path in changes if fresh.relevant(path, known) or path in targets.links}
                        if hits:
                            if not pending:
                                first = now
                            pending |= hits
                            deadline = min(now + self.debounce, first + self.max_wait)
                        if fresh.key() != targets.key():
                            stop.restart = True  # new link target or new subdirectory: watch the new set
                    if pending and now >= deadline:
                        self._fire(frozenset(pending))
                        pending = set()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any watch failure
                # typically a directory vanished under us (a worktree removed): wait, re-resolve, watch again
                failures += 1
                log.warning("spec watch interrupted; re-resolving", error=str(exc), failures=failures)
                if self._stop.wait(min(5.0, self.poll * 2**min(failures, 6))):
                    break
            else:
                failures = 0
            if pending and not self._stop.is_set() and time.monotonic() >= deadline:
                self._fire(frozenset(pending))
                pending = set()

    def _fire(self, changed: frozenset[str]) -> None:
        self.callbacks += 1
        log.info("spec change detected", paths=sorted(changed)[:20], count=len(changed))
        try:
            self.on_change(changed)
        except Exception:  # the watcher must survive a failing callback
            log.exception("spec change callback failed")
