"""The vCenter's own advanced settings in a VCenterSecurityPolicy (`advancedSettings.<key>`): the ServiceContent
`setting` OptionManager, typed by its `supportedOption` (as host advanced settings are), written with UpdateOptions.

The key provider VM encryption needs (`keyProvider`, `vcenter_keys`): key providers are audited, and the default is switched among registered providers (SetDefaultKmsCluster), but
vsr never registers one: a KMIP provider needs the KMS's address, its CA and vCenter's client certificate trusted
on both sides, and a Native Key Provider's backup holds key material, all site secrets that have no place in a
spec. A missing provider is reported `unsupported` with that reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.controllers.host_advanced import OptionType, option_diff, option_type, type_of_value, wire_value
from reconciler.didyoumean import suggest
from reconciler.vsphere.protocol import Connection

KIND = "VCenterSecurityPolicy"


class VCenterAdvancedSettings(Controller):
    name = "vcenterAdvancedSettings"
    order = 230
    spec_key = "advancedSettings"
    managed_type = "OptionManager"
    policy_kind = KIND
    properties = ("setting", "supportedOption")

    def observe(self, state: ObjectState) -> None:
        options = {o.key: o.value for o in state.props.get("setting") or []}
        types = {d.key: option_type(d) for d in state.props.get("supportedOption") or []}
        for key, value in options.items():
            types.setdefault(key, type_of_value(value))
        own = state.own(self.name)
        own["options"], own["types"] = options, types

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        own = state.own(self.name)
        options: dict[str, Any] = own.get("options", {})
        types: dict[str, OptionType] = own.get("types", {})
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            key = path[1]
            t = types.get(key)
            if t is None:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"vCenter advanced setting {key!r} does not exist"
                                               f"{suggest(key, list(types))}"))
                continue
            found = option_diff(path, want, options.get(key), t, label=f"vCenter advanced setting {key!r}")
            if found is not None:
                diffs.append(found)
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        types: dict[str, OptionType] = state.own(self.name).get("types", {})
        changed = [vim.option.OptionValue(key=d.path[1], value=wire_value(d.desired, types.get(d.path[1], OptionType("string"))))
                   for d in diffs]
        conn.call(state.mo.UpdateOptions, changedValue=changed)
