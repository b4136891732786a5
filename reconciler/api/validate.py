"""One parsed YAML document -> a `Document` or positioned issues (apiVersion/kind checks, pydantic errors)."""

from __future__ import annotations

import datetime as dt
import difflib
import math
from typing import Any

from pydantic import BaseModel, ValidationError

from .document import Document
from .issues import SourceRef, SpecIssue, render_path
from .models import API_VERSION, ENV_PATTERN, EVIDENCE_PATTERN, KINDS, NAME_PATTERN
from .yamlpos import RawDocument

Path = tuple[Any, ...]
_SECRET_WORDS = ("password", "secret", "token", "credentials")
_TYPE_WORDS = {
    "bool_type": "true or false", "int_type": "an integer", "float_type": "a number", "string_type": "a string",
    "dict_type": "a mapping", "list_type": "a list", "date_type": "a date (YYYY-MM-DD)", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "literal_error": None,
}
_PATTERNS = {
    NAME_PATTERN: "may contain only letters, digits, '.', '-' and '_'",
    ENV_PATTERN: "must be the name of an environment variable (letters, digits and '_', not starting with a digit)",
    r"\S": "must not be blank",
    EVIDENCE_PATTERN: "must be a link (scheme://..., e.g. https://tickets.example.com/SEC-1)",
}


def _vocabulary() -> set[str]:
    """Every field name (YAML spelling) of every model, for "did you mean" hints."""
    names: set[str] = set()
    todo: list[type[BaseModel]] = list(KINDS.values())
    seen: set[type] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
            todo.extend(_models_in(info.annotation))
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


VOCABULARY = _vocabulary()


def type_name(value: Any) -> str:
    """A short name of a YAML value's type for messages."""
    if value is None:
        return "null (empty)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "a mapping",
            list: "a list", dt.date: "a date", dt.datetime: "a date and time"}.get(type(value), type(value).__name__)


def _sensitive(path: Path) -> bool:
    return any(isinstance(p, str) and any(w in p.lower() for w in _SECRET_WORDS) for p in path)


def _got(value: Any, path: Path) -> str:
    """`(got 'yes')`, or only the type where the value could be sensitive or is large."""
    if _sensitive(path) or isinstance(value, (dict, list)) or value is None:
        return f"got {type_name(value)}"
    if isinstance(value, bool):
        return f"got {str(value).lower()}"
    text = value.isoformat() if isinstance(value, dt.date) else repr(value)
    return f"got {text}" if len(text) <= 60 else f"got {type_name(value)}"


class DocumentChecker:
    """Validates one `RawDocument` from `file`."""

    def __init__(self, raw: RawDocument, file: str) -> None:
        self.raw = raw
        self.file = file
        data = raw.data if isinstance(raw.data, dict) else {}
        kind = data.get("kind")
        meta = data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        self.kind = kind if isinstance(kind, str) else ""
        self.name = name if isinstance(name, str) else ""
        self.issues: list[SpecIssue] = []

    def issue(self, path: Path, message: str, severity: str = "error", at: Path | None = None) -> None:
        line, column = self.raw.position(path if at is None else at)
        self.issues.append(SpecIssue(self.file, line, column, self.kind, self.name, render_path(path), message,
                                     severity))  # type: ignore[arg-type]

    def check(self) -> Document | None:
        """The document when valid; issues are collected in `self.issues` either way."""
        raw = self.raw
        for err in raw.errors:
            self.issues.append(SpecIssue(self.file, err.line, err.column, self.kind, self.name,
                                         render_path(err.path), err.message))
        data = raw.data
        if not isinstance(data, dict):
            if data is not None or not raw.errors:
                self.issue((), "a spec document must be a mapping with apiVersion, kind, metadata and spec; "
                               f"found {type_name(data)}")
            return None
        if not self._check_header(data):
            return None
        model_cls = KINDS[data["kind"]]
        try:
            model = model_cls.model_validate(data)
        except ValidationError as exc:
            self._report(exc, data)
            return None
        if raw.errors:
            return None
        self._warn_ambiguous_settings()
        return Document(kind=model.kind, name=model.metadata.name, model=model,  # type: ignore[arg-type]
                        source=SourceRef(self.file, raw.line, raw.column), positions=raw.positions)

    def _check_header(self, data: dict[Any, Any]) -> bool:
        ok = True
        api = data.get("apiVersion")
        if "apiVersion" not in data:
            self.issue((), f"missing apiVersion (write apiVersion: {API_VERSION})")
            ok = False
        elif not isinstance(api, str) or api != API_VERSION:
            shown = repr(api) if isinstance(api, str) else type_name(api)
            self.issue(("apiVersion",), f"unknown apiVersion {shown}; this version of vsr reads {API_VERSION}")
            ok = False
        kind = data.get("kind")
        if "kind" not in data:
            self.issue((), f"missing kind (one of {', '.join(KINDS)})")
            ok = False
        elif not isinstance(kind, str) or kind not in KINDS:
            shown = repr(kind) if isinstance(kind, str) else type_name(kind)
            close = difflib.get_close_matches(kind, list(KINDS), n=1, cutoff=0.6) if isinstance(kind, str) else []
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(KINDS)}"
            self.issue(("kind",), f"unknown kind {shown}{hint}")
            ok = False
        return ok

    # ------------------------------------------------------------ pydantic errors -> issues

    def _report(self, exc: ValidationError, data: dict[Any, Any]) -> None:
        groups: dict[tuple[Path, bool], list[dict[str, Any]]] = {}
        already = {e.path for e in self.raw.errors}  # e.g. an impossible date, reported by the YAML layer
        for err in exc.errors(include_url=False):
            path, is_key = _resolve(err["loc"], data, err["type"])
            if path in already:
                continue
            groups.setdefault((path, is_key), []).append(err)
        for (path, is_key), errs in groups.items():
            self.issue(path, self._message(path, is_key, errs))

    def _message(self, path: Path, is_key: bool, errs: list[dict[str, Any]]) -> str:
        err = errs[0]
        kind = err["type"]
        value = err.get("input")
        if is_key:
            return f"keys here must be strings, got {type_name(path[-1])}"
        if len(errs) > 1 and all(e["type"] in _TYPE_WORDS and e["type"] != "literal_error" for e in errs):
            words = list(dict.fromkeys(str(_TYPE_WORDS[e["type"]]) for e in errs))
            wanted = ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
            return f"must be {wanted}, {_got(value, path)}" + self._quote_hint(path, value)
        if kind == "missing":
            return f"missing required field {path[-1]!r}"
        if kind == "extra_forbidden":
            return _unknown_field(path)
        note = self.raw.ambiguous.get(path)
        if note is not None and kind in ("int_type", "float_type", "bool_type") and not _sensitive(path):
            return (f"must be {_TYPE_WORDS[kind]}, got {note.text} (unquoted), which vsr keeps as text: "
                    f"{note.meaning}; {note.fix}")
        if kind in _TYPE_WORDS and kind != "literal_error":
            msg = f"must be {_TYPE_WORDS[kind]}, {_got(value, path)}"
            if kind == "bool_type" and isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
                msg += f"; write {value.lower() in ('true', 'yes') and 'true' or 'false'} without quotes"
            if kind == "list_type" and isinstance(value, str):
                msg += f'; write a list, e.g. ["{value}"]' if not _sensitive(path) else "; write a list"
            if kind in ("int_type", "float_type") and isinstance(value, str) and _is_number(value):
                msg += f"; write {value.strip()} without quotes"
            return msg + (self._quote_hint(path, value) if kind == "string_type" else "")
        if kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            raw = self.raw.plain_scalars.get(path)
            hint = self._quote_hint(path, value) if raw is not None and f"'{raw}'" in expected else ""
            return f"must be {expected}, {_got(value, path)}{hint}"
        if kind == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern", "")
            return _PATTERNS.get(pattern, f"must match {pattern}") + (
                "" if _sensitive(path) else f", {_got(value, path)}")
        if kind == "string_too_short":
            return "must not be empty"
        if kind == "too_short":
            return "must list at least one entry"
        msg = str(err.get("msg", "invalid value"))
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        if msg.startswith("Input should be "):
            msg = "must be " + msg.removeprefix("Input should be ")
            if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
                msg += f", {_got(value, path)}"
        return msg

    def _quote_hint(self, path: Path, value: Any) -> str:
        """`; YAML reads the unquoted true as a boolean: write "true" in quotes` for a plain non-string scalar."""
        raw = self.raw.plain_scalars.get(path)
        if raw is None or _sensitive(path) or len(raw) > 60:
            return ""
        return f'; YAML reads the unquoted {raw or "empty value"} as {type_name(value)}: write "{raw}" in quotes'

    def _warn_ambiguous_settings(self) -> None:
        """Advanced settings are typed by the host at plan time: say how an ambiguous unquoted value is read."""
        for path, note in sorted(self.raw.ambiguous.items(), key=lambda item: self.raw.position(item[0])):
            if len(path) == 3 and path[:2] == ("spec", "advancedSettings"):
                what = "boolean" if note.wants == "bool" else "number"
                self.issue(path, f"the unquoted {note.text} is kept as the text {note.text!r} ({note.meaning}); "
                                 f"quote it to confirm, or {note.fix} if the setting is a {what}", "warning")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _unknown_field(path: Path) -> str:
    key = path[-1]
    if isinstance(key, str) and key.lower() in ("password", "pass", "passwd", "secret") \
            and any(p == "credentials" for p in path):
        return ("inline passwords are not allowed: put the password in an environment variable (passwordEnv) "
                "or a file (passwordFile)")
    close = difflib.get_close_matches(str(key), sorted(VOCABULARY), n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close and close[0] != key else ""
    return f"unknown field {str(key)!r}{hint}"


def _resolve(loc: tuple[Any, ...], data: Any, err_type: str) -> tuple[Path, bool]:
    """Map a pydantic error location onto the data path (dropping union/validator tags)."""
    path: list[Any] = []
    current = data
    for i, part in enumerate(loc):
        if part == "[key]":
            return tuple(path), True
        if isinstance(current, dict) and part in current:
            key = next((k for k in current if k == part and type(k) is type(part)), None)
            if key is None:  # pydantic reports a boolean key True as 1
                key = next(k for k in current if k == part)
            path.append(key)
            current = current[key]
        elif isinstance(current, list) and isinstance(part, int) and not isinstance(part, bool) \
                and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif i == len(loc) - 1 and err_type == "missing":
            path.append(part)
    return tuple(path), False
