"""`load_specs`: files and directories -> valid documents plus positioned errors and warnings. Never raises on
bad input."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .validate import DocumentChecker
from .document import Document
from .semantic import Declared, SemanticChecker
from .issues import SourceRef, SpecIssue
from .yamlpos import parse_documents

MAX_FILE_BYTES = 5 * 1024 * 1024
SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = {".worktrees"}


@dataclass
class LoadResult:
    """The valid documents and the issues found; `errors` and `warnings` split `issues` by severity."""

    documents: list[Document] = field(default_factory=list)
    issues: list[SpecIssue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[SpecIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[SpecIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def get(self, kind: str, name: str) -> Document | None:
        return next((d for d in self.documents if d.kind == kind and d.name == name), None)

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d.kind == kind]


def _file_issue(file: str, message: str, line: int = 1, column: int = 1) -> SpecIssue:
    return SpecIssue(file, line, column, "", "", "", message)


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[SpecIssue]]:
    """Spec files under `paths`: given files as they are, directories recursively (*.yaml, *.yml), skipping hidden
    entries and `.worktrees/`, following directory symlinks once (no loops)."""
    files: list[Path] = []
    issues: list[SpecIssue] = []
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[Path] = set()

    def add(path: Path) -> None:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):
            key = path
        if key not in seen_files:  # the same file named twice, or through a symlink, is read once
            seen_files.add(key)
            files.append(path)

    def walk(directory: Path) -> None:
        try:
            st = directory.stat()
        except OSError as exc:
            issues.append(_file_issue(str(directory), f"cannot read directory: {exc.strerror or exc}"))
            return
        if (st.st_dev, st.st_ino) in seen_dirs:
            return  # a symlink loop or a directory reached twice
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            issues.append(_file_issue(str(directory), f"cannot read directory: {exc.strerror or exc}"))
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.name in SKIP_DIRS:
                continue
            child = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=True):
                    walk(child)
                elif entry.name.endswith(SUFFIXES) and entry.is_file(follow_symlinks=True):
                    add(child)
            except OSError:
                continue  # a dangling or looping symlink: not a spec file

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            walk(path)
        elif path.exists():
            add(path)
        else:
            issues.append(_file_issue(str(path), "no such file or directory"))
    return files, issues


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, SpecIssue | None]:
    """The file's text (UTF-8, BOM allowed), or an issue: unreadable, too large, not UTF-8."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, _file_issue(name, f"file is too large ({size / 1048576:.1f} MiB; the limit is "
                                           f"{max_bytes / 1048576:g} MiB)")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return None, _file_issue(name, f"cannot read file: {exc.strerror or type(exc).__name__}")
    if len(data) > max_bytes:
        return None, _file_issue(name, f"file is too large (the limit is {max_bytes / 1048576:g} MiB)")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, _file_issue(name, f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
                                 line, column)


def parse_file_text(text: str, file: str) -> tuple[list[Document], list[Declared], list[SpecIssue]]:
    """Documents of one file's text, without cross-document checks."""
    raws, errors = parse_documents(text)
    issues = [SpecIssue(file, e.line, e.column, "", "", "", e.message) for e in errors]
    documents: list[Document] = []
    declared: list[Declared] = []
    for raw in raws:
        if raw.data is None and not raw.errors:
            continue  # an empty document (only comments, or a stray ---)
        checker = DocumentChecker(raw, file)
        try:
            doc = checker.check()
        except Exception as exc:  # a bug must not stop the other documents (the fuzz tests look for this)
            doc = None
            checker.issue((), f"internal error while checking this document ({type(exc).__name__}); "
                              "please report it")
        issues.extend(checker.issues)
        if checker.kind and checker.name:
            line, column = raw.position(("metadata", "name"))
            declared.append(Declared(checker.kind, checker.name, SourceRef(file, line, column)))
        if doc is not None:
            documents.append(doc)
    return documents, declared, issues


def load_texts(texts: Iterable[tuple[str, str]], *, today: dt.date | None = None,
               issues: list[SpecIssue] | None = None, files: list[str] | None = None) -> LoadResult:
    """Load `(file name, text)` pairs as one spec set (used by `load_specs`, handy in tests)."""
    all_docs: list[Document] = []
    declared: list[Declared] = []
    all_issues = list(issues or [])
    for file, text in texts:
        docs, decl, found = parse_file_text(text, file)
        all_docs += docs
        declared += decl
        all_issues += found
    valid, found = SemanticChecker(all_docs, declared, today or dt.date.today()).run()
    all_issues += found
    all_issues.sort(key=SpecIssue.sort_key)
    return LoadResult(documents=valid, issues=all_issues, files=list(files or []))


def load_text(text: str, file: str = "<text>", *, today: dt.date | None = None) -> LoadResult:
    """Load one YAML text (any number of documents)."""
    return load_texts([(file, text)], today=today, files=[file])


def load_specs(paths: Iterable[str | os.PathLike[str]], *, today: dt.date | None = None,
               max_file_bytes: int = MAX_FILE_BYTES) -> LoadResult:
    """Load every spec document under `paths`. Never raises on bad input: returns the valid documents and the
    issues (each positioned `file:line:column`, with Kind/name and field path when known)."""
    files, issues = discover(paths)
    texts: list[tuple[str, str]] = []
    for path in files:
        text, problem = read_text(path, max_file_bytes)
        if problem is not None:
            issues.append(problem)
        else:
            texts.append((str(path), text or ""))
    return load_texts(texts, today=today, issues=issues, files=[str(f) for f in files])
