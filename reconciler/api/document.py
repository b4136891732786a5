"""`Document`: one valid spec document (its model) and where each of its fields is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .issues import SourceRef
from .models import SpecModel


@dataclass(eq=False)
class Document:
    """A valid document: `kind`, `name` (metadata.name), the pydantic `model`, and its `source` (start)."""

    kind: str
    name: str
    model: SpecModel
    source: SourceRef
    positions: Mapping[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """`(kind, name)`, unique among loaded documents."""
        return (self.kind, self.name)

    def position(self, path: tuple[Any, ...] | list[Any]) -> SourceRef:
        """Where `path` (from the document root, e.g. `("spec", "services", "TSM-SSH", "running")`) is written;
        falls back to the nearest existing parent, then to the document start."""
        path = tuple(path)
        while path:
            if path in self.positions:
                line, column = self.positions[path]
                return SourceRef(self.source.file, line, column)
            path = path[:-1]
        return self.source

    def field_source(self, field_path: tuple[Any, ...]) -> SourceRef:
        """Position of a field path below `spec` (as the engine writes them)."""
        return self.position(("spec",) + tuple(field_path))

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} ({self.source})"
