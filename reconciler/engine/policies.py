"""Compiling spec documents into what the planner needs: per policy, its selector and, per controller, the
desired field values with their source positions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler import controllers
from reconciler.api import fields as shape
from reconciler.api.document import Document
from reconciler.api.models import POLICY_KINDS
from reconciler.controllers.base import Controller
from reconciler.engine import attestations, waivers
from reconciler.engine.attestations import AttestationRule
from reconciler.engine.waivers import WaiverRule
from reconciler.engine.types import DesiredValue


@dataclass
class CompiledPolicy:
    kind: str
    name: str
    vcenter: str | None
    selector: Mapping[str, Any]
    enforce: bool
    suspended: bool
    priority: int
    source: str
    fields: dict[str, dict[tuple[str, ...], DesiredValue]] = field(default_factory=dict)  # by controller name


def _source(doc: Document, path: tuple[str, ...]) -> str:
    ref = doc.position(("spec",) + path)  # a defaulted parameter falls back to its nearest written parent
    return f"{ref.file}:{ref.line}"


def compile_policy(doc: Document, registry: Iterable[Controller] | None = None) -> CompiledPolicy:
    spec = doc.model.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    start = doc.source
    policy = CompiledPolicy(
        kind=doc.kind, name=doc.name, vcenter=spec.get("vcenter"), selector=spec.get("selector") or {},
        enforce=spec.get("enforcement", "Enforce") == "Enforce", suspended=bool(spec.get("suspend")),
        priority=int(spec.get("priority", 0)), source=f"{start.file}:{start.line}",
    )
    for controller in registry if registry is not None else controllers.for_kind(doc.kind):
        if controller.policy_kind != doc.kind or controller.spec_key not in spec:
            continue
        values = controller.fields(spec[controller.spec_key])
        if values:
            # policy-wide parameters (powerCycle) travel with every controller's fields and merge per object
            wide = shape.policy_parameters(doc.kind) if controller.policy_parameters is None \
                else controller.policy_parameters
            values.update({(name,): spec[name] for name in wide if name in spec})
        if values:
            policy.fields[controller.name] = {
                path: DesiredValue(value, doc.name, _source(doc, path), policy.enforce, policy.priority)
                for path, value in values.items()
            }
    return policy


@dataclass
class CompiledSpecs:
    policies: list[CompiledPolicy]
    waivers: list[WaiverRule]  # (the field's name shadows the module inside this class)
    vcenters: dict[str, Document]  # name -> VCenter document
    expired: list[WaiverRule]
    attestations: list[AttestationRule] = field(default_factory=list)  # active and expired


def compile_documents(documents: Iterable[Document], today: dt.date) -> CompiledSpecs:
    policies: list[CompiledPolicy] = []
    rules: list[WaiverRule] = []
    vcenters: dict[str, Document] = {}
    attested: list[AttestationRule] = []
    for doc in documents:
        if doc.kind in POLICY_KINDS:
            policies.append(compile_policy(doc))
        elif doc.kind == "Waiver":
            spec = doc.model.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
            rules.append(waivers.from_spec(doc.name, spec, f"{doc.source.file}:{doc.source.line}"))
        elif doc.kind == "Attestation":
            spec = doc.model.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
            attested.append(attestations.from_spec(doc.name, spec, f"{doc.source.file}:{doc.source.line}"))
        elif doc.kind == "VCenter":
            vcenters[doc.name] = doc
    active = [w for w in rules if w.active(today)]
    expired = [w for w in rules if not w.active(today)]
    return CompiledSpecs(policies, active, vcenters, expired, attested)


def policies_for(specs: CompiledSpecs, vcenter: str) -> list[CompiledPolicy]:
    """Policies that target this vCenter: named it, or named none while it is the only connection."""
    only = len(specs.vcenters) <= 1
    return [p for p in specs.policies if p.vcenter == vcenter or (p.vcenter is None and only)]
