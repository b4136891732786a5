"""The base of VM options set with one ConfigSpec field (vm_logging, vm_vmotion): compared as read, impact none."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState
from reconciler.controllers.vm_common import VMController, config_spec, reconfigure
from reconciler.vsphere.protocol import Connection


class VMOption(VMController):
    """One scalar option of the VM's config: compared as read, written through one ConfigSpec field."""

    @abstractmethod
    def current(self, state: ObjectState) -> Any:
        """The option's value as read."""

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        path = (self.spec_key,)
        if path not in desired:
            return []
        have, want = self.current(state), desired[path]
        return [] if have == want else [FieldDiff(path, have, want)]

    @abstractmethod
    def spec(self, value: Any) -> Any:
        """The ConfigSpec that sets `value`."""

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        reconfigure(conn, state.mo, self.spec(diffs[0].desired))
