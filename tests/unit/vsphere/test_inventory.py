"""inventory with a fake PropertyCollector: token following, per-object errors, dangling references, paths."""

from __future__ import annotations

import types

import pytest
from pyVmomi import vim, vmodl

from reconciler.vsphere import inventory
from reconciler.vsphere.inventory import ObservedObject, build_entity_paths

PC = vmodl.query.PropertyCollector


def content(ref, props, missing=()):
    return PC.ObjectContent(obj=ref, propSet=[vmodl.DynamicProperty(name=k, val=v) for k, v in props.items()],
                            missingSet=[PC.MissingProperty(path=p, fault=f) for p, f in missing])


class FakeCollector:
    def __init__(self, pages, not_found=()):
        self.pages = list(pages)
        self.calls: list[str] = []
        self.not_found = set(not_found)
        self.specs = []

    def RetrievePropertiesEx(self, specSet, options):  # noqa: N802
        self.calls.append("RetrievePropertiesEx")
        self.specs.append(specSet[0])
        for obj_spec in specSet[0].objectSet:
            if obj_spec.obj._moId in self.not_found:
                raise vmodl.fault.ManagedObjectNotFound(obj=obj_spec.obj)
        return self._page()

    def ContinueRetrievePropertiesEx(self, token):  # noqa: N802
        self.calls.append(f"Continue:{token}")
        return self._page()

    def _page(self):
        objects, token = self.pages.pop(0)
        return PC.RetrieveResult(objects=objects, token=token)


class FakeView:
    destroyed = False


class FakeConn:
    def __init__(self, collector):
        view = vim.view.ContainerView("session[1]view-1")
        self.content = types.SimpleNamespace(
            propertyCollector=collector, rootFolder=vim.Folder("group-d1"),
            viewManager=types.SimpleNamespace(CreateContainerView=lambda container, type, recursive: view))
        self.view = view

    def call(self, fn, *args, **kwargs):
        from reconciler.vsphere.connection import _callable_name
        if _callable_name(fn).endswith(".DestroyView"):
            FakeView.destroyed = True
            return None
        return fn(*args, **kwargs)


def hosts(n):
    return [vim.HostSystem(f"host-{i}") for i in range(n)]


def test_fetch_follows_the_token_and_destroys_the_view():
    h = hosts(5)
    pages = [([content(h[0], {"name": "a", "x": 1}), content(h[1], {"name": "b", "x": 2})], "t1"),
             ([content(h[2], {"name": "c", "x": 3}), content(h[3], {"name": "d", "x": 4})], "t2"),
             ([content(h[4], {"name": "e"})], None)]
    collector = FakeCollector(pages)
    conn = FakeConn(collector)
    FakeView.destroyed = False
    result = inventory.fetch(conn, vim.HostSystem, ["x"], page_size=2)
    assert collector.calls == ["RetrievePropertiesEx", "Continue:t1", "Continue:t2"]
    assert [o.name for o in result.values()] == ["a", "b", "c", "d", "e"]
    assert result["host-4"].props == {"x": None, "name": "e"}           # unset -> None
    assert FakeView.destroyed
    prop_spec = collector.specs[0].propSet[0]
    assert prop_spec.pathSet == ["x", "name"] and prop_spec.type is vim.HostSystem


def test_view_destroyed_even_when_the_fetch_fails():
    class Broken(FakeCollector):
        def RetrievePropertiesEx(self, specSet, options):  # noqa: N802
            raise vmodl.fault.SystemError(reason="boom")
    FakeView.destroyed = False
    with pytest.raises(vmodl.fault.SystemError):
        inventory.fetch(FakeConn(Broken([])), vim.HostSystem, ["x"])
    assert FakeView.destroyed


def test_missing_set_is_recorded_per_object():
    h = hosts(2)
    pages = [([content(h[0], {"name": "a"}, missing=[("config.service", vim.fault.NoPermission())]),
               content(h[1], {"name": "b", "config.service": "svc"})], None)]
    result = inventory.fetch(FakeConn(FakeCollector(pages)), vim.HostSystem, ["config.service"])
    assert "config.service" not in result["host-0"].props
    assert result["host-0"].errors == {"config.service": "NoPermission"}
    assert result["host-1"].props["config.service"] == "svc" and result["host-1"].errors == {}


def test_fetch_objects_drops_a_vanished_object_and_retries():
    managers = [vim.option.OptionManager(f"om-{i}") for i in range(3)]
    pages = [([content(managers[0], {"setting": "s1"}), content(managers[2], {"setting": "s3"})], None)]
    collector = FakeCollector(pages, not_found={"om-1"})
    result = inventory.fetch_objects(FakeConn(collector), managers, ["setting"])
    assert collector.calls == ["RetrievePropertiesEx", "RetrievePropertiesEx"]
    assert result["om-0"] == {"setting": "s1"} and result["om-2"] == {"setting": "s3"}
    assert result["om-1"] == {} and result["om-1"].errors["*"].startswith("ManagedObjectNotFound")
    assert [s.obj._moId for s in collector.specs[-1].objectSet] == ["om-0", "om-2"]
    assert result["om-0"].ref is managers[0] and result["om-0"].type == "OptionManager"


def test_fetch_objects_mixed_types_get_one_property_spec_each():
    refs = [vim.HostSystem("host-1"), vim.VirtualMachine("vm-1"), vim.HostSystem("host-2")]
    collector = FakeCollector([([content(r, {"name": r._moId}) for r in refs], None)])
    inventory.fetch_objects(FakeConn(collector), refs, ["name", "name"])
    specs = collector.specs[0].propSet
    assert [s.type for s in specs] == [vim.HostSystem, vim.VirtualMachine]
    assert all(s.pathSet == ["name"] for s in specs)


def obs(ref, name, parent=None, **props):
    return ObservedObject(type=inventory.type_name(ref), moid=ref._moId, name=name,
                          props={"name": name, "parent": parent, **props}, ref=ref)


def test_build_entity_paths():
    root = vim.Folder("group-d1")
    dc = vim.Datacenter("datacenter-2")
    host_folder, vm_folder = vim.Folder("group-h4"), vim.Folder("group-v3")
    nested = vim.Folder("group-v9")
    cluster = vim.ClusterComputeResource("domain-c7")
    esx = vim.HostSystem("host-10")
    vm = vim.VirtualMachine("vm-20")
    vapp = vim.VirtualApp("resgroup-v30")
    vapp_vm = vim.VirtualMachine("vm-31")
    raw = {o.moid: o for o in [
        obs(root, "Datacenters"), obs(dc, "Lab", root), obs(host_folder, "host", dc), obs(vm_folder, "vm", dc),
        obs(nested, "Prod", vm_folder), obs(cluster, "Prod-A", host_folder), obs(esx, "esx-01", cluster),
        obs(vm, "web-01", nested, **{"runtime.host": esx, "config.template": True}),
        obs(vapp, "app", cluster),
        obs(vapp_vm, "in-vapp", None, **{"runtime.host": esx, "config.template": False, "resourcePool": vapp}),
    ]}
    paths = build_entity_paths(raw)
    assert paths["host-10"].path == "/Lab/host/Prod-A/esx-01"
    assert (paths["host-10"].cluster, paths["host-10"].datacenter, paths["host-10"].parent) == ("Prod-A", "Lab",
                                                                                                "domain-c7")
    w = paths["vm-20"]
    assert (w.path, w.folders, w.cluster, w.host, w.template) == ("/Lab/vm/Prod/web-01", ("vm", "Prod"), "Prod-A",
                                                                  "esx-01", True)
    assert paths["vm-31"].cluster == "Prod-A" and paths["vm-31"].path == "/Lab/host/Prod-A/app/in-vapp"
    assert paths["datacenter-2"].path == "/Lab" and paths["group-d1"].path == "/"
    assert paths["domain-c7"].cluster == "Prod-A"


def test_fetch_refuses_non_entity_types():
    with pytest.raises(TypeError, match="fetch_objects"):
        inventory.fetch(FakeConn(FakeCollector([])), vim.option.OptionManager, ["setting"])
