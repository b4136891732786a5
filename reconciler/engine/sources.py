"""Reading what controllers declare as their sources (`properties`, `related`, `polled`), in bulk.

One property-spec builder (`property_specs`) serves the planner's snapshot and the daemon's watch. `read` fills
`ObjectState.related` and `ObjectState.polled` for the objects a controller targets: related objects in one
`fetch_objects` call per type (their static properties once per static key, from one object per key), polled
sources one call per object when due. A `SourceCache` carries what is already known (the daemon's watch cache,
static values per key, polled values with their read times) from one read to the next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldPath, ObjectState, Polled, PolledValue, Related, RelatedState, Shared
from reconciler.vsphere import esxcli, inventory
from reconciler.vsphere.protocol import Connection

VIM_TYPES: dict[str, type] = {
    "HostSystem": vim.HostSystem,
    "VirtualMachine": vim.VirtualMachine,
    "DistributedVirtualPortgroup": vim.dvs.DistributedVirtualPortgroup,
    "DistributedVirtualSwitch": vim.DistributedVirtualSwitch,
    "OptionManager": vim.option.OptionManager,
    "CryptoManagerKmip": vim.encryption.CryptoManagerKmip,
}
#: managed types that are no managed entity (a ContainerView cannot hold them): the one object of each a vCenter
#: has, by the ServiceContent property that refers to it (the vCenter's own settings, its key providers)
SINGLETONS: dict[str, str] = {"OptionManager": "setting", "CryptoManagerKmip": "cryptoManager"}
#: properties the engine itself needs, beyond the controllers'
BASE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "HostSystem": ("runtime.connectionState",),
    "VirtualMachine": ("runtime.powerState", "config.template"),
    "DistributedVirtualPortgroup": ("parent",),
    "DistributedVirtualSwitch": ("parent",),
    "OptionManager": (),
    "CryptoManagerKmip": (),
}


def singleton_refs(conn: Connection, specs: Mapping[type, Sequence[str]]) -> list[Any]:
    """The ServiceContent objects of the singleton types in `specs` that this endpoint has (an ESXi host's
    cryptoManager is no CryptoManagerKmip: it has none)."""
    refs = []
    for vim_type in specs:
        attr = SINGLETONS.get(inventory.type_name_of(vim_type))
        ref = getattr(conn.content, attr, None) if attr else None
        if ref is not None and isinstance(ref, vim_type):
            refs.append(ref)
    return refs


def fetch_singletons(conn: Connection, specs: Mapping[type, Sequence[str]]) -> dict[str, inventory.ObservedObject]:
    """The singleton objects in `specs`, read in one call, as ObservedObjects named by their moid."""
    refs = singleton_refs(conn, specs)
    if not refs:
        return {}
    paths = list(dict.fromkeys(p for t, ps in specs.items() if t in {type(r) for r in refs} for p in ps))
    fetched = inventory.fetch_objects(conn, refs, paths)
    return {r._moId: inventory.ObservedObject(inventory.type_name(r), r._moId, r._moId,
                                              dict(fetched.get(r._moId, {})), ref=r) for r in refs}


def property_specs(controllers: Iterable[Controller], *, with_name: bool = False) -> dict[type, list[str]]:
    """{vim type: property paths} of the managed objects: the engine's own paths and every path the controllers
    declare (`Controller.object_paths`), in declaration order."""
    specs: dict[type, list[str]] = {}
    for controller in controllers:
        vim_type = VIM_TYPES[controller.managed_type]
        base = ["name"] if with_name and issubclass(vim_type, vim.ManagedEntity) else []
        paths = specs.setdefault(vim_type,
                                 [*base, *BASE_PROPERTIES[controller.managed_type]])
        paths.extend(p for p in controller.object_paths() if p not in paths)
    return specs


def related_declarations(controllers: Iterable[Controller]) -> dict[str, Related]:
    """The related objects the controllers declare, by `via`, properties merged when several declare one."""
    out: dict[str, Related] = {}
    for controller in controllers:
        for r in controller.related:
            seen = out.get(r.via)
            if seen is None:
                out[r.via] = r
            else:
                out[r.via] = Related(r.via, r.type, tuple(dict.fromkeys(seen.properties + r.properties)),
                                     tuple(dict.fromkeys(seen.static + r.static)), seen.static_key or r.static_key)
    return out


def phase(moid: str, source: str) -> float:
    """A stable fraction in [0, 1) per (object, source): spreads the reads of one source over its interval."""
    return int.from_bytes(hashlib.sha256(f"{moid}/{source}".encode()).digest()[:4], "big") / 2**32


def next_read(read_at: dt.datetime, interval: float, moid: str, source: str) -> dt.datetime:
    """When a value read at `read_at` is due again: the next point of the object's phase in the interval, at
    least half an interval later (so reads of many objects spread evenly over the interval)."""
    offset = phase(moid, source) * interval
    epoch = read_at.timestamp()
    due = epoch + ((offset - epoch) % interval)
    if due - epoch < interval / 2:
        due += interval
    return dt.datetime.fromtimestamp(due, dt.timezone.utc)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class SourceCache:
    """What is known of declared sources between reads. `related` is kept current by the daemon's watch (the
    engine reads, never writes it); `shared` holds static values per (via, static key value) for a session;
    `polled` the last read of each (moid, source name). `poll_slots` bounds concurrent polled reads."""

    related: dict[str, dict[str, Any]] = field(default_factory=dict)
    shared: dict[tuple[str, str], Shared] = field(default_factory=dict)
    polled: dict[tuple[str, str], PolledValue] = field(default_factory=dict)
    poll_concurrency: int = 4
    poll_interval: float | None = None  # overrides every source's own interval (`vsr run --poll-interval`)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self.poll_slots = threading.BoundedSemaphore(max(1, self.poll_concurrency))

    def interval(self, source: Polled) -> float:
        return self.poll_interval if self.poll_interval is not None else source.interval

    def due(self, moid: str, source: Polled, now: dt.datetime) -> bool:
        with self.lock:
            last = self.polled.get((moid, source.name))
        return last is None or now >= next_read(last.read_at, self.interval(source), moid, source.name)

    def next_due(self, moid: str, sources: Iterable[Polled]) -> dt.datetime | None:
        """The earliest time one of `sources` of `moid` is due again (None if none was read)."""
        times = []
        with self.lock:
            for s in sources:
                last = self.polled.get((moid, s.name))
                if last is not None:
                    times.append(next_read(last.read_at, self.interval(s), moid, s.name))
        return min(times) if times else None


Target = tuple[Controller, ObjectState]
Desired = Mapping[str, Mapping[str, Mapping[FieldPath, Any]]]


def read(conn: Connection, targets: Sequence[Target], cache: SourceCache | None = None, *, fresh: bool = False,
         now: dt.datetime | None = None, desired: Desired | None = None) -> dict[tuple[str, str], BaseException]:
    """Fill `state.related` and `state.polled` of each (controller, state) from the controller's declarations.
    `fresh` re-reads related properties and polled sources even when the cache has them (before a write, and
    the read-back after one). `desired` (moid -> controller name -> desired values) is handed to polled sources
    that have a `reader`. Returns the faults per (moid, controller name): that controller's observed state
    of that object could not be read (the others are unaffected)."""
    cache = cache if cache is not None else SourceCache()
    now = now or now_utc()
    faults: dict[tuple[str, str], BaseException] = {}
    _read_related(conn, targets, cache, fresh, faults)
    _read_polled(conn, targets, cache, fresh, now, faults, desired or {})
    return faults


def observe(targets: Sequence[Target], faults: Mapping[tuple[str, str], BaseException]) -> None:
    """Let each controller derive its extras from what was read (not for objects whose read faulted)."""
    for controller, state in targets:
        if (state.ref.moid, controller.name) not in faults:
            controller.observe(state)


def _read_related(conn: Connection, targets: Sequence[Target], cache: SourceCache, fresh: bool,
                  faults: dict[tuple[str, str], BaseException]) -> None:
    wanted: dict[str, dict[str, Any]] = {}            # related type -> moid -> ref, to fetch
    paths: dict[str, list[str]] = {}                  # related type -> properties to fetch
    users: dict[str, list[tuple[Controller, ObjectState]]] = {}  # related type -> who needs it
    for controller, state in targets:
        for r in controller.related:
            ref = state.props.get(r.via)
            if ref is None:
                continue
            users.setdefault(r.type, []).append((controller, state))
            with cache.lock:
                known = None if fresh else cache.related.get(ref._moId)
            if known is not None:
                state.related[r.via] = RelatedState(ref._moId, dict(known))
            else:
                wanted.setdefault(r.type, {})[ref._moId] = ref
                names = paths.setdefault(r.type, [])
                names.extend(p for p in r.properties if p not in names)
    fetched: dict[str, Mapping[str, Any]] = {}
    for type_name, refs in wanted.items():
        try:
            fetched.update(inventory.fetch_objects(conn, list(refs.values()), paths[type_name]))
        except Exception as exc:  # noqa: BLE001 - one type's read never stops the others
            for controller, state in users[type_name]:
                faults[(state.ref.moid, controller.name)] = exc
    for controller, state in targets:
        for r in controller.related:
            ref = state.props.get(r.via)
            if ref is not None and r.via not in state.related and ref._moId in fetched:
                state.related[r.via] = RelatedState(ref._moId, dict(fetched[ref._moId]))
    _read_static(conn, targets, cache, faults)


def _read_static(conn: Connection, targets: Sequence[Target], cache: SourceCache,
                 faults: dict[tuple[str, str], BaseException]) -> None:
    """Static properties once per (via, static key value), from one representative object per value."""
    representative: dict[tuple[str, str], tuple[Related, Any]] = {}
    for controller, state in targets:
        for r in controller.related:
            ref = state.props.get(r.via)
            if not r.static or ref is None or (state.ref.moid, controller.name) in faults:
                continue
            key = (r.via, str(state.props.get(r.static_key or "")))
            with cache.lock:
                if key not in cache.shared:
                    representative.setdefault(key, (r, ref))
    by_type: dict[str, list[tuple[tuple[str, str], Related, Any]]] = {}
    for key, (r, ref) in representative.items():
        by_type.setdefault(r.type, []).append((key, r, ref))
    for entries in by_type.values():
        names = list(dict.fromkeys(p for _, r, _ in entries for p in r.static))
        try:
            fetched = inventory.fetch_objects(conn, [ref for _, _, ref in entries], names)
        except Exception as exc:  # noqa: BLE001
            keys = {key for key, _, _ in entries}
            for controller, state in targets:
                for r in controller.related:
                    if (r.via, str(state.props.get(r.static_key or ""))) in keys:
                        faults[(state.ref.moid, controller.name)] = exc
            continue
        with cache.lock:
            for key, _, ref in entries:
                cache.shared[key] = Shared(key[1], dict(fetched.get(ref._moId, {})))
    for controller, state in targets:
        for r in controller.related:
            related = state.related.get(r.via)
            if r.static and related is not None:
                with cache.lock:
                    related.shared = cache.shared.get((r.via, str(state.props.get(r.static_key or ""))))


def _read_polled(conn: Connection, targets: Sequence[Target], cache: SourceCache, fresh: bool, now: dt.datetime,
                 faults: dict[tuple[str, str], BaseException], desired: Desired) -> None:
    """Due polled sources, batched per object (one esxcli executer for all of a host's commands) and read for
    several objects at once (at most `cache.poll_concurrency`, shared with other readers of the cache)."""
    due: dict[str, list[tuple[Controller, ObjectState, Polled]]] = {}
    for controller, state in targets:
        for source in controller.polled:
            key = (state.ref.moid, source.name)
            if (state.ref.moid, controller.name) in faults:
                continue
            if not fresh and not cache.due(state.ref.moid, source, now):
                with cache.lock:
                    state.polled[source.name] = cache.polled[key]
                continue
            due.setdefault(state.ref.moid, []).append((controller, state, source))
    if not due:
        return
    batches = list(due.values())
    workers = min(len(batches), max(1, cache.poll_concurrency))
    if workers == 1:
        results = [_read_batch(conn, batch, cache, desired) for batch in batches]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vsr-poll") as pool:
            results = list(pool.map(lambda b: _read_batch(conn, b, cache, desired), batches))
    for batch, values in zip(batches, results):
        for controller, state, source in batch:
            value = values[source.name]
            if isinstance(value, BaseException):
                faults.setdefault((state.ref.moid, controller.name), value)
                continue
            state.polled[source.name] = value
            with cache.lock:
                cache.polled[(state.ref.moid, source.name)] = value


def _read_batch(conn: Connection, batch: list[tuple[Controller, ObjectState, Polled]],
                cache: SourceCache, desired: Desired) -> dict[str, PolledValue | BaseException]:
    """One object's due sources (each read once even when several controllers declare it): {name: read or
    the exception that source raised}."""
    out: dict[str, PolledValue | BaseException] = {}
    sources_by_name = {source.name: (controller, state, source) for controller, state, source in batch}
    with cache.poll_slots:
        commands = [s.esxcli for _, _, s in sources_by_name.values() if s.esxcli is not None]
        esxcli_values: dict[esxcli.Command, Any] = {}
        if commands:
            state = next(iter(sources_by_name.values()))[1]
            esxcli_values = esxcli.Client(conn).run_many(state.mo, commands, name=state.ref.name)
        for name, (controller, state, source) in sources_by_name.items():
            if source.esxcli is not None:
                value = esxcli_values[source.esxcli]
                out[name] = value if isinstance(value, BaseException) else PolledValue(value, now_utc())
                continue
            try:
                if source.reader is not None:
                    wanted = desired.get(state.ref.moid, {}).get(controller.name, {})
                    out[name] = PolledValue(source.reader(conn, state, wanted), now_utc())
                    continue
                ref = state.props.get(source.via)
                out[name] = PolledValue(None if ref is None else conn.call(getattr(ref, source.method)), now_utc())
            except Exception as exc:  # noqa: BLE001 - this object's source only
                out[name] = exc
    return out
