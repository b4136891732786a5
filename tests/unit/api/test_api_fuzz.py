"""Hypothesis fuzzing of the loader: random YAML text, random text mutations of valid specs and random data
mutations. Properties: no unhandled exception; every issue positioned inside the file; every document valid;
an error-free result holds every non-empty document. Examples: FUZZ_EXAMPLES per test (default 800, 3 tests)."""

from __future__ import annotations

import copy
import datetime as dt
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.api import KINDS, LoadResult, load_text

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "800"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
VALID = Path(__file__).parent / "valid"
SEEDS = [(VALID / "design.yaml").read_text(), (VALID / "multi.yml").read_text()]
FILE = "fuzz.yaml"
TODAY = dt.date(2026, 11, 22)

TOKENS = ["apiVersion: vsr.dev/v1alpha1", "kind: HostSecurityPolicy", "kind: VCenter", "kind: Waiver",
          "metadata: {name: x}", "spec:", "  ", "\t", "\n", "---", "...", ":", "- ", "[", "]", "{", "}", ",", "#",
          "&a ", "*a", "<<: *a", "!!python/object:os.system", "!x", "'", '"', "|", ">", "%YAML 1.1", "off", "yes",
          "~", "null", "0x1F", "1e3", "2027-02-30", "2027-03-31", "10.0.0.0/8", "10.0.0.1/8", "all", "selector:",
          "services:", "TSM-SSH:", "running: false", "policy: off", "allowedIPs:", "password: hunter2", "\u00e9",
          "\x00", "\ufeff", "? ", "\r\n", "@", "`"]
SCALARS = ["off", "on", "yes", "no", "~", "", "''", "[]", "{}", "0", "-1", "99999999999999999999", "1.5", ".nan",
           "true", "'true'", "2027-02-30", "2027-03-31T00:00:00Z", "[1, [2, [3]]]", "{a: 1}", "*nope", "&x y",
           "!!binary aGVsbG8=", "!!set {a, b}", "'unterminated", "[unclosed", "\"\\x\"", "a: b", "- x", "\t"]


def check(result: LoadResult, text: str) -> None:
    """The loader's contract on any input."""
    lines = text.count("\n") + 2
    for issue in result.issues:
        assert issue.severity in ("error", "warning")
        assert issue.file == FILE and issue.message and "internal error" not in issue.message
        assert 1 <= issue.line <= lines and issue.column >= 1, issue
        assert str(issue).startswith(f"{FILE}:{issue.line}:{issue.column}: ")
    for doc in result.documents:
        assert isinstance(doc.model, KINDS[doc.kind]) and doc.name == doc.model.metadata.name
        assert doc.source.file == FILE and 1 <= doc.source.line <= lines
        for path in list(doc.positions)[:50]:
            assert 1 <= doc.position(path).line <= lines
    if not result.errors and len(text) < 20_000:
        try:
            expected = [d for d in yaml.safe_load_all(text) if d is not None]
        except Exception:
            raise AssertionError("PyYAML rejects this text but the loader reported no error") from None
        assert len(result.documents) == len(expected)


@FUZZ
@given(st.one_of(
    st.text(alphabet=st.sampled_from(list(" \n\t:-[]{},#&*!|>'\"%@`?.~0123456789abcxyzAZé\x00\ufeff")), max_size=300),
    st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
))
def test_random_yaml_text(text: str) -> None:
    check(load_text(text, FILE, today=TODAY), text)


@st.composite
def mutated_spec(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SEEDS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 5))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "insert", "scalar", "chop",
                                   "tab"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = " " * draw(st.integers(1, 4)) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip(" ")
        elif op == "tab":
            lines[i] = "\t" + lines[i].lstrip(" ")
        elif op == "insert":
            lines.insert(i, draw(st.sampled_from(TOKENS)) + "\n")
        elif op == "scalar" and ": " in lines[i]:
            key = lines[i].split(": ", 1)[0]
            lines[i] = f"{key}: {draw(st.sampled_from(SCALARS))}\n"
        elif op == "chop":
            cut = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:cut] + draw(st.sampled_from(TOKENS)) + lines[i][cut:]
    return "".join(lines)


@FUZZ
@given(mutated_spec())
def test_mutated_valid_specs(text: str) -> None:
    check(load_text(text, FILE, today=TODAY), text)


LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=False),
                   st.text(max_size=20), st.sampled_from(SCALARS), st.dates())
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


DOCS = [d for seed in SEEDS for d in yaml.safe_load_all(seed)]


@st.composite
def mutated_data(draw: st.DrawFn) -> str:
    chosen = copy.deepcopy(draw(st.lists(st.sampled_from(DOCS), min_size=1, max_size=3)))
    for _ in range(draw(st.integers(1, 4))):
        doc = draw(st.sampled_from(chosen))
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "replace":
            parent[path[-1]] = draw(VALUES)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(VALUES)
    return yaml.safe_dump_all(chosen, sort_keys=False, allow_unicode=True)


@FUZZ
@given(mutated_data())
def test_mutated_spec_data(text: str) -> None:
    check(load_text(text, FILE, today=TODAY), text)


def test_the_property_check_can_fail() -> None:
    """`check` is not vacuous: an unpositioned issue, a line past the end or a dropped document fail it."""
    import pytest

    from reconciler.api import SpecIssue
    good = load_text(SEEDS[0], FILE, today=TODAY)
    check(good, SEEDS[0])
    bad_issue = LoadResult(issues=[SpecIssue(FILE, 0, 1, "", "", "", "x")])
    past_end = LoadResult(issues=[SpecIssue(FILE, 999, 1, "", "", "", "x")])
    dropped = LoadResult(documents=good.documents[1:])
    for result in (bad_issue, past_end, dropped):
        with pytest.raises(AssertionError):
            check(result, SEEDS[0])
