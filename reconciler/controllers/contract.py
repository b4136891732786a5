"""The controller contract's value types: what the engine hands a controller and what a controller hands back.

They live with the controllers so that controllers import nothing from the engine; the engine imports them from
here. A field path is a tuple of spec keys below `spec` (`("advancedSettings", "Mem.ShareForceSalting")`):
advanced setting keys contain dots, so the tuple is the identity and the dotted form is only for people.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from reconciler.api.fields import FieldPath
from reconciler.events.model import ObjectRef
from reconciler.vsphere.esxcli import Command

#: the VMSecurityPolicy-wide parameter that says whether vsr may power-cycle a VM for a change that needs it off
POWER_CYCLE: FieldPath = ("powerCycle",)
#: the HostSecurityPolicy-wide parameter `remediation: {reboot: Never|Allowed}`
REMEDIATION: FieldPath = ("remediation",)


class Impact(str, Enum):
    NONE = "none"
    POWER_CYCLE = "powerCycle"
    REBOOT = "reboot"
    DISRUPTIVE = "disruptive"


class Skip(str, Enum):
    """Why a change is not applied. `None` on a Change means it will be (or was) applied."""

    AUDIT = "audit"
    WAIVED = "waived"
    NEEDS_POWER_OFF = "needsPowerOff"
    PENDING_POWER_CYCLE = "pendingPowerCycle"
    NEEDS_REBOOT = "needsReboot"        # takes effect at a host reboot; the policy does not allow writing it now
    PENDING_REBOOT = "pendingReboot"    # written; takes effect at the host's next reboot (rolling maintenance)
    NEEDS_FIRMWARE_CHANGE = "needsFirmwareChange"
    UNSUPPORTED = "unsupported"
    GUARD = "guard"
    CONFLICT = "conflict"
    INVALID = "invalid"
    FLAPPING = "flapping"
    SUSPENDED = "suspended"
    STALE = "stale"                    # applying a saved plan: the live value is no longer the planned one
    NOT_IN_SAVED_PLAN = "notInSavedPlan"  # applying a saved plan: this drift appeared after it was saved


@dataclass(frozen=True)
class FieldDiff:
    """A controller's verdict on one field of one object, before policy bookkeeping is attached.

    `subject` names the sub-object when one field applies to several (a vSwitch, a portgroup).
    `skip` is set by the controller for reasons it alone can know (unsupported key, needs power-off)."""

    path: FieldPath
    current: Any
    desired: Any
    subject: str = ""
    impact: Impact = Impact.NONE
    skip: Skip | None = None
    message: str = ""


# -- where a controller's observed state comes from (declared; the engine reads, the daemon watches or polls) --

#: the default interval of a polled source (DESIGN.md: "default 10 min")
DEFAULT_POLL_INTERVAL = 600.0


@dataclass(frozen=True)
class Related:
    """A related managed object reached through a reference property of the managed object (`via`), with the
    `properties` to read (in bulk, one call per type; watched by the daemon) and `static` properties that depend
    only on `static_key` of the managed object (e.g. the ESXi build): read once per value, from one object."""

    via: str
    type: str
    properties: tuple[str, ...]
    static: tuple[str, ...] = ()
    static_key: str | None = None

    def __post_init__(self) -> None:
        if self.static and not self.static_key:
            raise ValueError(f"Related({self.via}): static properties need a static_key")


@dataclass(frozen=True)
class Polled:
    """A source with no property updates, read per object on its `interval` (spread over the interval), and again
    right after vsr's own writes: a method of a related object (`via`, `method`), or an esxcli command of the host
    (`esxcli`, over the VIM API; one executer per host, a host's due commands read together). `name` keys the
    value in `ObjectState.polled`."""

    name: str
    via: str = ""
    method: str = ""
    interval: float = DEFAULT_POLL_INTERVAL
    esxcli: Command | None = None
    #: reads the source when it is more than a no-argument method of `via` (guest operations: credentials from
    #: the policy, a file path from the guest OS): reader(conn, state, desired) -> value; `desired` holds the
    #: controller's desired values (parameters included) for this object. Faults it raises are the object's.
    reader: Callable[[Any, ObjectState, Mapping[FieldPath, Any]], Any] | None = None

    def __post_init__(self) -> None:
        if (self.esxcli is None) == bool(self.via and self.method):
            return
        raise ValueError(f"Polled({self.name}): give either via and method, or esxcli")


T = TypeVar("T")


@dataclass
class Shared:
    """Static values of related objects that every managed object with the same `key` (ESXi build) shares:
    read once per key; `derived` memoises what a controller computes from them (option types)."""

    key: str
    props: Mapping[str, Any]
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)

    def derived(self, name: str, compute: Callable[[Mapping[str, Any]], T]) -> T:
        if name not in self._derived:
            self._derived[name] = compute(self.props)
        value: T = self._derived[name]
        return value


@dataclass
class RelatedState:
    """One related object as read: its moid, the declared properties, the shared static values."""

    moid: str
    props: Mapping[str, Any]
    shared: Shared | None = None


@dataclass(frozen=True)
class PolledValue:
    """A polled source's value and when it was read (UTC)."""

    value: Any
    read_at: dt.datetime


@dataclass(frozen=True)
class Placement:
    """Where an object sits in the inventory, in the terms selectors and waivers use (built by the engine from one
    bulk fetch of the entity tree: `engine.placement.from_entity`)."""

    datacenter: str | None = None
    cluster: str | None = None
    host: str | None = None
    folder: str = ""  # VM folder path below the datacenter's VM root: "" at the root, "Prod/Web" nested
    switch: str | None = None  # DV portgroups: the name of their distributed switch


@dataclass
class ObjectState:
    """What the engine observed of one managed object.

    Shared by the engine and every controller: the bulk-fetched `props` (by path), the declared `related` objects
    (by `via`) and `polled` values (by name), where the object sits (`placement`, `template`), when vsr last
    changed each field (`remediated_at`, from the journal), and the `faults` of controllers whose observed state
    could not be read (by controller name). A controller keeps what it derives in `observe` or fetches in
    `prefetch` in its own namespace, `own(name)`; no other controller reads it."""

    ref: ObjectRef
    props: Mapping[str, Any]
    mo: Any = None  # the pyvmomi managed object, used by apply only
    placement: Placement = field(default_factory=Placement)
    template: bool = False
    remediated_at: Mapping[FieldPath, dt.datetime] = field(default_factory=dict)
    faults: dict[str, BaseException] = field(default_factory=dict)
    related: dict[str, RelatedState] = field(default_factory=dict)
    polled: dict[str, PolledValue] = field(default_factory=dict)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # by controller name: see `own`

    def own(self, controller: str) -> dict[str, Any]:
        """The namespace of one controller's extras (created empty on first use)."""
        return self.extras.setdefault(controller, {})


@dataclass(frozen=True)
class ConnectionFacts:
    """What guards need to know about how the reconciler reaches the estate."""

    vcenter: str
    is_vcenter: bool
    username: str
    local_address: str | None
    user_label: str = ""  # how messages name the user: "the user in FILE" when it was read from a file

    @property
    def who(self) -> str:
        """The user for messages: never the content of a file a spec names."""
        return self.user_label if self.user_label and self.user_label != self.username else repr(self.username)


def powered_on(state: ObjectState) -> bool:
    """A VM's power state (the engine always reads `runtime.powerState` of VMs)."""
    return str(state.props.get("runtime.powerState")) == "poweredOn"


def reboot_allowed(desired: Mapping[FieldPath, Any]) -> bool:
    """The host policy's `remediation.reboot` is Allowed: changes that take effect at a reboot may be written
    (they stay `pendingReboot` until the host reboots: `vsr apply` reboots it in a rolling window when
    `remediation.maintenanceMode` is Allowed too, `engine.rolling`)."""
    remediation = desired.get(REMEDIATION)
    return isinstance(remediation, Mapping) and remediation.get("reboot") == "Allowed"


def gate_reboot(diff: FieldDiff, desired: Mapping[FieldPath, Any]) -> FieldDiff:
    """Hold back a change that needs a host reboot unless the policy allows it."""
    if diff.skip is not None or diff.impact is not Impact.REBOOT or reboot_allowed(desired):
        return diff
    return FieldDiff(diff.path, diff.current, diff.desired, diff.subject, diff.impact, Skip.NEEDS_REBOOT,
                     "takes effect at the host's next reboot and remediation.reboot is Never (Allowed writes it "
                     "now; with remediation.maintenanceMode Allowed too, `vsr apply` reboots the host in a rolling window)")


def power_mode(desired: Mapping[FieldPath, Any]) -> str:
    """The policy's `powerCycle` (Never | IfPoweredOff | Allowed) among a VM controller's desired values."""
    return str(desired.get(POWER_CYCLE, "IfPoweredOff"))


__all__ = ["DEFAULT_POLL_INTERVAL", "POWER_CYCLE", "ConnectionFacts", "FieldDiff", "FieldPath", "Impact", "ObjectRef",
           "ObjectState", "Placement", "Polled", "PolledValue", "REMEDIATION", "Related", "RelatedState", "Shared", "Skip",
           "gate_reboot", "power_mode", "powered_on", "reboot_allowed"]
