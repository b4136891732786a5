"""The daemon's view of the specs: load, keep the last known good version of documents that became invalid,
compile, and hand out immutable snapshots with a generation number. Never raises on bad input."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from reconciler.api import load_specs
from reconciler.api.lkg import last_known_good
from reconciler.engine.policies import CompiledSpecs, compile_documents
from reconciler.gitrev import git_revision

log = structlog.get_logger("vsr.specs")


@dataclass(frozen=True)
class SpecSnapshot:
    generation: int
    specs: CompiledSpecs
    documents: tuple[Any, ...]
    issues: tuple[Any, ...] = ()  # api.SpecIssue of the latest load (errors and warnings)
    kept: tuple[Any, ...] = ()  # documents kept at their last valid version
    revision: str | None = None
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def errors(self) -> list[Any]:
        return [i for i in self.issues if i.is_error]


class SpecStore:
    def __init__(self, paths: Iterable[str | os.PathLike[str]]):
        self.paths = [Path(p) for p in paths]
        self._lock = threading.Lock()
        self._current: SpecSnapshot | None = None

    @property
    def current(self) -> SpecSnapshot:
        with self._lock:
            if self._current is None:
                raise RuntimeError("specs not loaded yet")
            return self._current

    def reload(self, today: dt.date | None = None) -> SpecSnapshot:
        """Load the specs again. Documents that became invalid keep their previous valid version."""
        today = today or dt.date.today()
        result = load_specs(self.paths, today=today)
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
