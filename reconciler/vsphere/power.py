"""Power-cycling a VM around changes that need it off, for policies with `powerCycle: Allowed`:
a clean guest shutdown (VMware Tools), the changes, then power on. A VM whose guest cannot shut down cleanly
(no Tools) is never powered off hard: the changes fail with that reason."""

from __future__ import annotations

import time
from typing import Any

from reconciler.vsphere import inventory, tasks
from reconciler.vsphere.protocol import Connection

SHUTDOWN_TIMEOUT = 300.0


class PowerCycleError(RuntimeError):
    pass


def power_state(conn: Connection, vm: Any) -> str:
    return str(inventory.fetch_objects(conn, [vm], ["runtime.powerState"])[vm._moId].get("runtime.powerState"))


def shutdown_guest(conn: Connection, vm: Any, timeout: float = SHUTDOWN_TIMEOUT, poll: float = 0.25) -> None:
    try:
        conn.call(vm.ShutdownGuest)
    except Exception as exc:  # noqa: BLE001 - ToolsUnavailable, InvalidState ...
        raise PowerCycleError(f"guest shutdown refused ({type(exc).__name__}); the VM is not powered off hard") from exc
    deadline = time.monotonic() + timeout
    while power_state(conn, vm) != "poweredOff":
        if time.monotonic() > deadline:
            raise PowerCycleError(f"the guest did not shut down within {timeout:.0f} s")
        time.sleep(poll)


def power_on(conn: Connection, vm: Any) -> None:
    tasks.run(conn, vm.PowerOnVM_Task)
