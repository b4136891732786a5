"""PropertyWatch with a fake collector: truncated update sets, removed values, rebuild after a lost collector."""

from __future__ import annotations

import types

from pyVmomi import vim, vmodl

from reconciler.vsphere.watch import PropertyWatch

PC = vmodl.query.PropertyCollector


def update_set(version, objs, truncated=False):
    return PC.UpdateSet(version=version, truncated=truncated, filterSet=[PC.FilterUpdate(objectSet=objs)])


def obj(ref, kind, **changes):
    return PC.ObjectUpdate(obj=ref, kind=kind, changeSet=[
        PC.Change(name=k.replace("__", "."), op="remove" if v is None else "assign", val=v) for k, v in changes.items()])


class Collector:
    def __init__(self, script):
        self.script = script          # list of UpdateSet | Exception | None
        self.versions = []
        self.destroyed = False

    def CreateFilter(self, spec, partialUpdates):  # noqa: N802
        self.spec = spec

    def WaitForUpdatesEx(self, version, options):  # noqa: N802
        self.versions.append(version)
        self.options = options
        item = self.script.pop(0) if self.script else None
        if isinstance(item, Exception):
            raise item
        return item

    def DestroyPropertyCollector(self):  # noqa: N802
        self.destroyed = True

    def CancelWaitForUpdates(self):  # noqa: N802
        pass


class Conn:
    def __init__(self, collectors):
        self.collectors = list(collectors)
        self.created = []
        view = vim.view.ContainerView("view-1")
        self.content = types.SimpleNamespace(
            propertyCollector=types.SimpleNamespace(CreatePropertyCollector=self._new),
            viewManager=types.SimpleNamespace(CreateContainerView=lambda container, type, recursive: view),
            rootFolder=vim.Folder("group-d1"))

    def _new(self):
        c = self.collectors.pop(0)
        self.created.append(c)
        return c

    def call(self, fn, *a, **k):
        return fn(*a, **k)

    call_once = call

    def ping(self):
        return True


VM1, VM2, VM3 = vim.VirtualMachine("vm-1"), vim.VirtualMachine("vm-2"), vim.VirtualMachine("vm-3")


def test_truncated_sets_are_followed_in_one_poll():
    c = Collector([update_set("1", [obj(VM1, "enter", name="a")], truncated=True),
                   update_set("2", [obj(VM2, "enter", name="b")])])
    w = PropertyWatch(Conn([c]), {vim.VirtualMachine: ["name"]}).start()
    updates = w.poll(max_wait=0)
    assert [(u.kind, u.moid, u.changes) for u in updates] == [("enter", "vm-1", {"name": "a"}),
                                                              ("enter", "vm-2", {"name": "b"})]
    assert c.versions == ["", "1"] and w.version == "2"
    assert set(w.known) == {"vm-1", "vm-2"}


def test_the_page_size_is_asked_for_in_every_wait():
    c = Collector([update_set("1", [obj(VM1, "enter", name="a")], truncated=True),
                   update_set("2", [obj(VM2, "enter", name="b")])])
    w = PropertyWatch(Conn([c]), {vim.VirtualMachine: ["name"]}, max_object_updates=1000).start()
    w.poll(max_wait=0)
    assert (c.options.maxObjectUpdates, c.options.maxWaitSeconds) == (1000, 0)


def test_modify_remove_and_leave():
    c = Collector([update_set("1", [obj(VM1, "enter", name="a", config__template=False)]),
                   update_set("2", [obj(VM1, "modify", config__template=None)]),
                   update_set("3", [obj(VM1, "leave")])])
    w = PropertyWatch(Conn([c]), {vim.VirtualMachine: ["name", "config.template"]}).start()
    w.poll(0)
    modify = w.poll(0)[0]
    assert (modify.kind, modify.changes, modify.paths) == ("modify", {"config.template": None}, ["config.template"])
    leave = w.poll(0)[0]
    assert (leave.kind, leave.changes) == ("leave", {}) and not w.known
    assert w.poll(0) == []


def test_lost_collector_rebuilds_and_synthesises_leaves():
    old = Collector([update_set("1", [obj(VM1, "enter", name="a"), obj(VM2, "enter", name="b")]),
                     vmodl.fault.ManagedObjectNotFound(obj=vim.PropertyCollector("pc-1"))])
    new = Collector([update_set("1", [obj(VM2, "enter", name="b"), obj(VM3, "enter", name="c")])])
    conn = Conn([old, new])
    w = PropertyWatch(conn, {vim.VirtualMachine: ["name"]}).start()
    w.poll(0)
    updates = w.poll(0)
    assert sorted((u.kind, u.moid) for u in updates) == [("enter", "vm-2"), ("enter", "vm-3"), ("leave", "vm-1")]
    assert w.resyncs == 1 and old.destroyed and new.versions == [""]
    assert set(w.known) == {"vm-2", "vm-3"}


def test_a_wait_lost_to_a_timeout_is_never_asked_again_but_the_watch_resyncs():
    """The first sync of a large inventory timed out on the socket: asking the same collector again with the same
    version may answer nothing (the lost reply advanced it), so the watch rebuilds and takes a fresh first answer."""
    old = Collector([TimeoutError("The read operation timed out"), update_set("-", [])])
    new = Collector([update_set("1", [obj(VM1, "enter", name="a"), obj(VM2, "enter", name="b")])])
    conn = Conn([old, new])
    w = PropertyWatch(conn, {vim.VirtualMachine: ["name"]}).start()
    updates = w.poll(0)
    assert sorted((u.kind, u.moid) for u in updates) == [("enter", "vm-1"), ("enter", "vm-2")]
    assert old.versions == [""] and old.destroyed and new.versions == [""] and w.resyncs == 1


def test_a_second_timeout_in_the_same_poll_ends_it():
    import pytest

    old = Collector([TimeoutError("timed out")])
    new = Collector([TimeoutError("timed out again")])
    w = PropertyWatch(Conn([old, new]), {vim.VirtualMachine: ["name"]}).start()
    with pytest.raises(TimeoutError):
        w.poll(0)


def test_a_refused_connection_is_raised_at_once_for_the_session_loop_to_reconnect():
    """vCenter is down: rebuilding would only retry the refused connection (the loop's "reconnecting" came 16 s
    late); nothing was lost, so the fault goes straight up."""
    import pytest

    old = Collector([ConnectionRefusedError(111, "Connection refused")])
    new = Collector([update_set("1", [])])
    conn = Conn([old, new])
    w = PropertyWatch(conn, {vim.VirtualMachine: ["name"]}).start()
    with pytest.raises(ConnectionRefusedError):
        w.poll(0)
    assert w.resyncs == 0 and not old.destroyed and new.versions == []


def test_a_dropped_wait_with_vcenter_gone_is_raised_without_rebuilding():
    """The connection was reset mid-wait and vCenter no longer answers: the fault goes up at once instead of
    spending the rebuild's own retries on a server that is down."""
    import http.client

    import pytest

    old = Collector([http.client.RemoteDisconnected("Remote end closed connection without response")])
    new = Collector([update_set("1", [])])
    conn = Conn([old, new])
    conn.ping = lambda: False
    w = PropertyWatch(conn, {vim.VirtualMachine: ["name"]}).start()
    with pytest.raises(http.client.RemoteDisconnected):
        w.poll(0)
    assert w.resyncs == 0 and new.versions == []
