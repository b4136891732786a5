"""The simulator's WaitForUpdatesEx (sim/collector.go), spoken to with plain pyVmomi: paged first answers
(maxObjectUpdates), incremental modify / enter / leave, parent and child property paths, versions, cancel; and its
RetrievePropertiesEx paged by maxObjects (sim/retrieve.go): tokens, their session and collector, cancel."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from pyVmomi import vim, vmodl

from simulator import start_simulator

pytestmark = pytest.mark.integration

PC = vmodl.query.PropertyCollector


@pytest.fixture(scope="module")
def collector_sim():
    with start_simulator("-cluster", "1", "-host", "2", "-vm-per-host", "8", "-standalone-host", "0") as sim:
        yield sim


@pytest.fixture(scope="module")
def si(collector_sim):
    return collector_sim.connect()


def vm_filter(si, collector, paths: list[str]):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    spec = PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
            PC.TraversalSpec(name="view", type=vim.view.ContainerView, path="view", skip=False)])],
        propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=paths)])
    return collector.CreateFilter(spec, partialUpdates=False), view


def new_collector(si):
    return si.RetrieveContent().propertyCollector.CreatePropertyCollector()


def objects(result) -> list:
    return [o for fs in result.filterSet or () for o in fs.objectSet or ()]


def drain(collector, version: str, wait: int = 0, max_objects: int | None = None):
    """(all object updates until the answer is not truncated, the last version, the size of each page)."""
    out, pages = [], []
    while True:
        result = collector.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=wait, maxObjectUpdates=max_objects))
        if result is None:
            return out, version, pages
        version = result.version
        pages.append(len(objects(result)))
        out.extend(objects(result))
        if not result.truncated:
            return out, version, pages
        wait = 0


@contextlib.contextmanager
def watching(si, paths: list[str]):
    """A new collector with a filter over every VM's `paths`, its first answer drained: (collector, version)."""
    pc = new_collector(si)
    vm_filter(si, pc, paths)
    _, version, _ = drain(pc, "")
    try:
        yield pc, version
    finally:
        pc.DestroyPropertyCollector()


def vm_named(si, suffix: str):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return next(v for v in view.view if v.name.endswith(suffix))
    finally:
        view.DestroyView()


def test_first_answer_is_paged_by_max_object_updates(si):
    pc = new_collector(si)
    vm_filter(si, pc, ["name", "runtime.powerState"])
    first = pc.WaitForUpdatesEx("", PC.WaitOptions(maxWaitSeconds=0, maxObjectUpdates=5))
    assert first.truncated is True and len(objects(first)) == 5
    rest, _, pages = drain(pc, first.version, max_objects=5)
    everything = objects(first) + rest
    assert pages == [5, 5, 1]  # 16 VMs: 5 + 5 + 5 + 1
    assert len({o.obj._moId for o in everything}) == 16 and {o.kind for o in everything} == {"enter"}
    assert all({c.name for c in o.changeSet} == {"name", "runtime.powerState"} for o in everything)
    pc.DestroyPropertyCollector()


def test_a_change_is_answered_as_a_modify_of_that_object_only(si):
    with watching(si, ["name", "runtime.powerState"]) as (pc, version):
        vm = vm_named(si, "VM0")
        started = time.monotonic()
        vm.PowerOffVM_Task()
        updates, version, _ = drain(pc, version, wait=10)
        took = time.monotonic() - started
        assert [(o.kind, o.obj._moId) for o in updates] == [("modify", vm._moId)]
        assert [(c.name, c.val) for c in updates[0].changeSet] == [("runtime.powerState", "poweredOff")]
        assert took < 2.0, f"{took:.2f} s"
        assert pc.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=0)) is None  # nothing else changed
        vm.PowerOnVM_Task()


def test_a_watched_parent_path_gets_its_current_value(si):
    with watching(si, ["runtime"]) as (pc, version):
        vm = vm_named(si, "VM1")
        vm.SuspendVM_Task()
        updates, _, _ = drain(pc, version, wait=10)
        assert [o.obj._moId for o in updates] == [vm._moId]
        (change,) = updates[0].changeSet
        assert change.name == "runtime" and isinstance(change.val, vim.vm.RuntimeInfo)
        assert change.val.powerState == "suspended"
        vm.PowerOnVM_Task()


def test_created_and_destroyed_objects_enter_and_leave(si):
    with watching(si, ["name"]) as (pc, version):
        source = vm_named(si, "VM2")
        task = source.CloneVM_Task(folder=source.parent, name="collector-clone",
                                   spec=vim.vm.CloneSpec(location=vim.vm.RelocateSpec()))
        deadline = time.monotonic() + 10
        while task.info.state not in ("success", "error") and time.monotonic() < deadline:
            time.sleep(0.05)
        clone = task.info.result
        updates, version, _ = drain(pc, version, wait=10)
        assert ("enter", clone._moId) in [(o.kind, o.obj._moId) for o in updates]
        clone.Destroy_Task()
        updates, version, _ = drain(pc, version, wait=10)
        assert ("leave", clone._moId) in [(o.kind, o.obj._moId) for o in updates]


def test_a_version_that_is_not_the_last_answered_is_refused(si):
    pc = new_collector(si)
    vm_filter(si, pc, ["name"])
    first = pc.WaitForUpdatesEx("", PC.WaitOptions(maxWaitSeconds=0))
    assert first.version
    with pytest.raises(vmodl.query.InvalidCollectorVersion):
        pc.WaitForUpdatesEx("no-such-version", PC.WaitOptions(maxWaitSeconds=0))
    again = pc.WaitForUpdatesEx("", PC.WaitOptions(maxWaitSeconds=0))  # "" starts over: everything again
    assert len(objects(again)) == 16
    pc.DestroyPropertyCollector()


def test_cancel_ends_a_waiting_call_with_request_canceled(si):
    pc = new_collector(si)
    vm_filter(si, pc, ["name"])
    _, version, _ = drain(pc, "")
    threading.Timer(0.3, pc.CancelWaitForUpdates).start()
    started = time.monotonic()
    with pytest.raises(vmodl.fault.RequestCanceled):
        pc.WaitForUpdatesEx(version, PC.WaitOptions())  # no maxWaitSeconds: waits until there is an answer
    assert time.monotonic() - started < 5
    pc.DestroyPropertyCollector()
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        pc.WaitForUpdatesEx("", PC.WaitOptions(maxWaitSeconds=0))


# ---------------------------------------------------------------- RetrievePropertiesEx paging (sim/retrieve.go)

def vm_names_spec(si):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    return PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
            PC.TraversalSpec(name="view", type=vim.view.ContainerView, path="view", skip=False)])],
        propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=["name"])])


def names(result) -> list[str]:
    return [p.val for o in result.objects for p in o.propSet]


def test_retrieve_pages_by_max_objects_and_each_token_answers_once(si):
    pc = si.RetrieveContent().propertyCollector
    spec = vm_names_spec(si)
    whole = pc.RetrievePropertiesEx([spec], PC.RetrieveOptions())
    assert len(whole.objects) == 16 and not whole.token
    result = pc.RetrievePropertiesEx([spec], PC.RetrieveOptions(maxObjects=5))
    pages, seen, tokens = [len(result.objects)], names(result), []
    while result.token:
        tokens.append(result.token)
        result = pc.ContinueRetrievePropertiesEx(result.token)
        pages.append(len(result.objects))
        seen += names(result)
    assert pages == [5, 5, 5, 1]
    assert sorted(seen) == sorted(names(whole))                      # every object once, none twice
    assert len(set(tokens)) == 3
    with pytest.raises(vmodl.fault.InvalidArgument) as used:
        pc.ContinueRetrievePropertiesEx(tokens[0])
    assert used.value.invalidProperty == "token"


def test_a_token_belongs_to_the_session_and_collector_that_returned_it(si, collector_sim):
    pc = si.RetrieveContent().propertyCollector
    first = pc.RetrievePropertiesEx([vm_names_spec(si)], PC.RetrieveOptions(maxObjects=10))
    other_session = collector_sim.connect().RetrieveContent().propertyCollector
    with pytest.raises(vmodl.fault.InvalidArgument):
        other_session.ContinueRetrievePropertiesEx(first.token)
    other_collector = new_collector(si)
    with pytest.raises(vmodl.fault.InvalidArgument):
        other_collector.ContinueRetrievePropertiesEx(first.token)
    other_collector.DestroyPropertyCollector()
    rest = pc.ContinueRetrievePropertiesEx(first.token)              # refused elsewhere, still good here
    assert len(rest.objects) == 6 and not rest.token


def test_a_created_collector_pages_too_and_its_tokens_end_with_it(si):
    pc = new_collector(si)
    first = pc.RetrievePropertiesEx([vm_names_spec(si)], PC.RetrieveOptions(maxObjects=4))
    assert len(first.objects) == 4 and first.token
    second = pc.ContinueRetrievePropertiesEx(first.token)
    assert len(second.objects) == 4 and second.token
    pc.DestroyPropertyCollector()
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        pc.ContinueRetrievePropertiesEx(second.token)


def test_cancel_discards_the_rest_of_a_retrieval(si):
    pc = si.RetrieveContent().propertyCollector
    first = pc.RetrievePropertiesEx([vm_names_spec(si)], PC.RetrieveOptions(maxObjects=3))
    pc.CancelRetrievePropertiesEx(first.token)
    with pytest.raises(vmodl.fault.InvalidArgument):
        pc.ContinueRetrievePropertiesEx(first.token)
    with pytest.raises(vmodl.fault.InvalidArgument):
        pc.CancelRetrievePropertiesEx(first.token)


def test_a_negative_max_objects_is_an_invalid_argument(si):
    with pytest.raises(vmodl.fault.InvalidArgument) as bad:
        si.RetrieveContent().propertyCollector.RetrievePropertiesEx([vm_names_spec(si)],
                                                                    PC.RetrieveOptions(maxObjects=-1))
    assert bad.value.invalidProperty == "maxObjects"
