"""Bulk reads through the PropertyCollector: one ContainerView + RetrievePropertiesEx per object type.

Never read properties object by object in a loop: each attribute access is a round trip (see
reference/simulator-notes.md, "Scale": 46 s naive against 0.8 s in bulk for 1,920 VMs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from reconciler import progress
from reconciler.vsphere.faults import describe
from reconciler.vsphere.protocol import Connection

PAGE_SIZE = 1000          # objects per RetrievePropertiesEx page (servers may page with fewer)


@dataclass
class ObservedObject:
    """One managed object as read in bulk. ``props`` maps each requested path to its value; a path the server
    left unset maps to ``None``; a path it could not read is absent from ``props`` and explained in ``errors``."""

    type: str
    moid: str
    name: str | None
    props: dict[str, Any]
    ref: Any = field(repr=False, default=None)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, default: Any = None) -> Any:
        return self.props.get(path, default)


class ObjectProps(dict[str, Any]):
    """``fetch_objects`` result for one object: a plain ``dict[path, value]`` with ``ref``, ``type`` and
    per-path ``errors`` (a path that could not be read is absent from the dict and present in ``errors``;
    an object that does not exist has ``errors["*"]``)."""

    def __init__(self, ref: Any, values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None):
        super().__init__(values or {})
        self.ref = ref
        self.type = type_name(ref)
        self.errors: dict[str, str] = dict(errors or {})


#: concrete types reported under their family's name: vCenter's switches are VmwareDistributedVirtualSwitch
#: (the simulator's DistributedVirtualSwitch); controllers, the catalog and reports call both the latter
TYPE_FAMILY = {"VmwareDistributedVirtualSwitch": "DistributedVirtualSwitch"}


def type_name(ref: Any) -> str:
    """``vim.HostSystem`` -> ``HostSystem`` (a VmwareDistributedVirtualSwitch -> ``DistributedVirtualSwitch``)."""
    name: str = getattr(type(ref), "_wsdlName", None) or type(ref).__name__
    return TYPE_FAMILY.get(name, name)


def type_name_of(vim_type: type) -> str:
    """``vim.HostSystem`` (the class) -> ``HostSystem``: pyVmomi's classes carry their WSDL name."""
    name: str = getattr(vim_type, "_wsdlName")  # noqa: B009 - pyVmomi sets it at run time; `type` has no such attribute
    return name


def _moid(ref: Any) -> str:
    moid: str = ref._moId
    return moid


def _session_lost(objects: list[Any]) -> bool:
    """A collector answers a dead session per property (NotAuthenticated in missingSet), not with a fault."""
    return any(isinstance(m.fault, vim.fault.NotAuthenticated) for o in objects for m in (o.missingSet or ()))


def _retrieve(conn: Connection, spec: vmodl.query.PropertyCollector.FilterSpec, page_size: int | None,
              collector: Any = None) -> list[Any]:
    """All pages of a retrieval. A session found dead in the answer is re-established and the read repeated once."""
    objects = _retrieve_pages(conn, spec, page_size, collector)
    if _session_lost(objects):
        conn.relogin()
        objects = _retrieve_pages(conn, spec, page_size, collector)
    return objects


def _retrieve_pages(conn: Connection, spec: vmodl.query.PropertyCollector.FilterSpec, page_size: int | None,
                    collector: Any = None) -> list[Any]:
    """RetrievePropertiesEx and every ContinueRetrievePropertiesEx page; each page call is retried on its own."""
    pc = collector or conn.content.propertyCollector
    options = vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=page_size)
    result = conn.call(pc.RetrievePropertiesEx, specSet=[spec], options=options)
    objects: list[Any] = []
    while result is not None:
        objects.extend(result.objects or ())
        progress.report("reading inventory", len(objects))
        token = result.token
        if not token:
            break
        try:
            result = conn.call(pc.ContinueRetrievePropertiesEx, token=token)
        except BaseException:
            try:                               # free the server-side result set
                pc.CancelRetrievePropertiesEx(token=token)
            except Exception:  # noqa: BLE001
                pass
            raise
    return objects


def _split(content: Any, paths: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    props: dict[str, Any] = {p: None for p in paths}
    errors: dict[str, str] = {}
    for prop in content.propSet or ():
        props[prop.name] = prop.val
    for missing in content.missingSet or ():
        props.pop(missing.path, None)
        errors[missing.path] = describe(missing.fault) if missing.fault else "missing"
    return props, errors


def _view_spec(view: Any, prop_specs: list[Any]) -> vmodl.query.PropertyCollector.FilterSpec:
    traverse = vmodl.query.PropertyCollector.TraversalSpec(name="traverseView", path="view", skip=False,
                                                           type=vim.view.ContainerView)
    obj_spec = vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traverse])
    return vmodl.query.PropertyCollector.FilterSpec(objectSet=[obj_spec], propSet=prop_specs,
                                                    reportMissingObjectsInResults=False)


def create_view(conn: Connection, types: Sequence[type], root: Any = None) -> Any:
    return conn.call(conn.content.viewManager.CreateContainerView,
                     container=root or conn.content.rootFolder, type=list(types), recursive=True)


def destroy_view(conn: Connection, view: Any) -> None:
    try:
        conn.call(view.DestroyView)
    except Exception:  # noqa: BLE001 - the session may be gone; the server drops views with it
        pass


def fetch_many(conn: Connection, specs: Mapping[type, Sequence[str]], root: Any = None, *,
               page_size: int | None = PAGE_SIZE) -> dict[str, ObservedObject]:
    """Several object types in one ContainerView and one RetrievePropertiesEx (plus continuation pages).

    ``specs`` maps a pyVmomi type (``vim.HostSystem``) to the property paths to read; ``name`` is always read
    for managed entities. Returns ``{moid: ObservedObject}``.
    """
    for vim_type in specs:
        if not issubclass(vim_type, vim.ManagedEntity):
            raise TypeError(f"{vim_type.__name__} is not a managed entity type: a ContainerView cannot hold it; "
                            "use fetch_objects() with its references")
    prop_specs = []
    wanted: dict[str, list[str]] = {}
    for vim_type, paths in specs.items():
        paths = list(dict.fromkeys(paths))
        if issubclass(vim_type, vim.ManagedEntity) and "name" not in paths:
            paths.append("name")
        wanted[type_name_of(vim_type)] = paths
        prop_specs.append(vmodl.query.PropertyCollector.PropertySpec(type=vim_type, pathSet=paths, all=False))
    contents = _retrieve_through_view(conn, list(specs), root, prop_specs, page_size)
    out: dict[str, ObservedObject] = {}
    for content in contents:
        ref = content.obj
        tname = type_name(ref)
        paths = wanted.get(tname) or _paths_for_subtype(ref, specs)
        props, errors = _split(content, paths)
        out[_moid(ref)] = ObservedObject(type=tname, moid=_moid(ref), name=props.get("name"), props=props,
                                         ref=ref, errors=errors)
    return out


def _retrieve_through_view(conn: Connection, types: list[type], root: Any, prop_specs: list[Any],
                           page_size: int | None) -> list[Any]:
    """A ContainerView belongs to the session that created it: if the session is lost between creating the view
    and reading through it, the re-login leaves the view behind (ManagedObjectNotFound). Create it again once."""
    for attempt in (1, 2):
        view = create_view(conn, types, root)
        try:
            return _retrieve(conn, _view_spec(view, prop_specs), page_size)
        except vmodl.fault.ManagedObjectNotFound as exc:
            if attempt == 2 or getattr(exc, "obj", None) is None or exc.obj._moId != view._moId:
                raise
        finally:
            destroy_view(conn, view)
    raise AssertionError("unreachable")


def _paths_for_subtype(ref: Any, specs: Mapping[type, Sequence[str]]) -> list[str]:
    for vim_type, paths in specs.items():
        if isinstance(ref, vim_type):
            return list(paths) + (["name"] if issubclass(vim_type, vim.ManagedEntity) and "name" not in paths else [])
    return []


def fetch(conn: Connection, vim_type: type, paths: Sequence[str], root: Any = None, *,
          page_size: int | None = PAGE_SIZE) -> dict[str, ObservedObject]:
    """Every object of ``vim_type`` under ``root`` (default: the root folder) with ``paths``, in one
    ContainerView + RetrievePropertiesEx (following the continuation token). The view is destroyed after."""
    return fetch_many(conn, {vim_type: paths}, root, page_size=page_size)


def fetch_objects(conn: Connection, refs: Iterable[Any], paths: Sequence[str], *,
                  page_size: int | None = PAGE_SIZE) -> dict[str, ObjectProps]:
    """``paths`` of arbitrary objects (e.g. every host's OptionManager: ``setting``, ``supportedOption``) in one
    RetrievePropertiesEx. Objects may be of different types (each gets the paths its type has).

    An object that does not exist (a dangling reference, or deleted meanwhile) does not fail the others: it is
    dropped from the request, the call repeated, and the object reported with ``errors["*"]``.
    """
    pending = {_moid(r): r for r in refs if r is not None}
    paths = list(dict.fromkeys(paths))
    out: dict[str, ObjectProps] = {}
    while pending:
        by_type: dict[type, None] = dict.fromkeys(type(r) for r in pending.values())
        prop_specs = [vmodl.query.PropertyCollector.PropertySpec(type=t, pathSet=paths, all=False) for t in by_type]
        obj_specs = [vmodl.query.PropertyCollector.ObjectSpec(obj=r, skip=False) for r in pending.values()]
        spec = vmodl.query.PropertyCollector.FilterSpec(objectSet=obj_specs, propSet=prop_specs,
                                                        reportMissingObjectsInResults=True)
        try:
            contents = _retrieve(conn, spec, page_size)
        except vmodl.fault.ManagedObjectNotFound as exc:
            gone = getattr(exc, "obj", None)
            if gone is None or _moid(gone) not in pending:
                raise
            moid = _moid(gone)
            out[moid] = ObjectProps(pending.pop(moid), errors={"*": describe(exc)})
            continue
        for content in contents:
            moid = _moid(content.obj)
            props, errors = _split(content, paths)
            out[moid] = ObjectProps(content.obj, props, errors)
            pending.pop(moid, None)
        for moid, ref in pending.items():      # not returned at all: reported as missing objects
            out.setdefault(moid, ObjectProps(ref, errors={"*": "ManagedObjectNotFound"}))
        break
    return out


# -- inventory paths -----------------------------------------------------------------------------------------

ENTITY_TYPES: tuple[type, ...] = (vim.Datacenter, vim.Folder, vim.ComputeResource, vim.HostSystem,
                                  vim.VirtualMachine, vim.ResourcePool, vim.DistributedVirtualSwitch)


@dataclass(frozen=True)
class EntityPath:
    """Where a managed entity sits: its name, parent and the names of the inventory containers above it."""

    moid: str
    type: str
    name: str
    parent: str | None                 # parent moid
    path: str                          # inventory path, e.g. "/DC0/host/Prod/esx-01" or "/DC0/vm/web/web-01"
    datacenter: str | None = None      # name of the datacenter above it
    cluster: str | None = None         # name of its cluster (hosts: their parent; VMs: their host's cluster)
    compute: str | None = None         # name of its compute resource (cluster or standalone host's)
    host: str | None = None            # VMs: name of their host; hosts: their own name
    folders: tuple[str, ...] = ()      # folder names between the datacenter and the object (incl. "vm"/"host")
    template: bool | None = None       # VMs: config.template
    ref: Any = field(default=None, compare=False, repr=False)


def entity_paths(conn: Connection, root: Any = None, *, vms: bool = True) -> dict[str, EntityPath]:
    """Name and parent chain of every Datacenter, Folder, cluster/ComputeResource, HostSystem, ResourcePool,
    DistributedVirtualSwitch and VirtualMachine, from one RetrievePropertiesEx: enough to match
    datacenter/cluster/folder/host/switch globs without touching objects one by one. `vms=False` leaves VMs and
    resource pools out (most of a large inventory)."""
    raw = fetch_many(conn, entity_specs(vms=vms), root)
    return build_entity_paths(raw)


def entity_specs(*, vms: bool = True) -> dict[type, list[str]]:
    """The types and paths :func:`entity_paths` reads (for a caller that folds them into a bigger fetch)."""
    types = ENTITY_TYPES if vms else tuple(t for t in ENTITY_TYPES if t not in (vim.VirtualMachine, vim.ResourcePool))
    specs: dict[type, list[str]] = {t: ["name", "parent"] for t in types}
    if vms:
        specs[vim.VirtualMachine] = ["name", "parent", "runtime.host", "config.template", "resourcePool"]
    return specs


def build_entity_paths(raw: Mapping[str, ObservedObject]) -> dict[str, EntityPath]:
    """Pure part of :func:`entity_paths` (unit-testable): resolve parent chains from ``name``/``parent``."""
    chains: dict[str, list[ObservedObject]] = {}

    def chain(moid: str) -> list[ObservedObject]:
        if moid in chains:
            return chains[moid]
        seen: list[ObservedObject] = []
        node = raw.get(moid)
        guard: set[str] = set()
        while node is not None and node.moid not in guard:
            guard.add(node.moid)
            seen.append(node)
            parent = node.props.get("parent")
            node = raw.get(_moid(parent)) if parent is not None else None
        seen.reverse()                                  # root first
        chains[moid] = seen
        return seen

    def compute_of(c: list[ObservedObject]) -> ObservedObject | None:
        return next((n for n in reversed(c) if n.type in ("ComputeResource", "ClusterComputeResource")), None)

    out: dict[str, EntityPath] = {}
    for moid, obj in raw.items():
        c = chain(moid)
        if obj.type == "VirtualMachine" and obj.props.get("parent") is None and obj.props.get("resourcePool"):
            c = chain(_moid(obj.props["resourcePool"])) + [obj]   # VM inside a vApp: go through its pool
        dc_index = next((i for i, n in enumerate(c) if n.type == "Datacenter"), None)
        below_dc = c[dc_index + 1:-1] if dc_index is not None else c[1:-1]
        folders = tuple(n.name or "" for n in below_dc if n.type == "Folder")
        names = [n.name or n.moid for n in c[1:]] if c and c[0].type == "Folder" and c[0].props.get("parent") is None \
            else [n.name or n.moid for n in c]
        compute = compute_of(c)
        host_name: str | None = obj.name if obj.type == "HostSystem" else None
        template = None
        if obj.type == "VirtualMachine":
            host_ref = obj.props.get("runtime.host")
            host_obj = raw.get(_moid(host_ref)) if host_ref is not None else None
            if host_obj is not None:
                host_name = host_obj.name
                compute = compute_of(chain(host_obj.moid)) or compute
            template = obj.props.get("config.template")
        parent = obj.props.get("parent")
        out[moid] = EntityPath(
            moid=moid, type=obj.type, name=obj.name or moid,
            parent=_moid(parent) if parent is not None else None,
            path="/" + "/".join(names),
            datacenter=c[dc_index].name if dc_index is not None else None,
            cluster=compute.name if compute is not None and compute.type == "ClusterComputeResource" else None,
            compute=compute.name if compute is not None else None,
            host=host_name, folders=folders, template=template, ref=obj.ref,
        )
    return out
