"""YAML text -> plain Python data plus a position for every node (PyYAML's composer gives the marks).

Safe by construction: only the YAML core tags are accepted, aliases are expanded under a node budget
(billion laughs), recursion and nesting depth are bounded, duplicate keys are reported, `<<` merge keys work.
A syntax error in one `---` document does not hide the other documents of the same file.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .yaml12 import INF_SPELLINGS, Ambiguity, CoreLoader, ambiguity

Path = tuple[Any, ...]

MAX_NODES = 100_000  # expanded nodes per document (aliases count every time they are used)
MAX_DEPTH = 64  # nesting depth of a document
_TAG = "tag:yaml.org,2002:"
REQUIRED_TAG = "!required"  # marks site-specific values in the shipped baselines (specs/baselines/*/site.yaml)
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_WHAT = {f"{_TAG}timestamp": "date", f"{_TAG}int": "integer", f"{_TAG}float": "number"}
_DOC_START = re.compile(r"^---(?=[ \t\r\n\x85\u2028\u2029]|\Z)", re.M)


@dataclass
class ParseError:
    """A problem at a 1-based position; `path` is the data path when known."""

    line: int
    column: int
    message: str
    path: Path = ()


@dataclass
class RawDocument:
    """One YAML document as data, with positions (1-based `(line, column)`) by data path."""

    data: Any
    line: int
    column: int
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    plain_scalars: dict[Path, str] = field(default_factory=dict)  # source text of unquoted non-string scalars
    ambiguous: dict[Path, Ambiguity] = field(default_factory=dict)  # unquoted text some YAML reads otherwise
    errors: list[ParseError] = field(default_factory=list)

    def position(self, path: Path) -> tuple[int, int]:
        """The position of `path`, else of its nearest existing parent, else the document start."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return (self.line, self.column)


class _Abort(Exception):
    """A document-level failure (expansion budget, recursion, depth)."""

    def __init__(self, line: int, column: int, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.error = ParseError(line, column, message, path)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number"}.get(type(value), "a date")


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


class Lines:
    """Character index -> 1-based (line, column), counting only "\n" as a line break (as editors do; PyYAML's
    own marks also break lines at NEL and U+2028)."""

    def __init__(self, text: str, offset: int = 0) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.offset = offset

    def at(self, index: int) -> tuple[int, int]:
        index += self.offset
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def shifted(self, offset: int) -> Lines:
        other = Lines.__new__(Lines)
        other.starts, other.offset = self.starts, offset
        return other


class _Builder:
    """Turns one composed node graph into data while recording positions."""

    def __init__(self, doc: RawDocument, lines: Lines) -> None:
        self.doc = doc
        self.lines = lines
        self.count = 0
        self.stack: set[int] = set()
        self.constructor = CoreLoader("")

    def _pos(self, node: Node) -> tuple[int, int]:
        return self.lines.at(node.start_mark.index)

    def build(self, node: Node, path: Path, depth: int = 0) -> Any:
        self.count += 1
        line, col = self._pos(node)
        if self.count > MAX_NODES:
            raise _Abort(line, col, f"document expands to more than {MAX_NODES} nodes (aliases used too often?)", path)
        if depth > MAX_DEPTH:
            raise _Abort(line, col, f"nesting deeper than {MAX_DEPTH} levels", path)
        if id(node) in self.stack:
            raise _Abort(line, col, "an alias refers to the node that contains it (recursive structure)", path)
        self.doc.positions.setdefault(path, (line, col))
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != f"{_TAG}seq":
                    self._error(node, f"unsupported tag {_short(node.tag)}", path)
                return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
            if node.tag != f"{_TAG}map":
                self._error(node, f"unsupported tag {_short(node.tag)}", path)
            return self._mapping(node, path, depth)
        finally:
            self.stack.discard(id(node))

    def _error(self, node: Node, message: str, path: Path) -> None:
        line, col = self._pos(node)
        self.doc.errors.append(ParseError(line, col, message, path))

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.tag == REQUIRED_TAG:  # a baseline's site parameter nobody filled in
            self._error(node, f"site parameter {node.value or '(unnamed)'} is not filled in: replace "
                              f"\"!required {node.value}\" in this file with your value (see the comments at the top "
                              "of the file)", path)
            return node.value
        if node.tag == f"{_TAG}merge":  # `<<` as a value, not as a key
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self._error(node, f"unsupported tag {_short(node.tag)} (only plain YAML values are allowed)", path)
            return node.value
        try:
            value = self.constructor.yaml_constructors[node.tag](self.constructor, node)
        except Exception as exc:  # e.g. an impossible date such as 2027-02-30
            self._error(node, f"invalid {_WHAT.get(node.tag, node.tag)}: {exc}", path)
            return None
        if node.style is None:
            if isinstance(value, str):
                note = ambiguity(value)
                if note is not None:
                    self.doc.ambiguous[path] = note
            else:
                self.doc.plain_scalars[path] = node.value
                if isinstance(value, float) and math.isinf(value) and node.value not in INF_SPELLINGS:
                    self._error(node, f"number {node.value} is out of range (the largest is about 1.8e308)", path)
                    return None
        return value

    def _mapping(self, node: MappingNode, path: Path, depth: int, merging: bool = False) -> dict[Any, Any]:
        explicit: dict[Any, Any] = {}
        seen: dict[Any, tuple[int, int]] = {}
        merge_values: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == f"{_TAG}merge":
                merge_values.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self._error(key_node, "a mapping key must be a plain value, not a list or mapping", path)
                continue
            key = self._scalar(key_node, path + ("<key>",))
            self.doc.plain_scalars.pop(path + ("<key>",), None)
            self.doc.ambiguous.pop(path + ("<key>",), None)
            if not isinstance(key, str):  # every key of a spec is a name; say so here, at the key, in its spelling
                text = key_node.value
                shown = f"the key {text}" if text else "an empty key"
                self._error(key_node, f"{shown} is read as {_type_name(key)}, but keys must be strings: "
                                      f"write \"{text}\" in quotes", path + (text,))
                key = text
            if key in seen:
                line, col = seen[key]
                self._error(key_node, f"duplicate key {key_node.value!r} (first at line {line}, column {col})",
                            path + (key,))
                continue
            seen[key] = self._pos(key_node)
            if merging and path + (key,) in self.doc.positions:
                pass  # an explicit key of the merging mapping keeps its own position
            else:
                self.doc.positions[path + (key,)] = self._pos(key_node)
            explicit[key] = self.build(value_node, path + (key,), depth + 1)
        for value_node in merge_values:  # explicit keys win, then earlier merge sources win
            for source in self._merge_sources(value_node, path):
                if id(source) in self.stack:
                    line, col = self._pos(source)
                    raise _Abort(line, col, "a merge key '<<' refers to the mapping that contains it", path)
                self.stack.add(id(source))
                try:
                    for key, value in self._mapping(source, path, depth + 1, merging=True).items():
                        explicit.setdefault(key, value)
                finally:
                    self.stack.discard(id(source))
        return explicit

    def _merge_sources(self, node: Node, path: Path) -> list[MappingNode]:
        self.count += 1
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return list(node.value)
        self._error(node, "a merge key '<<' needs a mapping or a list of mappings (an alias such as *base)", path)
        return []


_FRIENDLY = (
    ("expected <block end>", "bad indentation: this line does not line up with the lines above it"),
    ("mapping values are not allowed here", "unexpected ':' (indentation wrong, or a value containing ': ' that "
                                            "needs quotes)"),
    ("but found ':'", "unexpected ':' (quote values that start with ':', such as IPv6 addresses: \"::1\")"),
    ("found undefined alias", "an alias (*name) refers to an anchor (&name) that is not defined in this document"),
)


def _describe(exc: yaml.YAMLError, text: str, lines: Lines) -> ParseError:
    """A short, positioned message for a PyYAML error (without echoing the source line)."""
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = lines.at(exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character or "\0")
        return ParseError(line, col, f"control character #x{char:04x} is not allowed in YAML")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = (getattr(exc, "problem", None) or str(exc)).strip()
    context = (getattr(exc, "context", None) or "").strip()
    if mark is None:
        line, col = lines.at(0)
        return ParseError(line, col, f"YAML syntax error: {problem}")
    line, col = lines.at(mark.index)
    if "<stream end>" in problem or "end of stream" in problem:
        opened = _unclosed(text)
        if opened is not None:
            char, index = opened
            oline, ocol = lines.at(index)
            return ParseError(oline, ocol, f"YAML syntax error: this {char} is never closed (the document ends first)")
    if "\t" in problem or "'\\t'" in problem or text[mark.index:mark.index + 1] == "\t":
        return ParseError(line, col, "tab character: YAML indentation must use spaces, not tabs")
    hint = ""
    if any(s in problem for s in ("did not find expected", "could not find expected ':'", "expected ',' or ']'",
                                  "expected ',' or '}'")):
        hint = " (check the indentation of this line and the one before it, a missing ':' or an unclosed quote/bracket)"
    for pattern, friendly in _FRIENDLY:
        if pattern in problem:
            problem = f"{friendly} [{problem}]"
            break
    what = f"{context}, {problem}" if context and "while" not in context else problem
    cmark = getattr(exc, "context_mark", None)
    if cmark is not None and context.startswith("while") and cmark.index != mark.index:
        cline, ccol = lines.at(cmark.index)
        what += f" ({context.removeprefix('while ')} started at line {cline}, column {ccol})"
    return ParseError(line, col, f"YAML syntax error: {what}{hint}")


def _unclosed(text: str) -> tuple[str, int] | None:
    """The innermost flow bracket or quote still open at the end of `text` (a hint for "unexpected end"):
    (what, character index)."""
    stack: list[tuple[str, int]] = []
    quote: tuple[str, int] | None = None
    prev = "\n"
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if quote[0] == '"' and ch == "\\":
                i += 2
                continue
            if ch == quote[0]:
                if ch == "'" and text[i + 1:i + 2] == "'":
                    i += 2
                    continue
                quote = None
        elif ch == "#" and prev in " \t\n":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif ch in "'\"" and prev in " \t\n[{,:-":
            quote = (ch, i)
        elif ch in "[{":
            stack.append((ch, i))
        elif ch in "]}" and stack:
            stack.pop()
        prev = ch
        i += 1
    if quote is not None:
        return ("quote " + quote[0], quote[1])
    if stack:
        return ("'" + stack[-1][0] + "'", stack[-1][1])
    return None


def _compose(text: str, lines: Lines) -> tuple[list[tuple[Node, Lines]], ParseError | None]:
    """Compose all documents; on error return those composed so far and the error."""
    nodes: list[tuple[Node, Lines]] = []
    loader = None
    try:
        loader = CoreLoader(text)
        while loader.check_node():
            nodes.append((loader.get_node(), lines))
    except yaml.YAMLError as exc:
        return nodes, _describe(exc, text, lines)
    except RecursionError:
        line, col = lines.at(0)
        return nodes, ParseError(line, col, "YAML nesting is too deep")
    finally:
        if loader is not None:
            loader.dispose()
    return nodes, None


def _chunks(text: str) -> list[tuple[str, int]]:
    """Split at `---` at the start of a line (document starts); returns (chunk text, character offset)."""
    starts = [0] + [m.start() for m in _DOC_START.finditer(text) if m.start() > 0]
    return [(text[a:b], a) for a, b in zip(starts, starts[1:] + [len(text)])]


def parse_documents(text: str) -> tuple[list[RawDocument], list[ParseError]]:
    """All documents of one file, and the syntax errors that are not tied to a parsed document."""
    lines = Lines(text)
    composed, error = _compose(text, lines)
    errors: list[ParseError] = []
    if error is not None:
        # Parse each `---` chunk on its own so one broken document does not hide the others.
        composed = []
        for chunk, offset in _chunks(text):
            nodes, chunk_error = _compose(chunk, lines.shifted(offset))
            composed.extend(nodes)
            if chunk_error is not None:
                errors.append(chunk_error)
    docs: list[RawDocument] = []
    for node, node_lines in composed:
        line, col = node_lines.at(node.start_mark.index)
        doc = RawDocument(data=None, line=line, column=col)
        try:
            doc.data = _Builder(doc, node_lines).build(node, ())
        except _Abort as abort:
            err = abort.error
            if err.message.startswith("document expands"):  # report at the top-level key, not deep inside
                err.path = err.path[:1]
                err.line, err.column = doc.position(err.path)
            doc.errors.append(err)
        except RecursionError:
            doc.errors.append(ParseError(line, col, "YAML nesting is too deep"))
        docs.append(doc)
    return docs, errors
