"""Bulk inventory against the project simulator: one ContainerView + RetrievePropertiesEx, per-object errors,
OptionManagers of every host in one call, entity paths, task waiting through the property collector."""

from __future__ import annotations

import pytest
from pyVmomi import vim

from reconciler.vsphere import Connection, ConnectionSettings
from reconciler.vsphere import inventory, tasks

pytestmark = pytest.mark.integration


class CountingConnection(Connection):
    """Records the name of every vSphere method run through call() or call_once()."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.methods: list[str] = []

    def call(self, fn, *args, **kwargs):
        from reconciler.vsphere.connection import _callable_name
        self.methods.append(_callable_name(fn).rsplit(".", 1)[-1])
        return super().call(fn, *args, **kwargs)

    def call_once(self, fn, *args, **kwargs):
        from reconciler.vsphere.connection import _callable_name
        self.methods.append(_callable_name(fn).rsplit(".", 1)[-1])
        return super().call_once(fn, *args, **kwargs)


def connect(sim) -> CountingConnection:
    return CountingConnection(ConnectionSettings(name="sim", host=sim.host, port=sim.port, username=sim.username,
                                                 password=sim.password, ca_file=sim.ca_file)).connect()


@pytest.fixture(scope="module")
def conn(sim):
    c = connect(sim)
    yield c
    c.close()


def test_fetch_hosts_selected_paths_in_one_call(conn):
    conn.methods.clear()
    hosts = inventory.fetch(conn, vim.HostSystem, ["runtime.connectionState", "config.service",
                                                   "configManager.advancedOption"])
    assert conn.methods == ["CreateContainerView", "RetrievePropertiesEx", "DestroyView"]
    assert len(hosts) == 4                                            # 3 in the cluster + 1 standalone
    for moid, obj in hosts.items():
        assert obj.moid == moid and obj.type == "HostSystem" and obj.ref._moId == moid
        assert set(obj.props) == {"name", "runtime.connectionState", "config.service", "configManager.advancedOption"}
        assert obj.name == obj.props["name"] and obj.name.startswith("DC0_")
        assert obj.props["runtime.connectionState"] == "connected"
        assert isinstance(obj.props["configManager.advancedOption"], vim.option.OptionManager)
        assert obj.errors == {}


def test_view_is_destroyed(conn):
    inventory.fetch(conn, vim.VirtualMachine, ["runtime.powerState"])
    assert not conn.content.viewManager.viewList


def test_bad_path_is_a_per_object_error_not_a_failure(conn):
    hosts = inventory.fetch(conn, vim.HostSystem, ["runtime.connectionState", "no.such.property"])
    assert len(hosts) == 4
    for obj in hosts.values():
        assert obj.props["runtime.connectionState"] == "connected"
        assert "no.such.property" not in obj.props
        assert obj.errors["no.such.property"].startswith("InvalidProperty")


def test_fetch_vms_and_root(conn):
    vms = inventory.fetch(conn, vim.VirtualMachine, ["runtime.powerState", "config.template", "runtime.host"])
    assert len(vms) == 8
    assert {o.props["runtime.powerState"] for o in vms.values()} <= {"poweredOn", "poweredOff", "suspended"}
    assert all(o.props["config.template"] is False for o in vms.values())
    cluster = next(iter(inventory.fetch(conn, vim.ClusterComputeResource, ["name"]).values()))
    in_cluster = inventory.fetch(conn, vim.HostSystem, ["name"], root=cluster.ref)
    assert len(in_cluster) == 3 and all(o.name.startswith("DC0_C0_") for o in in_cluster.values())


def test_fetch_many_types_in_one_call(conn):
    conn.methods.clear()
    objs = inventory.fetch_many(conn, {vim.HostSystem: ["runtime.connectionState"],
                                       vim.VirtualMachine: ["runtime.powerState"]})
    assert conn.methods.count("RetrievePropertiesEx") == 1
    types = [o.type for o in objs.values()]
    assert types.count("HostSystem") == 4 and types.count("VirtualMachine") == 8
    vm = next(o for o in objs.values() if o.type == "VirtualMachine")
    assert set(vm.props) == {"name", "runtime.powerState"}


def test_fetch_objects_all_option_managers_in_one_call(conn):
    hosts = inventory.fetch(conn, vim.HostSystem, ["configManager.advancedOption"])
    managers = [h.props["configManager.advancedOption"] for h in hosts.values()]
    conn.methods.clear()
    result = inventory.fetch_objects(conn, managers, ["setting", "supportedOption"])
    assert conn.methods == ["RetrievePropertiesEx"]
    assert set(result) == {m._moId for m in managers}
    for props in result.values():
        assert props.type == "OptionManager" and props.errors == {}
        assert "supportedOption" in props
        keys = {o.key for o in props["setting"]}
        assert "Config.HostAgent.log.level" in keys


def test_paged_fetch_follows_every_continuation_token(conn):
    whole = inventory.fetch(conn, vim.VirtualMachine, ["runtime.powerState"], page_size=None)
    conn.methods.clear()
    paged = inventory.fetch(conn, vim.VirtualMachine, ["runtime.powerState"], page_size=3)
    assert conn.methods == ["CreateContainerView", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx",
                            "ContinueRetrievePropertiesEx", "DestroyView"]      # 8 VMs: pages of 3, 3 and 2
    assert {m: o.props for m, o in paged.items()} == {m: o.props for m, o in whole.items()} and len(paged) == 8


def test_paged_fetch_objects(conn):
    hosts = inventory.fetch(conn, vim.HostSystem, ["configManager.advancedOption"])
    managers = [h.props["configManager.advancedOption"] for h in hosts.values()]
    conn.methods.clear()
    result = inventory.fetch_objects(conn, managers, ["setting"], page_size=1)
    assert conn.methods == ["RetrievePropertiesEx"] + ["ContinueRetrievePropertiesEx"] * 3
    assert set(result) == {m._moId for m in managers} and all(r["setting"] for r in result.values())


def test_fetch_objects_survives_a_dangling_reference(conn):
    hosts = inventory.fetch(conn, vim.HostSystem, ["configManager.advancedOption"])
    managers = [h.props["configManager.advancedOption"] for h in hosts.values()]
    ghost = vim.option.OptionManager("optionmanager-ghost", conn.si._stub)
    result = inventory.fetch_objects(conn, [ghost, *managers], ["setting"])
    assert result["optionmanager-ghost"].errors["*"].startswith("ManagedObjectNotFound")
    assert "setting" not in result["optionmanager-ghost"]
    assert all(result[m._moId]["setting"] for m in managers)


def test_entity_paths(conn):
    conn.methods.clear()
    paths = inventory.entity_paths(conn)
    assert conn.methods.count("RetrievePropertiesEx") == 1
    by_name = {(p.type, p.name): p for p in paths.values()}
    dc = by_name[("Datacenter", "DC0")]
    assert dc.path == "/DC0" and dc.datacenter == "DC0"
    clustered = by_name[("HostSystem", "DC0_C0_H1")]
    assert (clustered.datacenter, clustered.cluster, clustered.compute, clustered.host) == ("DC0", "DC0_C0", "DC0_C0",
                                                                                           "DC0_C0_H1")
    assert clustered.path == "/DC0/host/DC0_C0/DC0_C0_H1" and clustered.folders == ("host",)
    standalone = by_name[("HostSystem", "DC0_H0")]
    assert standalone.cluster is None and standalone.compute == "DC0_H0" and standalone.datacenter == "DC0"
    vm = by_name[("VirtualMachine", "DC0_C0_H2_VM1")]
    assert (vm.datacenter, vm.cluster, vm.host, vm.folders, vm.template) == ("DC0", "DC0_C0", "DC0_C0_H2", ("vm",),
                                                                             False)
    assert vm.path == "/DC0/vm/DC0_C0_H2_VM1"
    standalone_vm = by_name[("VirtualMachine", "DC0_H0_VM0")]
    assert standalone_vm.cluster is None and standalone_vm.host == "DC0_H0"
    assert by_name[("ClusterComputeResource", "DC0_C0")].cluster == "DC0_C0"


def test_entity_paths_in_a_folder(fresh_sim):
    c = connect(fresh_sim)
    try:
        vms = inventory.fetch(c, vim.VirtualMachine, ["parent"])
        vm = next(o for o in vms.values() if o.name == "DC0_C0_H0_VM0")
        vm_folder = vm.props["parent"]
        prod = vm_folder.CreateFolder("Prod")
        web = prod.CreateFolder("web")
        tasks.raise_on_error(tasks.wait_one(c, web.MoveIntoFolder_Task([vm.ref]), 30))
        p = next(p for p in inventory.entity_paths(c).values() if p.name == "DC0_C0_H0_VM0")
        assert p.folders == ("vm", "Prod", "web")
        assert p.path == "/DC0/vm/Prod/web/DC0_C0_H0_VM0"
        assert p.cluster == "DC0_C0"
    finally:
        c.close()


def test_wait_for_many_tasks(fresh_sim):
    c = connect(fresh_sim)
    try:
        vms = [o.ref for o in inventory.fetch(c, vim.VirtualMachine, ["name"]).values()][:4]
        started = [vm.PowerOffVM_Task() for vm in vms]
        again = vms[0].PowerOffVM_Task()             # already off -> InvalidPowerState
        c.methods.clear()
        outcomes = tasks.wait(c, [*started, again], timeout=30)
        assert [o.moid for o in outcomes] == [t._moId for t in [*started, again]]
        assert [o.state for o in outcomes] == ["success"] * 4 + ["error"]
        assert all(o.ok for o in outcomes[:4]) and not outcomes[4].ok
        assert isinstance(outcomes[4].fault, vim.fault.InvalidPowerState)
        assert outcomes[4].message.startswith("InvalidPowerState")
        # one private collector, a handful of WaitForUpdatesEx, not one poll per task
        assert c.methods.count("CreatePropertyCollector") == 1 and c.methods.count("DestroyPropertyCollector") == 1
        assert c.methods.count("WaitForUpdatesEx") <= 2
        with pytest.raises(vim.fault.InvalidPowerState):
            tasks.raise_on_error(outcomes[4])
        states = inventory.fetch_objects(c, vms, ["runtime.powerState"])
        assert {p["runtime.powerState"] for p in states.values()} == {"poweredOff"}
    finally:
        c.close()


def test_wait_with_zero_timeout_reads_finished_tasks(fresh_sim):
    c = connect(fresh_sim)
    try:
        vm = next(iter(inventory.fetch(c, vim.VirtualMachine, ["name"]).values())).ref
        task = vm.PowerOffVM_Task()
        assert tasks.wait(c, [task], timeout=0)[0].state == "success"
        assert tasks.wait(c, [], timeout=1) == []
    finally:
        c.close()


def test_fetch_retries_injected_faults(sim_factory):
    from pyVmomi import vmodl
    from reconciler.vsphere import RetryPolicy
    sim = sim_factory("-fail", "RetrievePropertiesEx:/2,CreateContainerView:/3:SystemError")
    c = connect(sim)
    c.retry = RetryPolicy(attempts=4, initial=0.01, maximum=0.05, jitter=0.0, deadline=30)
    try:
        for _ in range(4):
            assert len(inventory.fetch(c, vim.HostSystem, ["runtime.connectionState"])) == 4
        assert c.methods.count("RetrievePropertiesEx") == 4     # call() counts once; retries happen inside
    finally:
        c.close()
    always = sim_factory("-fail", "RetrievePropertiesEx:1")
    c = connect(always)
    c.retry = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, jitter=0.0, deadline=30)
    try:
        with pytest.raises(vmodl.fault.HostCommunication):
            inventory.fetch(c, vim.HostSystem, ["name"])
        assert not c.content.viewManager.viewList                # the view is destroyed on failure too
    finally:
        c.close()
