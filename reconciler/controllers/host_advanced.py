"""Host advanced settings (the host's OptionManager): `advancedSettings.<key>`.

Values are typed by the host's own `supportedOption[].optionType` (LongOption, IntOption, BoolOption, FloatOption,
StringOption, ChoiceOption), both for comparison (so a converged host never shows drift) and on the wire: a Python
int goes out as xsd:int, which real ESXi refuses for long options, so long values are sent as xsd:long."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyVmomi import VmomiSupport, vim

from reconciler.catalog import aliases
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import (
    FieldDiff,
    FieldPath,
    ObjectState,
    Related,
    Skip,
)
from reconciler.didyoumean import suggest
from reconciler.vsphere.protocol import Connection

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class OptionType:
    kind: str  # "long" | "int" | "bool" | "float" | "string" | "choice"
    min: Any = None
    max: Any = None
    choices: tuple[str, ...] = ()
    readonly: bool = False


def option_type(definition: Any) -> OptionType:
    """OptionType from a vim.option.OptionDef."""
    t = definition.optionType
    readonly = bool(getattr(t, "valueIsReadonly", False))
    if isinstance(t, vim.option.LongOption):
        return OptionType("long", t.min, t.max, readonly=readonly)
    if isinstance(t, vim.option.IntOption):
        return OptionType("int", t.min, t.max, readonly=readonly)
    if isinstance(t, vim.option.BoolOption):
        return OptionType("bool", readonly=readonly)
    if isinstance(t, vim.option.FloatOption):
        return OptionType("float", t.min, t.max, readonly=readonly)
    if isinstance(t, vim.option.ChoiceOption):
        return OptionType("choice", choices=tuple(c.key for c in t.choiceInfo or []), readonly=readonly)
    return OptionType("string", readonly=readonly)


def type_of_value(value: Any) -> OptionType:
    """Best guess from the wire type of a value (xsd:long arrives as pyVmomi's `long`)."""
    if isinstance(value, bool):
        return OptionType("bool")
    if isinstance(value, VmomiSupport.vmodlTypes["long"]):
        return OptionType("long")
    if isinstance(value, int):
        return OptionType("int")
    if isinstance(value, float):
        return OptionType("float")
    return OptionType("string")


def coerce(value: Any, t: OptionType) -> Any:
    """Normalise a value (desired or observed) to the option's type; raises ValueError with a readable reason."""
    if t.kind in ("long", "int"):
        if isinstance(value, bool):
            raise ValueError(f"expects an integer, got boolean {value}")
        try:
            integer = int(str(value).strip()) if not isinstance(value, int) else int(value)
        except ValueError:
            raise ValueError(f"expects an integer, got {value!r}") from None
        if (t.min is not None and integer < t.min) or (t.max is not None and integer > t.max):
            raise ValueError(f"{integer} is out of range {t.min}..{t.max}")
        return integer
    if t.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expects a boolean, got {value!r}")
    if t.kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expects a number, got {value!r}") from None
        if (t.min is not None and number < t.min) or (t.max is not None and number > t.max):
            raise ValueError(f"{number} is out of range {t.min}..{t.max}")
        return number
    text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    if t.kind == "choice" and t.choices and text not in t.choices:
        raise ValueError(f"{text!r} is not one of {', '.join(t.choices)}")
    return text


def wire_value(value: Any, t: OptionType) -> Any:
    if t.kind == "long":
        return VmomiSupport.vmodlTypes["long"](value)
    if t.kind == "float":
        return VmomiSupport.vmodlTypes["double"](value)
    return value


OPTION_MANAGER = "configManager.advancedOption"


def option_diff(path: FieldPath, want: Any, current: Any, t: OptionType, *, label: str, invalid_on: str = "",
                readonly_on: str = "") -> FieldDiff | None:
    """One typed option (a host's or the vCenter's): the desired value coerced to the option's type (`invalid`
    when it cannot be) against the current one; a read-only option that differs is `unsupported`."""
    try:
        target = coerce(want, t)
    except ValueError as exc:
        return FieldDiff(path, current, want, skip=Skip.INVALID, message=f"{label}{invalid_on}: {exc}")
    try:
        have = coerce(current, t)
    except ValueError:
        have = current
    if have == target:
        return None
    return FieldDiff(path, have, target, skip=Skip.UNSUPPORTED if t.readonly else None,
                     message=f"{label} is read-only{readonly_on}" if t.readonly else "")


def _option_types(static: Mapping[str, Any]) -> dict[str, OptionType]:
    return {d.key: option_type(d) for d in static.get("supportedOption") or []}


def host_key(state: ObjectState, key: str) -> str:
    """The spelling of an advanced setting this host has (renamed between ESXi releases, see catalog.aliases)."""
    own = state.own(HostAdvancedSettings.name)
    return aliases.resolve(key, own.get("option_types", {}).keys() | own.get("options", {}).keys())


class HostAdvancedSettings(Controller):
    name = "advancedSettings"
    order = 30
    spec_key = "advancedSettings"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ()
    related = (Related(via=OPTION_MANAGER, type="OptionManager", properties=("setting",),
                       static=("supportedOption",), static_key="config.product.build"),)

    def observe(self, state: ObjectState) -> None:
        """Option values of this host, and option definitions (types, ranges) of its ESXi build: definitions come
        with the build (read from one host per build), and they are the largest part."""
        manager = state.related.get(OPTION_MANAGER)
        if manager is None:
            return
        options = {o.key: o.value for o in manager.props.get("setting") or []}
        types = dict(manager.shared.derived("option_types", _option_types)) if manager.shared is not None else {}
        for key, value in options.items():  # an option this host has and its representative lacks (a VIB's)
            types.setdefault(key, type_of_value(value))
        own = state.own(self.name)
        own["options"] = options
        own["option_types"] = types

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        own = state.own(self.name)
        options: dict[str, Any] = own.get("options", {})
        types: dict[str, OptionType] = own.get("option_types", {})
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            key = host_key(state, path[1])  # the spec's key stays in the path; the host may spell it otherwise
            t = types.get(key)
            if t is None and key not in options:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"advanced setting {key!r} does not exist on host {state.ref.name}"
                                               f"{suggest(key, [*types, *options])}"))
                continue
            found = option_diff(path, want, options.get(key), t or OptionType("string"),
                                label=f"advanced setting {key!r}", invalid_on=f" on host {state.ref.name}",
                                readonly_on=" on this host")
            if found is not None:
                diffs.append(found)
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        types: dict[str, OptionType] = state.own(self.name).get("option_types", {})
        manager = state.props[OPTION_MANAGER]
        keys = {d.path: host_key(state, d.path[1]) for d in diffs}
        changed = [vim.option.OptionValue(key=keys[d.path], value=wire_value(d.desired, types.get(keys[d.path], OptionType("string"))))
                   for d in diffs]
        conn.call(manager.UpdateOptions, changedValue=changed)
