"""The daemon's view of the specs: load, keep the last known good version of documents that became invalid,
compile, and hand out immutable snapshots with a generation number. Never raises on bad input.

`reload(stable=True)` loads only files that are unchanged between two reads at least `settle` seconds apart (size,
mtime and content): a policy caught half-written (say, before its `enforcement: Audit` line) is never loaded."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from reconciler.api.document import Document
from reconciler.api.issues import SpecIssue
from reconciler.api.lkg import last_known_good
from reconciler.api.loader import discover, load_texts, read_text
from reconciler.engine.policies import CompiledSpecs, compile_documents
from reconciler.gitrev import git_revision

log = structlog.get_logger("vsr.specs")


@dataclass(frozen=True)
class SpecSnapshot:
    generation: int
    specs: CompiledSpecs
    documents: tuple[Document, ...]
    issues: tuple[SpecIssue, ...] = ()  # of the latest load (errors and warnings)
    kept: tuple[Document, ...] = ()  # documents kept at their last valid version
    revision: str | None = None
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def errors(self) -> list[SpecIssue]:
        return [i for i in self.issues if i.is_error]


Fingerprint = tuple[tuple[str, Any, str], ...]


class SpecStore:
    def __init__(self, paths: Iterable[str | os.PathLike[str]], settle: float = 0.5):
        self.paths = [Path(p) for p in paths]
        self.settle = settle
        self._lock = threading.Lock()
        self._current: SpecSnapshot | None = None
        self._candidate: tuple[Fingerprint, float] | None = None  # the last read not yet loaded, and when

    @property
    def current(self) -> SpecSnapshot:
        with self._lock:
            if self._current is None:
                raise RuntimeError("specs not loaded yet")
            return self._current

    def _read(self) -> tuple[list[tuple[str, str]], list[SpecIssue], list[str], Fingerprint]:
        files, issues = discover(self.paths)
        texts: list[tuple[str, str]] = []
        prints: list[tuple[str, Any, str]] = []
        for path in files:
            try:
                st = path.stat()
                stamp: Any = (st.st_size, st.st_mtime_ns)
            except OSError:
                stamp = None
            text, problem = read_text(path)
            if problem is not None:
                issues.append(problem)
                prints.append((str(path), stamp, problem.message))
            else:
                texts.append((str(path), text or ""))
                prints.append((str(path), stamp, hashlib.sha256((text or "").encode()).hexdigest()))
        return texts, issues, [str(f) for f in files], tuple(prints)

    def reload(self, today: dt.date | None = None, *, stable: bool = False) -> SpecSnapshot | None:
        """Load the specs again. Documents that became invalid keep their previous valid version.

        With `stable`, load only when the files read now are exactly those read at least `settle` seconds ago;
        otherwise remember this read and return None (call again shortly)."""
        today = today or dt.date.today()
        texts, issues, files, fingerprint = self._read()
        if stable:
            now = time.monotonic()
            candidate = self._candidate
            if candidate is None or candidate[0] != fingerprint:
                self._candidate = (fingerprint, now)
                log.debug("spec files changed since the last read; waiting until they are stable")
                return None
            if now - candidate[1] < self.settle:
                return None
        self._candidate = None
        result = load_texts(texts, today=today, issues=issues, files=files)
        with self._lock:
            previous = list(self._current.documents) if self._current is not None else []
            documents, kept = last_known_good(previous, result)
            generation = (self._current.generation + 1) if self._current is not None else 1
            revision = next((r for r in (git_revision(p) for p in self.paths) if r), None)
            snapshot = SpecSnapshot(generation, compile_documents(documents, today), tuple(documents),
                                    tuple(list(result.errors) + list(result.warnings)), tuple(kept), revision)
            self._current = snapshot
        for doc in kept:
            log.warning("document is invalid; keeping its last valid version", document=f"{doc.kind}/{doc.name}",
                        source=str(doc.source))
        return snapshot
