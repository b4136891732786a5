"""Planning for one vCenter (or one directly connected ESXi host): snapshot in bulk, select, merge, diff.

Round trips per plan, whatever the inventory size: one for the entity tree, one for the managed objects'
properties (all types and all controllers' paths together), one per type of declared related object (all hosts'
option managers at once) plus one for their static properties (one object per ESXi build), one per object only
for polled sources (lockdown exceptions: a method, not a property), one per controller that prefetches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim

from reconciler import catalog, progress
from reconciler import controllers as registry
from reconciler.api import fields as shape
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState, Skip
from reconciler.engine import gcpause, guards, selection, sources, waivers
from reconciler.engine.merge import merge
from reconciler.engine.placement import Placement, from_entity
from reconciler.engine.policies import CompiledPolicy
from reconciler.engine.types import Change, DesiredValue, ObjectProblem, Plan
from reconciler.events.model import ObjectRef
from reconciler.vsphere import faults, inventory
from reconciler.vsphere.protocol import Connection

POLICY_KIND_OF = {"HostSystem": "HostSecurityPolicy", "DistributedVirtualPortgroup": "HostSecurityPolicy",
                  "VirtualMachine": "VMSecurityPolicy"}
PROGRESS_EVERY = 64  # objects between two progress reports
UNSUPPORTED_FAULTS = frozenset({"ManagedObjectNotFound", "MethodNotFound", "NotSupported", "NotImplemented",
                                "EsxcliUnsupported"})


@dataclass
class PlannedObject:
    state: ObjectState
    desired: dict[str, dict[FieldPath, DesiredValue]]  # by controller name
    changes: list[Change] = field(default_factory=list)

    def actionable(self, controller: str) -> list[Change]:
        return [c for c in self.changes if c.controller == controller and c.actionable]


@dataclass
class VCenterPlan:
    vcenter: str
    facts: ConnectionFacts
    objects: list[PlannedObject]
    plan: Plan
    cache: sources.SourceCache = field(default_factory=lambda: sources.SourceCache())  # what the plan read

    def collect_changes(self) -> None:
        """Gather the objects' (relabelled) changes back into the plan; conflicts belong to no planned object."""
        conflicts = [c for c in self.plan.changes if c.reason is Skip.CONFLICT]
        self.plan.changes = [c for po in self.objects for c in po.changes] + conflicts
        self.plan.changes.sort(key=lambda c: (c.object.type, c.object.name, c.controller, c.path, c.subject))


def plain(desired: Mapping[FieldPath, DesiredValue]) -> dict[FieldPath, Any]:
    return {path: d.value for path, d in desired.items()}


def kinds_of(object_type: str) -> set[str]:
    """The policy kinds whose controllers manage objects of this type (DV portgroups: two)."""
    return {c.policy_kind for c in registry.ALL if c.managed_type == object_type}


def record_controller_fault(state: ObjectState, controller: str, exc: BaseException) -> None:
    """Controllers' bulk prefetch marks an object it could not read instead of failing all objects."""
    state.faults[controller] = exc


def active_controllers(policies: Iterable[CompiledPolicy]) -> list[Controller]:
    wanted = {name for p in policies if not p.suspended for name in p.fields}
    return [c for c in registry.ALL if c.name in wanted]


def snapshot(conn: Connection, controllers: list[Controller]) -> tuple[dict[str, Any], dict[str, inventory.ObservedObject]]:
    """The entity tree and every managed object the active controllers need, in one bulk call (one ContainerView
    over the tree's types and the controllers' types, each object read once with the tree's paths and the
    controllers' together). VMs enter the tree only when VM controllers are active (they are most of a large
    inventory)."""
    specs = sources.property_specs(controllers)
    singles = {t: [p for p in paths if p != "name"] for t, paths in specs.items() if not issubclass(t, vim.ManagedEntity)}
    specs = {t: paths for t, paths in specs.items() if t not in singles}
    tree = inventory.entity_specs(vms=any(c.managed_type == "VirtualMachine" for c in controllers))
    merged = {t: list(dict.fromkeys([*tree.get(t, ()), *specs.get(t, ())])) for t in [*tree, *specs]}
    raw = inventory.fetch_many(conn, merged)
    entities = inventory.build_entity_paths({m: o for m, o in raw.items() if _in_tree(o, tree)})
    wanted = {inventory.type_name_of(t) for t in specs}
    objects = {m: o for m, o in raw.items() if o.type in wanted}
    objects.update(sources.fetch_singletons(conn, singles) if singles else {})
    return entities, objects


def _in_tree(obj: inventory.ObservedObject, tree: Mapping[type, Any]) -> bool:
    return obj.ref is not None and isinstance(obj.ref, tuple(tree))


def _placement(obj: inventory.ObservedObject, entities: Mapping[str, Any]) -> Placement:
    if obj.moid in entities:
        return from_entity(entities[obj.moid])
    parent = obj.props.get("parent")
    if parent is not None and parent._moId in entities:  # a DV portgroup below a network folder
        switch_ref = obj.props.get("config.distributedVirtualSwitch")
        switch = entities.get(switch_ref._moId) if switch_ref is not None else None
        return Placement(datacenter=entities[parent._moId].datacenter, switch=switch.name if switch else None)
    return Placement()


def unmanaged(entities: Mapping[str, Any], policies: list[CompiledPolicy], vcenter: str) -> list[ObjectRef]:
    """Hosts matched by no HostSecurityPolicy and VMs (not templates) matched by no VMSecurityPolicy."""
    out: list[ObjectRef] = []
    for moid, entity in entities.items():
        if entity.type not in ("HostSystem", "VirtualMachine") or (entity.type == "VirtualMachine" and entity.template):
            continue
        kind = POLICY_KIND_OF[entity.type]
        place = from_entity(entity)
        if not any(p.kind == kind and selection.matches(p.selector, entity.type, entity.name, place) for p in policies):
            out.append(ObjectRef(entity.type, moid, entity.name, vcenter))
    return sorted(out, key=lambda r: (r.type, r.name))


def plan_vcenter(conn: Connection, facts: ConnectionFacts, policies: list[CompiledPolicy],
                 waiver_rules: list[waivers.WaiverRule], today: dt.date | None = None,
                 remediated: Mapping[tuple[str, FieldPath], dt.datetime] | None = None) -> VCenterPlan:
    """A full plan: snapshot everything the active controllers need in bulk, then `plan_objects`.
    `remediated` maps (moid, field path) to when vsr last changed it (from the journal), so that changes
    waiting for a VM's cold start are reported as pending."""
    live = [p for p in policies if not p.suspended]
    with gcpause.paused():  # hundreds of thousands of acyclic objects: gen-2 collections would find nothing
        entities, objects = snapshot(conn, active_controllers(live))
        vplan = plan_objects(conn, facts, policies, waiver_rules, objects, entities, today, remediated)
    vplan.plan.unmanaged = unmanaged(entities, live, facts.vcenter)
    if not any(p.kind == "VMSecurityPolicy" for p in live):
        vplan.plan.notes.append("no VMSecurityPolicy targets this vCenter: VMs were not checked")
    return vplan


def plan_objects(conn: Connection, facts: ConnectionFacts, policies: list[CompiledPolicy],
                 waiver_rules: list[waivers.WaiverRule], objects: Mapping[str, inventory.ObservedObject],
                 entities: Mapping[str, Any], today: dt.date | None = None,
                 remediated: Mapping[tuple[str, FieldPath], dt.datetime] | None = None,
                 cache: sources.SourceCache | None = None, fresh: bool = False) -> VCenterPlan:
    """Plan some objects whose properties are already known (a bulk snapshot, or the daemon's watch cache).
    Their controllers' declared sources are read in bulk (`sources.read`), reusing what `cache` knows unless
    `fresh`; then controllers that read more than they declare `prefetch` it."""
    today = today or dt.date.today()
    remediated_by_moid: dict[str, dict[FieldPath, dt.datetime]] = {}
    for (moid, path), at in (remediated or {}).items():
        remediated_by_moid.setdefault(moid, {})[path] = at
    live = [p for p in policies if not p.suspended]
    controllers = active_controllers(live)
    plan = Plan(notes=[f"policy {p.name} is suspended" for p in policies if p.suspended])
    planned: list[PlannedObject] = []

    total = len(objects)
    for index, obj in enumerate(objects.values()):
        if index % PROGRESS_EVERY == 0:
            progress.report("selecting policies", index, total)
        ref = ObjectRef(obj.type, obj.moid, obj.name or obj.moid, facts.vcenter)
        place = _placement(obj, entities)
        is_template = bool(obj.props.get("config.template"))
        state = ObjectState(ref, obj.props, mo=obj.ref, placement=place, template=is_template,
                            remediated_at=remediated_by_moid.get(obj.moid, {}))
        kinds = {c.policy_kind for c in controllers if c.managed_type == obj.type}
        matching = [p for p in live if p.kind in kinds
                    and selection.matches(p.selector, obj.type, ref.name, place, is_template, p.kind)]
        desired: dict[str, dict[FieldPath, DesiredValue]] = {}
        for controller in controllers:
            if controller.managed_type != obj.type:
                continue
            contributions = [c for c in (p.fields.get(controller.name, {}) for p in matching
                                         if p.kind == controller.policy_kind)
                             if c and controller.selects(ref.name, plain(c))]
            merged, conflicts = merge(c for c in contributions if c)
            if merged:
                desired[controller.name] = merged
            for conflict in conflicts:
                plan.changes.append(Change(ref, controller.name, conflict.path, None, None, reason=Skip.CONFLICT,
                                           policy=", ".join(v.policy for v in conflict.values),
                                           source=conflict.values[0].source, message=conflict.message))
        if not desired:
            continue
        if obj.type == "HostSystem" and str(obj.props.get("runtime.connectionState", "connected")) != "connected":
            plan.problems.append(ObjectProblem(ref, f"host is {obj.props.get('runtime.connectionState')}; skipped"))
            continue
        planned.append(PlannedObject(state, desired))

    cache = cache if cache is not None else sources.SourceCache()
    progress.report("reading related objects", 0, len(planned))
    declared = [(c, po.state) for c in controllers for po in planned if c.name in po.desired]
    wanted = {po.state.ref.moid: {name: plain(d) for name, d in po.desired.items()} for po in planned}
    for (moid, controller_name), exc in sources.read(conn, declared, cache, fresh=fresh, desired=wanted).items():
        record_controller_fault(next(po.state for po in planned if po.state.ref.moid == moid), controller_name, exc)
    sources.observe(declared, _faults(planned))

    for controller in controllers:
        targets = [po for po in planned if controller.name in po.desired]
        if not targets or type(controller).prefetch is Controller.prefetch:
            continue
        try:
            controller.prefetch(conn, [po.state for po in targets],
                                {po.state.ref.moid: plain(po.desired[controller.name]) for po in targets})
        except Exception as exc:  # noqa: BLE001 - one controller's bulk read never stops the others
            for po in targets:
                record_controller_fault(po.state, controller.name, exc)

    for index, po in enumerate(planned):
        if index % PROGRESS_EVERY == 0:
            progress.report("checking objects", index, len(planned))
        po.changes = diff_object(po, controllers, waiver_rules, today)
        guards.guard_object(po, facts)
        plan.changes.extend(po.changes)
    plan.objects_checked = len(planned)
    plan.changes.sort(key=lambda c: (c.object.type, c.object.name, c.controller, c.path, c.subject))
    return VCenterPlan(facts.vcenter, facts, planned, plan, cache)


def _faults(planned: Iterable[PlannedObject]) -> dict[tuple[str, str], BaseException]:
    return {(po.state.ref.moid, name): exc for po in planned for name, exc in po.state.faults.items()}


def diff_object(po: PlannedObject, controllers: list[Controller], waiver_rules: list[waivers.WaiverRule],
                today: dt.date) -> list[Change]:
    """Diff one object with every controller that has desired fields for it, and label each change (the lock-out
    guards run afterwards, on the whole object: `guards.guard_object`)."""
    changes: list[Change] = []
    state = po.state
    for controller in controllers:
        desired = po.desired.get(controller.name)
        if not desired:
            continue
        fault = state.faults.get(controller.name)
        if fault is not None:
            changes.extend(_fault_changes(state, controller, desired, fault, waiver_rules, today))
            continue
        read_at = polled_at(state, controller)
        for d in controller.diff(plain(desired), state):
            change = label(state, controller, d, desired, waiver_rules, today)
            changes.append(change.with_(read_at=read_at) if read_at else change)
    return changes


def polled_at(state: ObjectState, controller: Controller) -> dt.datetime | None:
    """When the oldest of the controller's polled sources for this object was read (None: it polls nothing)."""
    times = [state.polled[s.name].read_at for s in controller.polled if s.name in state.polled]
    return min(times) if times else None


def _fault_changes(state: ObjectState, controller: Controller, desired: Mapping[FieldPath, DesiredValue],
                   fault: BaseException, waiver_rules: list[waivers.WaiverRule], today: dt.date) -> list[Change]:
    """The desired fields of a controller whose observed state could not be read. They are labelled like any
    change (a waived or Audit field stays untouched) and go through the guards like any change."""
    name = faults.fault_name(fault)
    reason = Skip.UNSUPPORTED if name in UNSUPPORTED_FAULTS else None
    detail = f"{name}: {faults.fault_message(fault)}" if name == "EsxcliUnsupported" else name
    message = (f"this target does not offer the API for {controller.name} ({detail})" if reason
               else f"could not read {controller.name}: {faults.fault_message(fault)}")
    out: list[Change] = []
    for path, d in sorted(desired.items()):
        if shape.is_parameter(controller.policy_kind, path):
            continue
        change = label(state, controller, FieldDiff(path, None, d.value, skip=reason, message=message), desired,
                       waiver_rules, today)
        out.append(change.with_(error=message) if change.reason is None else change)
    return out


def label(state: ObjectState, controller: Controller, d: FieldDiff, desired: Mapping[FieldPath, DesiredValue],
          waiver_rules: list[waivers.WaiverRule], today: dt.date) -> Change:
    """A change with its policy bookkeeping and skip reason (controller's, waiver, Audit). Guards are not judged
    here: they need every change of the object labelled first (see `guards`)."""
    origin = desired.get(d.path)
    change = Change(state.ref, controller.name, d.path, d.current, d.desired, impact=d.impact,
                    policy=origin.policy if origin else "", source=origin.source if origin else "",
                    subject=d.subject, controls=catalog.controls_for(state.ref.type, d.path), reason=d.skip,
                    message=d.message)
    if change.reason is not None:
        return change
    waiver = waivers.find(waiver_rules, today, state.ref.type, state.ref.name, state.placement, d.path,
                          change.policy, state.template)
    if waiver is not None:
        return change.with_(reason=Skip.WAIVED, message=waiver.describe())
    if origin is not None and not origin.enforce:
        return change.with_(reason=Skip.AUDIT, message="policy enforcement is Audit")
    return change


def active_controllers_for(objects: Iterable[PlannedObject]) -> list[Controller]:
    """The controllers with desired fields on any of these objects, in registry (apply) order."""
    names = {name for po in objects for name in po.desired}
    return [c for c in registry.ALL if c.name in names]
