"""Virtual hardware version floor: `minHardwareVersion: 19` upgrades older VMs with UpgradeVM_Task (VM powered
off, gated by `powerCycle`). Newer hardware is never downgraded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState
from reconciler.controllers.vm_common import VMController, gate
from reconciler.vsphere import tasks
from reconciler.vsphere.protocol import Connection

MIN_VERSION: FieldPath = ("minHardwareVersion",)


def version_number(text: Any) -> int | None:
    match = re.fullmatch(r"vmx-(\d+)", str(text or ""))
    return int(match.group(1)) if match else None


class VMHardwareVersion(VMController):
    name = "vmHardwareVersion"
    order = 140
    spec_key = "minHardwareVersion"
    properties = ("config.version", "runtime.powerState")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if MIN_VERSION not in desired:
            return []
        current = version_number(state.props.get("config.version"))
        floor = int(desired[MIN_VERSION])
        if current is not None and current >= floor:
            return []
        diff = FieldDiff(MIN_VERSION, state.props.get("config.version"), f"vmx-{floor}", impact=Impact.POWER_CYCLE)
        return [gate(diff, state, desired)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        tasks.run(conn, state.mo.UpgradeVM_Task, version=diffs[0].desired)
