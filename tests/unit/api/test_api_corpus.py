"""The broken-spec corpus: every file states, in `# expect:` comments at its end, the positioned issues it must
produce (file:line:col, Kind/name, field path, key words of the message) — no more, no fewer."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.api import SpecIssue, load_specs

CORPUS = Path(__file__).parent / "corpus"
TODAY = dt.date(2026, 11, 22)
_EXPECT = re.compile(r"^# (expect|expect-warning): (\d+):(\d+) (\S+) (\S+) :: (.+)$")


@dataclass
class Expected:
    severity: str
    line: int
    column: int
    kind_name: str
    path: str
    keywords: list[str]

    def matches(self, issue: SpecIssue) -> bool:
        kind_name = "-" if not (issue.kind or issue.name) else f"{issue.kind or '?'}/{issue.name or '?'}"
        return (issue.severity == self.severity and (issue.line, issue.column) == (self.line, self.column)
                and kind_name == self.kind_name and (issue.path or "-") == self.path
                and all(k.lower() in issue.message.lower() for k in self.keywords))


def expectations(path: Path) -> list[Expected]:
    out = []
    for line in path.read_bytes().decode("latin-1").splitlines():
        m = _EXPECT.match(line)
        if m:
            tag, ln, col, kn, p, kws = m.groups()
            out.append(Expected("error" if tag == "expect" else "warning", int(ln), int(col), kn, p,
                                [k.strip() for k in kws.split(";")]))
    return out


CASES = sorted(CORPUS.glob("*.yaml"))


def test_corpus_is_large_enough() -> None:
    broken = [c for c in CASES if any(e.severity == "error" for e in expectations(c))]
    assert len(broken) >= 25
    assert all(expectations(c) for c in CASES), "every corpus file states what it expects"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_corpus_case(case: Path) -> None:
    expected = expectations(case)
    result = load_specs([case], today=TODAY)
    for issue in result.issues:
        assert issue.file == str(case)
        assert str(issue).startswith(f"{case}:{issue.line}:{issue.column}: ")
    for exp in expected:
        assert any(exp.matches(i) for i in result.issues), f"{exp} not in:\n" + "\n".join(map(str, result.issues))
    assert len(result.errors) == sum(e.severity == "error" for e in expected), "\n".join(map(str, result.errors))
    assert len(result.warnings) == sum(e.severity == "warning" for e in expected), "\n".join(map(str, result.warnings))
    if expected and all(e.severity == "error" for e in expected):
        broken = {e.kind_name for e in expected}
        assert not any(f"{d.kind}/{d.name}" in broken for d in result.documents), "an invalid document was loaded"


def test_broken_document_does_not_hide_the_others() -> None:
    result = load_specs([CORPUS / "40-broken-doc-keeps-others.yaml"], today=TODAY)
    assert sorted(d.key for d in result.documents) == [("HostSecurityPolicy", "good"), ("VCenter", "lab")]
    assert result.get("HostSecurityPolicy", "good").model.spec.lockdown.mode == "strict"


def test_whole_corpus_at_once_keeps_every_issue() -> None:
    """Loading the corpus as one directory still reports a problem in every broken file."""
    together = load_specs([CORPUS], today=TODAY)
    for case in CASES:
        if any(e.severity == "error" for e in expectations(case)):
            assert any(i.file == str(case) for i in together.errors), case.name
