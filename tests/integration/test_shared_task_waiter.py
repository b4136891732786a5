"""The shared task waiter of an apply pass: many threads' tasks through one collector and one filter (issue 19)."""

from __future__ import annotations

import threading

import pytest
from pyVmomi import vim

from reconciler.vsphere import inventory, tasks

from test_vsphere_inventory import connect

pytestmark = pytest.mark.integration


class AlwaysWaits(tasks.SharedWaiter):
    """Never takes the already-ended shortcut, so every task goes through the shared collector."""

    def _read_now(self, task):
        return {}


def test_tasks_of_many_threads_wait_through_one_collector_and_filter(fresh_sim):
    c = connect(fresh_sim)
    try:
        vms = [o.ref for o in inventory.fetch(c, vim.VirtualMachine, ["name"]).values()][:4]
        waiter = AlwaysWaits(c)
        outcomes: dict[str, tasks.TaskOutcome] = {}

        def power_off(vm):
            outcomes[vm._moId] = waiter.wait(vm.PowerOffVM_Task(), 30)

        threads = [threading.Thread(target=power_off, args=(vm,)) for vm in vms]
        c.methods.clear()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        again = waiter.wait(vms[0].PowerOffVM_Task(), 30)        # already off: the task ends in a fault
        waiter.close()
        assert sorted(o.state for o in outcomes.values()) == ["success"] * 4
        assert again.state == "error" and isinstance(again.fault, vim.fault.InvalidPowerState)
        assert [c.methods.count(m) for m in ("CreatePropertyCollector", "CreateListView", "CreateFilter",
                                             "ModifyListView")] == [1, 1, 1, 5]
        assert "RetrievePropertiesEx" not in c.methods                  # no per-task reads
        states = inventory.fetch_objects(c, vms, ["runtime.powerState"])
        assert {p["runtime.powerState"] for p in states.values()} == {"poweredOff"}
    finally:
        c.close()


def test_run_inside_a_shared_waiter_never_creates_a_collector_per_task(fresh_sim):
    c = connect(fresh_sim)
    try:
        vms = [o.ref for o in inventory.fetch(c, vim.VirtualMachine, ["name"]).values()][:3]
        c.methods.clear()
        with tasks.shared_waiter(c) as waiter:
            assert tasks._waiter_of(c) is waiter
            for vm in vms:
                tasks.run(c, vm.PowerOffVM_Task, timeout=30)
            with pytest.raises(vim.fault.InvalidPowerState):
                tasks.run(c, vms[0].PowerOffVM_Task, timeout=30)
        assert tasks._waiter_of(c) is None
        assert c.methods.count("CreatePropertyCollector") <= 1       # 0 when every task had ended at once
        assert c.methods.count("DestroyPropertyCollector") == c.methods.count("CreatePropertyCollector")
    finally:
        c.close()


def test_concurrent_blocks_on_one_connection_share_the_waiter_until_the_last_ends(fresh_sim):
    c = connect(fresh_sim)
    try:
        with tasks.shared_waiter(c) as first:
            with tasks.shared_waiter(c) as second:
                assert second is first
            assert tasks._waiter_of(c) is first and not first.stopping   # the outer block still uses it
        assert tasks._waiter_of(c) is None and first.stopping
    finally:
        c.close()
