"""Checks across documents: duplicates, VCenter references, selectors, waivers, attestations, policy conflicts."""

from __future__ import annotations

import datetime as dt
import difflib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .document import Document
from .fields import check_waiver_field, managed_fields, render_field_path
from .issues import SourceRef, SpecIssue, render_path
from .models import INCLUDE_FIELDS, POLICY_KINDS, HostSelector, VMSelector, WaiverSelector

Selector = HostSelector | VMSelector | WaiverSelector


@dataclass(frozen=True)
class Declared:
    """A document that names itself (`kind` + `metadata.name`), valid or not."""

    kind: str
    name: str
    source: SourceRef


class SemanticChecker:
    """Runs every cross-document check; `invalid` collects the keys of documents that fail one."""

    def __init__(self, documents: list[Document], declared: list[Declared], today: dt.date) -> None:
        self.documents = documents
        self.declared = declared
        self.today = today
        self.issues: list[SpecIssue] = []
        self.invalid: set[tuple[str, str]] = set()

    def run(self) -> tuple[list[Document], list[SpecIssue]]:
        self._duplicates()
        docs = [d for d in self.documents if d.key not in self.invalid]
        vcenters = sorted({d.name for d in self.declared if d.kind == "VCenter"})
        for doc in docs:
            self._document(doc, vcenters)
        docs = [d for d in docs if d.key not in self.invalid]
        self._conflicts([d for d in docs if d.kind in POLICY_KINDS], vcenters)
        return [d for d in docs if d.key not in self.invalid], self.issues

    def _issue(self, doc: Document, path: tuple[Any, ...], message: str, severity: str = "error") -> None:
        at = doc.position(path)
        self.issues.append(SpecIssue(at.file, at.line, at.column, doc.kind, doc.name, render_path(path), message,
                                     severity))  # type: ignore[arg-type]
        if severity == "error":
            self.invalid.add(doc.key)

    def _duplicates(self) -> None:
        by_key: dict[tuple[str, str], list[Declared]] = defaultdict(list)
        for decl in self.declared:
            if decl.kind and decl.name:
                by_key[(decl.kind, decl.name)].append(decl)
        for (kind, name), decls in by_key.items():
            if len(decls) < 2:
                continue
            self.invalid.add((kind, name))
            for decl in decls:
                others = ", ".join(o.source.full for o in decls if o is not decl)
                self.issues.append(SpecIssue(decl.source.file, decl.source.line, decl.source.column, kind, name,
                                             "metadata.name", f"{kind}/{name} is defined more than once: "
                                             f"here and at {others}"))

    def _document(self, doc: Document, vcenters: list[str]) -> None:
        spec = doc.model.spec
        if doc.kind == "VCenter":
            if not spec.tls.verify:  # type: ignore[union-attr]
                self._issue(doc, ("spec", "tls", "verify"), "TLS certificate verification is disabled", "warning")
            return
        ref = spec.vcenter  # type: ignore[union-attr]
        if ref is not None and ref not in vcenters:
            close = difflib.get_close_matches(ref, vcenters, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else (
                f"; defined: {', '.join(vcenters)}" if vcenters else "; no VCenter document is loaded")
            self._issue(doc, ("spec", "vcenter"), f"VCenter {ref!r} is not defined{hint}")
        elif ref is None and len(vcenters) > 1 and doc.kind in POLICY_KINDS:
            self._issue(doc, ("spec",), f"several VCenter documents are loaded ({', '.join(vcenters)}): "
                                        "name one in spec.vcenter")
        selector = spec.selector  # type: ignore[union-attr]
        if selector.is_empty():
            dims = ", ".join(INCLUDE_FIELDS[type(selector)])
            self._issue(doc, ("spec", "selector"), f"selector matches nothing: give at least one of {dims} "
                                                   '(["*"] matches all)', "warning")
        if doc.kind == "VMSecurityPolicy":
            self._vm_advanced_patterns(doc)
        if doc.kind == "Waiver":
            self._waiver(doc)
        elif doc.kind == "Attestation":
            self._attestation(doc)

    def _attestation(self, doc: Document) -> None:
        from reconciler import catalog  # the catalog reads api.fields: import it when first needed

        spec = doc.model.spec
        known = catalog.by_official_id()
        for i, control_id in enumerate(spec.controls):  # type: ignore[union-attr]
            found = known.get(control_id)
            if not found:
                close = difflib.get_close_matches(control_id, list(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else " (docs/controls.md lists them)"
                self._issue(doc, ("spec", "controls", i), f"unknown control {control_id!r}{hint}")
            elif all(c.fields for c in found):
                paths = sorted({f.text for c in found for f in c.fields})
                self._issue(doc, ("spec", "controls", i), f"{control_id} is a setting vsr checks "
                            f"({', '.join(paths)}): reports show what is measured, an attestation does not "
                            "replace it (use a Waiver for an accepted exception)", "warning")
        if not doc.model.is_active(self.today):  # type: ignore[union-attr]
            self._issue(doc, ("spec", "expires"), f"attestation expired on {spec.expires.isoformat()}; it no "
                                                  "longer counts", "warning")

    def _vm_advanced_patterns(self, doc: Document) -> None:
        """A key with wildcards (`ethernet*.filter*.name`) names many keys: it can only require them absent."""
        for key, value in (doc.model.spec.advanced_settings or {}).items():  # type: ignore[union-attr]
            if set("*?[") & set(key) and getattr(value, "absent", None) is not True:
                self._issue(doc, ("spec", "advancedSettings", key),
                            f"{key!r} is a pattern (it contains *, ? or [): it can only be required absent; "
                            "write {absent: true}")

    def _waiver(self, doc: Document) -> None:
        spec = doc.model.spec
        for i, pattern in enumerate(spec.fields):  # type: ignore[union-attr]
            problem = check_waiver_field(pattern)
            if problem:
                self._issue(doc, ("spec", "fields", i), problem)
        if not doc.model.is_active(self.today):  # type: ignore[union-attr]
            self._issue(doc, ("spec", "expires"), f"waiver expired on {spec.expires.isoformat()}; it no longer "
                                                  "applies", "warning")
        policies = {d.name for d in self.declared if d.kind in POLICY_KINDS}
        for i, name in enumerate(spec.policies or []):  # type: ignore[union-attr]
            if name not in policies:
                self._issue(doc, ("spec", "policies", i), f"no policy named {name!r} is loaded", "warning")

    def _conflicts(self, policies: list[Document], vcenters: list[str]) -> None:
        claims = {d.key: managed_fields(d.model.spec) for d in policies}  # type: ignore[arg-type]
        active = [d for d in policies if not d.model.spec.suspend]  # type: ignore[union-attr]
        default_vc = vcenters[0] if len(vcenters) == 1 else None
        for i, a in enumerate(active):
            for b in active[i + 1:]:
                sa, sb = a.model.spec, b.model.spec
                if a.kind != b.kind or sa.priority != sb.priority:  # type: ignore[union-attr]
                    continue
                if (sa.vcenter or default_vc) != (sb.vcenter or default_vc):  # type: ignore[union-attr]
                    continue
                if not same_objects(sa.selector, sb.selector):  # type: ignore[union-attr]
                    continue
                ca, cb = claims[a.key], claims[b.key]
                clash = sorted(p for p in ca.keys() & cb.keys() if not _same(ca[p], cb[p]))
                if clash:
                    self._conflict(a, b, clash)
                    self._conflict(b, a, clash)

    def _conflict(self, doc: Document, other: Document, clash: list[tuple[str, ...]]) -> None:
        more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
        prio = doc.model.spec.priority  # type: ignore[union-attr]
        self._issue(doc, ("spec",) + clash[0],
                    f"conflicts with {other.kind}/{other.name} ({other.position(('spec',) + clash[0])}): both set "
                    f"{render_field_path(clash[0])}{more} to different values at priority {prio} for the same "
                    "objects; give one a higher priority or narrow a selector")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(repr, a)) == sorted(map(repr, b))
    return type(a) is type(b) and a == b


def _pattern_set(patterns: list[str] | None) -> frozenset[str] | None:
    """One selector dimension as a set: None when it matches any value (omitted or []); `{"*"}` when it
    matches any value that exists (a list holding `*`)."""
    if not patterns:
        return None
    return frozenset({"*"}) if "*" in patterns else frozenset(patterns)


def _normal_form(selector: Selector) -> tuple[object, ...]:
    dims = tuple(_pattern_set(getattr(selector, d)) for d in INCLUDE_FIELDS[type(selector)])
    return (type(selector), dims, frozenset(selector.exclude or ()), bool(getattr(selector, "templates", False)))


def same_objects(a: Selector, b: Selector) -> bool:
    """True only when the two selectors provably select the same objects, whatever the inventory: the same
    patterns in every dimension (order, repeats and globs beside `*` aside), the same excludes and templates.
    Anything else (one covering the other, patterns that may or may not meet) depends on the inventory and is
    decided per object when planning."""
    if a.is_empty() or b.is_empty() or "*" in (a.exclude or ()) or "*" in (b.exclude or ()):
        return False
    return _normal_form(a) == _normal_form(b)
