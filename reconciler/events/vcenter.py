"""Optional mirror of vsr events into vCenter's own event history, on the object (EventManager.PostEvent).

vSphere administrators then see drift and remediation in the vSphere Client's "Monitor > Events" of the host or
VM. The journal stays the record; a failed mirror is logged and never fails the reconciler.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pyVmomi import vim

from reconciler.events.model import Event

PREFIX = "[vsr]"


def format_message(event: Event) -> str:
    """One line for vCenter: ``[vsr] Warning DriftDetected services.TSM-SSH.running: ... (policy esxi-baseline)``."""
    text = f"{PREFIX} {event.type} {event.reason}"
    if event.path:
        text += f" {event.path}"
    text += f": {event.message}"
    if event.policy:
        text += f" (policy {event.policy})"
    return text


def build_event(event: Event, ref: Any, username: str = "vsr") -> vim.event.GeneralUserEvent:
    """The vSphere event object for ``event`` about the managed entity ``ref``."""
    message = format_message(event)
    name = event.object.name or event.object.moid
    posted = vim.event.GeneralUserEvent(
        key=0, chainId=0, createdTime=datetime.now(timezone.utc), userName=username, message=message,
        fullFormattedMessage=message, entity=vim.event.ManagedEntityEventArgument(entity=ref, name=name))
    if isinstance(ref, vim.HostSystem):
        posted.host = vim.event.HostEventArgument(host=ref, name=name)
    elif isinstance(ref, vim.VirtualMachine):
        posted.vm = vim.event.VmEventArgument(vm=ref, name=name)
    return posted


class VCenterMirror:
    """Posts events through a ``reconciler.vsphere.Connection`` (anything with ``call``, ``content`` and
    ``username``)."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.failures = 0

    def post(self, event: Event, ref: Any) -> bool:
        """Post ``event`` on ``ref``; False (and counted in :attr:`failures`) if vCenter refused it."""
        try:
            posted = build_event(event, ref, getattr(self.conn, "username", "vsr"))
            self.conn.call(self.conn.content.eventManager.PostEvent, eventToPost=posted)
            return True
        except Exception as exc:  # noqa: BLE001 - the mirror is best effort
            self.failures += 1
            try:
                import structlog
                structlog.get_logger("reconciler.events").warning(
                    "could not mirror event into vCenter", reason=event.reason, object=event.object.moid,
                    fault=type(exc).__name__)
            except Exception:  # noqa: BLE001
                pass
            return False
