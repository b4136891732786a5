"""Positions and issues: `SourceRef` (where something is written) and `SpecIssue` (what is wrong there)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class SourceRef:
    """A position in a spec file; `line` and `column` are 1-based. `str()` gives `file:line` (as in plans)."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def full(self) -> str:
        """`file:line:column`."""
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SpecIssue:
    """One problem found while loading specs. `str()` is `file:line:col: Kind/name: path: message`.

    `kind`/`name` are empty when the document could not be identified, `path` is empty for file- or
    document-level problems; those parts are then left out of the string form.
    """

    file: str
    line: int
    column: int
    kind: str
    name: str
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        parts = [f"{self.file}:{self.line}:{self.column}"]
        if self.kind or self.name:
            parts.append(f"{self.kind or '?'}/{self.name or '?'}")
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def source(self) -> SourceRef:
        return SourceRef(self.file, self.line, self.column)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by `vsr validate -o json`."""
        return asdict(self)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.message)


def render_path(path: tuple[Any, ...]) -> str:
    """`("spec", "firewall", "ssh", "allowedIPs", 1)` -> `spec.firewall.ssh.allowedIPs[1]`."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
