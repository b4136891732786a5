"""Escaping of text from vSphere and specs (object names, paths, values, messages) for each output kind.

`console` makes a string safe for one line of a terminal or log: control characters (newlines, ESC, DEL, C1)
and invisible direction/line-separator characters become visible escapes (`\\n`, `\\x1b`, `\\u202e`), so a name
cannot start a new line, fake another entry or colour the terminal. `markdown` makes it plain text in Markdown
(also inside a table cell): the console escapes first, then a backslash before every character that Markdown or
GFM tables give a meaning (code spans, links, images, emphasis, HTML, `|`). HTML, JUnit and SARIF escape through
their own libraries (html.escape, ElementTree, json).
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~&$])")


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def console(value: object) -> str:
    """`str(value)` on one line, with control characters shown as escapes."""
    return _CONTROL.sub(_visible, str(value))


def markdown(value: object) -> str:
    """`str(value)` as literal Markdown text, safe inside a table cell."""
    return _MD_SPECIAL.sub(r"\\\1", console(value))


def markdown_code(value: object) -> str:
    """`str(value)` as a Markdown code span that nothing inside can close: the fence is one backtick longer than
    the longest run of backticks in the text; `|` is escaped for GFM tables (which honour `\\|` in code spans)."""
    text = console(value).replace("|", "\\|")
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"
