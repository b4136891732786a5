"""The controller contract: one small class per kind of setting.

A controller declares the managed-object type and where its observed state comes from: the object's property
paths (`properties`), related managed objects with their properties (`related`), and polled sources (`polled`);
the engine fetches all of them in bulk and the daemon watches or polls them. It flattens its spec section into field paths, diffs desired against observed state with a
pure function, guards against lock-outs, and applies changes through pyvmomi. The engine reads back after
apply by fetching the same properties again and re-running `diff`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.api import fields as shape
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState, Polled, Related
from reconciler.vsphere.protocol import Connection


class Controller(ABC):
    """Subclass it in a module of `reconciler.controllers` and the registry finds it (`reconciler.controllers.ALL`),
    ordered by `order`: the apply order among the controllers of one object."""

    name: ClassVar[str]
    order: ClassVar[int]  # apply order (ascending); see reconciler.controllers for the values in use
    spec_key: ClassVar[str]
    managed_type: ClassVar[str]  # "HostSystem" | "VirtualMachine" | "DistributedVirtualPortgroup" |
    #                              "DistributedVirtualSwitch" | "OptionManager" | "CryptoManagerKmip" (vCenter's own)
    policy_kind: ClassVar[str]  # "HostSecurityPolicy" | "VMSecurityPolicy" | "VCenterSecurityPolicy"
    properties: ClassVar[tuple[str, ...]]  # of the managed object
    related: ClassVar[tuple[Related, ...]] = ()
    polled: ClassVar[tuple[Polled, ...]] = ()
    #: the policy-wide parameters (`powerCycle`, `remediation`) handed to this controller with its fields
    #: (None: every one of its kind; the VM controllers take them all)
    policy_parameters: ClassVar[tuple[str, ...] | None] = ()

    @classmethod
    def object_paths(cls) -> tuple[str, ...]:
        """Every property path of the managed object this controller reads: its `properties`, the references
        to its related objects and polled sources, and the static keys."""
        paths = [*cls.properties, *(r.via for r in cls.related), *(r.static_key for r in cls.related if r.static_key),
                 *(p.via for p in cls.polled if p.via)]
        return tuple(dict.fromkeys(paths))

    @property
    def parameters(self) -> frozenset[str]:
        """Names that parameterise the controller rather than being compared: the section's fields marked
        PARAMETER in the model, and the policy-wide parameters of its kind (`powerCycle`)."""
        section = shape.section_of(self.policy_kind, self.spec_key)
        wide = shape.policy_parameters(self.policy_kind) if self.policy_parameters is None else self.policy_parameters
        return frozenset(section.parameters) | frozenset(wide)

    def fields(self, section: Any) -> dict[FieldPath, Any]:
        """Flatten this controller's spec section (JSON-mode dict, omitted fields absent) into field paths,
        as the model's shape of the section says (`reconciler.api.fields`)."""
        return shape.flatten(shape.section_of(self.policy_kind, self.spec_key), section)

    def selects(self, name: str, desired: Mapping[FieldPath, Any]) -> bool:
        """Does one policy's contribution (its desired values for this controller) apply to the object called
        `name`? Selectors decide first; a controller narrows further when its section names objects itself."""
        return True

    def observe(self, state: ObjectState) -> None:
        """Pure: derive this controller's extras from the declared sources the engine read into `state`
        (`state.related`, `state.polled`). Runs after every read, before `diff`."""

    def prefetch(self, conn: Connection, states: list[ObjectState], desired: Mapping[str, Mapping[FieldPath, Any]]) -> None:
        """Reads no declaration covers (vCenter-wide ones, such as key providers), in bulk for all objects that
        have desired fields of this controller. `desired` maps moid to that object's desired values."""

    def display(self, path: FieldPath, value: Any) -> Any:
        """How reports show a desired value that is in effect (no change): as written, unless a controller shows
        its values another way in its diffs (SSH keys as fingerprints)."""
        return value

    @abstractmethod
    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        """Pure: the fields whose observed value differs from the desired one (after normalisation)."""

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """A reason to refuse this change because it would cut the reconciler's (or vCenter's) access, else None.

        `desired` is the effective end state, not the spec: it holds a path's desired value only when that change
        will really be applied (see `reconciler.engine.guards`); for any path it lacks, judge the observed value
        in `state`. `diff` itself is being applied."""
        return None

    @abstractmethod
    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        """Perform the vSphere calls for these diffs. Raise on failure; the engine reads back afterwards."""
