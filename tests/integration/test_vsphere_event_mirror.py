"""Events mirrored into vCenter's event history (EventManager.PostEvent), read back with QueryEvents."""

from __future__ import annotations

import pytest
from pyVmomi import vim

from reconciler.events import Event, ObjectRef
from reconciler.events.vcenter import VCenterMirror
from reconciler.vsphere import Connection, ConnectionSettings, inventory

pytestmark = pytest.mark.integration


def test_event_is_posted_on_the_host(fresh_sim):
    conn = Connection(ConnectionSettings(name="sim", host=fresh_sim.host, port=fresh_sim.port,
                                         username=fresh_sim.username, password=fresh_sim.password,
                                         ca_file=fresh_sim.ca_file)).connect()
    try:
        host = next(iter(inventory.fetch(conn, vim.HostSystem, ["name"]).values()))
        event = Event("Warning", "DriftDetected", ObjectRef("HostSystem", host.moid, host.name, "sim"),
                      "running is true, want false", path="services.TSM-SSH.running", policy="esxi-baseline")
        mirror = VCenterMirror(conn)
        assert mirror.post(event, host.ref)
        spec = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=host.ref, recursion="self"))
        messages = [e.fullFormattedMessage for e in conn.content.eventManager.QueryEvents(spec)]
        assert ("[vsr] Warning DriftDetected services.TSM-SSH.running: running is true, want false "
                "(policy esxi-baseline)") in messages
    finally:
        conn.close()
