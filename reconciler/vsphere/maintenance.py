"""Host maintenance mode and reboot over the API, and the evacuation pre-check, for rolling maintenance
(`reconciler.engine.rolling`). Reads are bulk: one fetch of every host and VM state the pre-check needs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from reconciler.vsphere import inventory, tasks
from reconciler.vsphere.protocol import Connection

#: how long a rebooting host may take to be connected again
RECONNECT_TIMEOUT = 1800.0
MAINTENANCE_TIMEOUT = 3600.0


@dataclass(frozen=True)
class ClusterFacts:
    """What decides whether vCenter evacuates a host of the cluster by itself, and whether HA lets it go."""

    name: str
    drs: str  # "off", "manual", "partiallyAutomated" or "fullyAutomated"
    ha_failover_level: int | None = None  # HA on with the failover-level admission-control policy
    ha_other_policy: str | None = None  # HA admission control with another policy (not judged): its type name


@dataclass(frozen=True)
class HostFacts:
    moid: str
    name: str
    cluster: str | None  # moid of the ClusterComputeResource, None for a standalone host
    connected: bool
    in_maintenance: bool
    powered_on_vms: int
    cluster_facts: ClusterFacts | None = None


@dataclass(frozen=True)
class PreCheck:
    """Can the host be evacuated: `ok`, and why (for the plan)."""

    ok: bool
    reason: str


def cluster_facts(name: str, config: Any) -> ClusterFacts:
    """DRS automation and HA admission control of a ClusterConfigInfoEx (`configurationEx`)."""
    drs = getattr(config, "drsConfig", None)
    mode = "off" if drs is None or not drs.enabled else str(drs.defaultVmBehavior or "fullyAutomated")
    das = getattr(config, "dasConfig", None)
    level = other = None
    if das is not None and das.enabled and das.admissionControlEnabled:
        policy = das.admissionControlPolicy
        if isinstance(policy, vim.cluster.FailoverLevelAdmissionControlPolicy):
            level = int(policy.failoverLevel)
        elif policy is not None:
            other = type(policy).__name__.rsplit(".", 1)[-1]
    return ClusterFacts(name, mode, level, other)


def host_facts(conn: Connection) -> dict[str, HostFacts]:
    """Every host's cluster (with its DRS and HA settings), connection and maintenance state and powered-on VM
    count (one bulk fetch)."""
    raw = inventory.fetch_many(conn, {vim.HostSystem: ["parent", "runtime.connectionState", "runtime.inMaintenanceMode"],
                                      vim.VirtualMachine: ["runtime.host", "runtime.powerState"],
                                      vim.ClusterComputeResource: ["configurationEx"]})
    running: dict[str, int] = {}
    clusters: dict[str, ClusterFacts] = {}
    for o in raw.values():
        if o.type == "VirtualMachine" and str(o.props.get("runtime.powerState")) == "poweredOn":
            host = o.props.get("runtime.host")
            if host is not None:
                running[host._moId] = running.get(host._moId, 0) + 1
        elif o.type == "ClusterComputeResource":
            clusters[o.moid] = cluster_facts(str(o.name), o.props.get("configurationEx"))
    out: dict[str, HostFacts] = {}
    for o in raw.values():
        if o.type != "HostSystem":
            continue
        parent = o.props.get("parent")
        cluster = parent._moId if isinstance(parent, vim.ClusterComputeResource) else None
        out[o.moid] = HostFacts(o.moid, str(o.name), cluster, str(o.props.get("runtime.connectionState")) == "connected",
                                bool(o.props.get("runtime.inMaintenanceMode")), running.get(o.moid, 0),
                                clusters.get(cluster) if cluster else None)
    return out


def precheck(moid: str, facts: dict[str, HostFacts]) -> PreCheck:
    """The host is connected; its powered-on VMs (if any) have another connected host of its cluster that is
    not in maintenance mode to go to, and DRS is fully automated (else vCenter waits for someone to move
    them); HA admission control with a failover level of N leaves more than N hosts while the cluster runs VMs.
    (DRS rules, other admission-control policies and VM compatibility are not judged: vCenter refuses the
    evacuation then, and the window stops there.)"""
    h = facts.get(moid)
    if h is None:
        return PreCheck(False, "the host is not in the inventory")
    if not h.connected:
        return PreCheck(False, "the host is not connected")
    if h.in_maintenance:
        return PreCheck(True, "already in maintenance mode")
    members = [o for o in facts.values() if h.cluster is not None and o.cluster == h.cluster]
    others = [o for o in members if o.moid != moid and o.connected and not o.in_maintenance]
    if h.powered_on_vms and not others:
        where = "a standalone host" if h.cluster is None else "no other connected host of the cluster is available"
        return PreCheck(False, f"{h.powered_on_vms} powered-on VM(s) cannot be evacuated: {where}")
    cf = h.cluster_facts
    if cf is not None and h.powered_on_vms and cf.drs != "fullyAutomated":
        return PreCheck(False, f"{h.powered_on_vms} powered-on VM(s) cannot be evacuated: DRS on cluster {cf.name} "
                               f"is {cf.drs}, so vCenter would wait for them to be migrated by hand")
    if cf is not None and cf.ha_failover_level is not None and any(o.powered_on_vms for o in members) \
            and len(others) <= cf.ha_failover_level:
        return PreCheck(False, f"HA admission control on cluster {cf.name} tolerates {cf.ha_failover_level} host "
                               f"failure(s): {len(others)} other host(s) would be left")
    reason = f"{h.powered_on_vms} powered-on VM(s) can move to {len(others)} other host(s)"
    if cf is not None and cf.ha_other_policy:
        reason += f" (HA admission control {cf.ha_other_policy} is not judged)"
    return PreCheck(True, reason)


def enter(conn: Connection, host: Any, timeout: float = MAINTENANCE_TIMEOUT) -> None:
    """Enter maintenance mode; vCenter evacuates the powered-on VMs (or the task fails)."""
    def EnterMaintenanceMode_Task() -> Any:  # noqa: N802 - named after the API method (retry logs show it)
        return host.EnterMaintenanceMode_Task(timeout=int(timeout))

    tasks.run(conn, EnterMaintenanceMode_Task, timeout=timeout)


def exit_(conn: Connection, host: Any, timeout: float = MAINTENANCE_TIMEOUT) -> None:
    def ExitMaintenanceMode_Task() -> Any:  # noqa: N802
        return host.ExitMaintenanceMode_Task(timeout=int(timeout))

    tasks.run(conn, ExitMaintenanceMode_Task, timeout=timeout)


def boot_time(conn: Connection, host: Any) -> Any:
    return inventory.fetch_objects(conn, [host], ["runtime.bootTime"])[host._moId].get("runtime.bootTime")


def reboot(conn: Connection, host: Any) -> None:
    """Reboot a host that is in maintenance mode (never forced)."""
    tasks.run(conn, host.RebootHost_Task, force=False)


def wait_reconnected(conn: Connection, host: Any, booted_before: Any, timeout: float = RECONNECT_TIMEOUT,
                     poll: float = 0.25) -> None:
    """Until the host went down and is connected again: connected with a boot time after `booted_before`, or
    (when the host reported no boot time) connected after having been seen not connected."""
    deadline = time.monotonic() + timeout
    seen_down = False
    while True:
        props = _state(conn, [host]).get(host._moId, {})
        booted = props.get("runtime.bootTime")
        connected = str(props.get("runtime.connectionState")) == "connected"
        seen_down = seen_down or (bool(props) and not connected)
        if connected and (booted is not None and booted_before is not None and booted > booted_before
                          or booted_before is None and seen_down):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the host was not connected again within {timeout:.0f} s of the reboot")
        time.sleep(poll)


def _state(conn: Connection, hosts: Iterable[Any]) -> Mapping[str, Mapping[str, Any]]:
    try:
        return inventory.fetch_objects(conn, list(hosts), ["runtime.connectionState", "runtime.bootTime"])
    except Exception:  # noqa: BLE001 - a rebooting host's vCenter may answer with faults meanwhile; try again
        return {}
