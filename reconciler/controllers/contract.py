"""The controller contract's value types: what the engine hands a controller and what a controller hands back.

They live with the controllers so that controllers import nothing from the engine; the engine imports them from
here. A field path is a tuple of spec keys below `spec` (`("advancedSettings", "Mem.ShareForceSalting")`):
advanced setting keys contain dots, so the tuple is the identity and the dotted form is only for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from reconciler.api.fields import FieldPath
from reconciler.events.model import ObjectRef

#: the VMSecurityPolicy-wide parameter that says whether vsr may power-cycle a VM for a change that needs it off
POWER_CYCLE: FieldPath = ("powerCycle",)


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


@dataclass
class ObjectState:
    """What the engine observed of one managed object: the bulk-fetched properties plus extras that
    controllers fetched in bulk in `prefetch` (host options, lockdown exceptions)."""

    ref: ObjectRef
    props: Mapping[str, Any]
    mo: Any = None  # the pyvmomi managed object, used by apply only
    extra: dict[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)  # datacenter, cluster, folder, power state ...


@dataclass(frozen=True)
class ConnectionFacts:
    """What guards need to know about how the reconciler reaches the estate."""

    vcenter: str
    is_vcenter: bool
    username: str
    local_address: str | None


def powered_on(state: ObjectState) -> bool:
    """A VM's power state (the engine always reads `runtime.powerState` of VMs)."""
    return str(state.props.get("runtime.powerState")) == "poweredOn"


def power_mode(desired: Mapping[FieldPath, Any]) -> str:
    """The policy's `powerCycle` (Never | IfPoweredOff | Allowed) among a VM controller's desired values."""
    return str(desired.get(POWER_CYCLE, "IfPoweredOff"))


__all__ = ["POWER_CYCLE", "ConnectionFacts", "FieldDiff", "FieldPath", "Impact", "ObjectRef", "ObjectState", "Skip",
           "power_mode", "powered_on"]
