"""VMware Tools' `tools.conf` (a GLib key file: `[section]` headers, `key = value` lines, `#` comments): read the
values, and edit only the keys asked for, leaving every other byte as it was (comments, blank lines, other
sections and keys, the file's line endings).

Pure functions, no I/O. Keys are case-sensitive (`[deployPkg]`); when a key appears twice in a section the last
one wins, as GLib reads it, and that is the line an edit changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

Key = tuple[str, str]  # (section, key)

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_ENTRY = re.compile(r"^(\s*)([^#;=\s\[][^=]*?)(\s*=\s*)(.*?)(\s*)$")
_COMMENTED = re.compile(r"^\s*[#;]\s*([^=\s]+)\s*=")


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def parse(text: str) -> dict[Key, str]:
    """Every `key = value` of the file by (section, key); the last occurrence wins."""
    values: dict[Key, str] = {}
    section = ""
    for raw in _lines(text):
        line = raw.rstrip("\r\n")
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            continue
        entry = _ENTRY.match(line)
        if entry and not line.lstrip().startswith(("#", ";")):
            values[(section, entry.group(2).strip())] = entry.group(4)
    return values


def edit(text: str, changes: Mapping[Key, str]) -> str:
    """`text` with each (section, key) set to its value: the key's line changed in place (its spacing kept);
    a missing key added to its section (after a commented-out line of the same key when there is one, else
    after the section's last line that is not blank); a missing section appended at the end."""
    lines = _lines(text)
    nl = _newline(text)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += nl
    pending = dict(changes)
    for (section, key), value in list(pending.items()):
        index = _find_entry(lines, section, key)
        if index is not None:
            entry = _ENTRY.match(lines[index].rstrip("\r\n"))
            assert entry is not None
            ending = lines[index][len(lines[index].rstrip("\r\n")):]
            lines[index] = f"{entry.group(1)}{entry.group(2)}{entry.group(3)}{value}{ending}"
            del pending[(section, key)]
    for (section, key), value in pending.items():
        span = _section_span(lines, section)
        new = f"{key} = {value}{nl}"
        if span is None:
            if lines and lines[-1].strip():
                lines.append(nl)
            lines.extend([f"[{section}]{nl}", new])
            continue
        start, end = span
        at = _commented_key(lines, start, end, key)
        if at is None:
            at = start
            for i in range(start, end):
                if lines[i].strip():
                    at = i
        lines.insert(at + 1, new)
    return "".join(lines)


def _section_span(lines: list[str], section: str) -> tuple[int, int] | None:
    """(index of the header, index after the section's last line) of the last `[section]`."""
    found: tuple[int, int] | None = None
    for i, raw in enumerate(lines):
        header = _SECTION.match(raw.rstrip("\r\n"))
        if header and header.group(1).strip() == section:
            end = next((j for j in range(i + 1, len(lines)) if _SECTION.match(lines[j].rstrip("\r\n"))), len(lines))
            found = (i, end)
    return found


def _find_entry(lines: list[str], section: str, key: str) -> int | None:
    current, found = "", None
    for i, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        header = _SECTION.match(line)
        if header:
            current = header.group(1).strip()
            continue
        entry = _ENTRY.match(line)
        if current == section and entry and not line.lstrip().startswith(("#", ";")) and entry.group(2).strip() == key:
            found = i
    return found


def _commented_key(lines: list[str], start: int, end: int, key: str) -> int | None:
    for i in range(start + 1, end):
        m = _COMMENTED.match(lines[i])
        if m and m.group(1) == key:
            return i
    return None
