"""PropertyWatch against the simulator: initial enter set, modify, new and deleted objects, session loss."""

from __future__ import annotations

import threading
import time

import pytest
from pyVmomi import vim

from reconciler.vsphere import Connection, ConnectionSettings, RetryPolicy
from reconciler.vsphere import inventory, tasks
from reconciler.vsphere.watch import PropertyWatch

pytestmark = pytest.mark.integration


def connect(sim) -> Connection:
    return Connection(ConnectionSettings(name="sim", host=sim.host, port=sim.port, username=sim.username,
                                         password=sim.password, ca_file=sim.ca_file),
                      retry=RetryPolicy(attempts=3, initial=0.01, maximum=0.05, jitter=0)).connect()


def poll_until(watch, predicate, timeout=10.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += watch.poll(max_wait=1)
        if predicate(seen):
            return seen
    raise AssertionError(f"condition not met; updates: {seen}")


@pytest.fixture
def conn(fresh_sim):
    c = connect(fresh_sim)
    yield c
    c.close()


def test_initial_enter_then_modify(conn):
    with PropertyWatch(conn, {vim.VirtualMachine: ["name", "runtime.powerState"]}) as watch:
        first = watch.poll(max_wait=1)
        assert len(first) == 8 and {u.kind for u in first} == {"enter"}
        assert all(set(u.changes) == {"name", "runtime.powerState"} for u in first)
        assert watch.poll(max_wait=1) == []                       # nothing changed
        vm = first[0]
        started = time.monotonic()
        tasks.raise_on_error(tasks.wait_one(conn, vm.ref.PowerOffVM_Task(), 30))
        seen = poll_until(watch, lambda s: any(u.moid == vm.moid and u.kind == "modify" for u in s))
        change = next(u for u in seen if u.moid == vm.moid)
        assert change.changes == {"runtime.powerState": "poweredOff"} and change.type == "VirtualMachine"
        assert time.monotonic() - started < 5


def test_new_and_deleted_objects(conn):
    vms = inventory.fetch(conn, vim.VirtualMachine, ["parent", "resourcePool", "runtime.host"])
    source = next(o for o in vms.values() if o.name == "DC0_C0_H0_VM0")
    with PropertyWatch(conn, {vim.VirtualMachine: ["name"]}) as watch:
        watch.poll(max_wait=1)
        spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=source.props["resourcePool"]), powerOn=False)
        clone = tasks.raise_on_error(tasks.wait_one(
            conn, source.ref.CloneVM_Task(folder=source.props["parent"], name="clone-1", spec=spec), 30))
        seen = poll_until(watch, lambda s: any(u.kind == "enter" for u in s))
        entered = next(u for u in seen if u.kind == "enter")
        assert entered.moid == clone._moId and entered.changes == {"name": "clone-1"}
        assert clone._moId in watch.known
        tasks.raise_on_error(tasks.wait_one(conn, clone.Destroy_Task(), 30))
        seen = poll_until(watch, lambda s: any(u.kind == "leave" for u in s))
        assert [u.moid for u in seen if u.kind == "leave"] == [clone._moId]
        assert clone._moId not in watch.known


def test_stop_from_another_thread_ends_a_blocked_poll(conn):
    watch = PropertyWatch(conn, {vim.HostSystem: ["name"]}, max_wait=20).start()
    watch.poll()
    threading.Timer(0.5, watch.stop).start()
    started = time.monotonic()
    assert watch.poll() == []
    assert time.monotonic() - started < 10 and watch.stopped


def test_session_loss_rebuilds_and_resyncs(conn, fresh_sim):
    with PropertyWatch(conn, {vim.VirtualMachine: ["name"]}) as watch:
        assert len(watch.poll(max_wait=1)) == 8
        admin = fresh_sim.connect()
        victim = next(iter(inventory.fetch(conn, vim.VirtualMachine, ["name"]).values()))
        tasks.raise_on_error(tasks.wait_one(conn, victim.ref.PowerOffVM_Task(), 30))
        tasks.raise_on_error(tasks.wait_one(conn, victim.ref.Destroy_Task(), 30))
        watch.poll(max_wait=1)                                   # consume the leave
        watch.known[victim.moid] = victim.ref                    # pretend we missed it
        admin.content.sessionManager.TerminateSession([conn.content.sessionManager.currentSession.key])
        updates = watch.poll(max_wait=1)
        assert watch.resyncs == 1
        assert sorted(u.kind for u in updates) == ["enter"] * 7 + ["leave"]
        assert next(u for u in updates if u.kind == "leave").moid == victim.moid


def test_watch_option_managers_by_reference(conn):
    hosts = inventory.fetch(conn, vim.HostSystem, ["configManager.advancedOption"])
    managers = [h.props["configManager.advancedOption"] for h in hosts.values()]
    with PropertyWatch(conn, {vim.option.OptionManager: ["setting"]}, refs=managers) as watch:
        assert watch._view is None                                  # no ContainerView of a non-entity type
        first = watch.poll(max_wait=1)
        assert sorted(u.moid for u in first) == sorted(m._moId for m in managers)
        assert all(u.kind == "enter" and u.changes["setting"] for u in first)
