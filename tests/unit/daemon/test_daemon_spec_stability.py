"""Issue 12 item 11: the watcher reacts to spec files only and cannot be postponed past its maximum wait; the spec
store loads a file only after two equal reads, so a half-written policy is never enforced. Real files, inotify."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from test_daemon_specwatch import DEBOUNCE, Recorder, write

from reconciler.daemon.specwatch import SpecWatcher
from reconciler.daemon.specstore import SpecStore

HEAD = """apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: ssh}
spec:
  selector: {hosts: ["*"]}
  services: {TSM-SSH: {running: false}}
"""


def _start(paths, **kw) -> tuple[SpecWatcher, Recorder]:
    rec = Recorder()
    w = SpecWatcher(paths, rec, **kw)
    w.start()
    assert w.wait_ready(10)
    return w, rec


def test_files_that_are_not_specs_do_not_trigger(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write(specs / "a.yaml", "a: 1\n")
    w, rec = _start([specs], debounce=DEBOUNCE)
    try:
        for name in ("vsr.log", "README.md", "notes.txt", "a.json"):
            write(specs / name, "x\n")
        assert rec.stays_at(0, quiet=DEBOUNCE + 0.6)
        write(specs / "b.yml", "b: 1\n")
        assert rec.wait_for(1) and rec.calls[0] == frozenset({str(specs / "b.yml")})
    finally:
        w.stop()


def test_a_spec_file_rewritten_forever_cannot_postpone_past_max_wait(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write(specs / "a.yaml", "a: 0\n")
    w, rec = _start([specs], debounce=0.5, max_wait=1.5)
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            (specs / "a.yaml").write_text(f"a: {i}\n")
            stop.wait(0.1)

    writer = threading.Thread(target=churn, daemon=True)
    started = time.monotonic()
    writer.start()
    try:
        assert rec.wait_for(1, timeout=4.0), "no callback although changes kept coming for 4 s"
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, f"the first callback came after {elapsed:.1f} s (max_wait 1.5 s)"
        assert rec.wait_for(2, timeout=3.0)  # and again while the writes go on
    finally:
        stop.set()
        writer.join()
        w.stop()


def test_a_half_written_policy_is_not_loaded(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write(specs / "p.yaml", HEAD + "  enforcement: Audit\n")
    store = SpecStore([specs], settle=0.3)
    first = store.reload()
    assert first is not None and first.documents[0].model.spec.enforcement == "Audit"
    # an editor writes the new version in two steps; the first step alone is a complete Enforce policy
    (specs / "p.yaml").write_text(HEAD.replace("running: false", "running: true"))
    assert store.reload(stable=True) is None  # first read: remembered, not loaded
    time.sleep(0.1)
    with (specs / "p.yaml").open("a") as fh:
        fh.write("  enforcement: Audit\n")
    time.sleep(0.25)
    assert store.reload(stable=True) is None  # changed since the first read: start again
    assert store.reload(stable=True) is None  # equal, but not yet `settle` seconds apart
    time.sleep(0.35)
    snap = store.reload(stable=True)
    assert snap is not None and snap.generation == 2
    spec = snap.documents[0].model.spec
    assert spec.enforcement == "Audit" and spec.services["TSM-SSH"].running is True
    assert store.current is snap
