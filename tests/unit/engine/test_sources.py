"""Declared sources: the property-spec builder, polled sources read per object when due and spread over their
interval, re-read when fresh, and faults kept per object and controller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from pyVmomi import vim

from reconciler import controllers as registry
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Polled, PolledValue, Related
from reconciler.engine import sources
from reconciler.events.model import ObjectRef

T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


class Conn:
    """The one call a polled read makes: `conn.call(fn)` (the real Connection adds retries around it)."""

    def __init__(self) -> None:
        self.calls = 0

    def call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        return fn(*args, **kw)


class Checker:
    """Stands for a host's manager object with a query method (what esxcli or a file endpoint will be)."""

    def __init__(self, moid: str, answers: list[Any]) -> None:
        self._moId = moid
        self.answers = answers

    def Query(self) -> Any:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Polling(Controller):
    name = "pollingTest"
    order = 999
    spec_key = "x"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ("config.x",)
    polled: ClassVar[tuple[Polled, ...]] = (Polled("checked", via="configManager.checker", method="Query",
                                                   interval=600),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        return []

    def apply(self, conn: Any, state: ObjectState, diffs: list[FieldDiff], desired: Mapping[FieldPath, Any]) -> None:
        raise AssertionError("not applied in these tests")


def host(moid: str, checker: Checker | None) -> ObjectState:
    return ObjectState(ObjectRef("HostSystem", moid, moid, "lab"), {"configManager.checker": checker})


def test_property_specs_hold_the_engines_paths_and_every_declared_reference():
    specs = sources.property_specs(registry.ALL)
    hosts = specs[vim.HostSystem]
    assert hosts[0] == "runtime.connectionState"
    assert {"configManager.advancedOption", "config.product.build", "configManager.hostAccessManager",
            "config.lockdownMode"} <= set(hosts)
    assert len(hosts) == len(set(hosts))
    assert sources.property_specs(registry.ALL, with_name=True)[vim.VirtualMachine][:3] == [
        "name", "runtime.powerState", "config.template"]


def test_related_declarations_merge_by_reference():
    merged = sources.related_declarations(registry.ALL)
    assert merged["configManager.advancedOption"] == Related(
        "configManager.advancedOption", "OptionManager", ("setting",), ("supportedOption",), "config.product.build")
    with pytest.raises(ValueError, match="static_key"):
        Related("a", "B", ("c",), static=("d",))


def test_polled_source_read_once_then_again_only_when_due():
    conn, cache, checker = Conn(), sources.SourceCache(), Checker("chk-1", [["a"], ["a", "b"]])
    state = host("host-1", checker)
    assert sources.read(conn, [(Polling(), state)], cache, now=T0) == {}
    assert state.polled["checked"].value == ["a"] and conn.calls == 1
    read_at = state.polled["checked"].read_at
    due = cache.next_due("host-1", Polling.polled)
    assert due is not None and dt.timedelta(seconds=300) <= due - read_at <= dt.timedelta(seconds=900)

    again = host("host-1", checker)
    sources.read(conn, [(Polling(), again)], cache, now=read_at + dt.timedelta(seconds=299))
    assert conn.calls == 1 and again.polled["checked"].value == ["a"]  # not due: the cached read, with its time
    assert again.polled["checked"].read_at == read_at
    sources.read(conn, [(Polling(), again)], cache, now=due)
    assert conn.calls == 2 and again.polled["checked"].value == ["a", "b"]


def test_fresh_read_after_a_write_ignores_the_interval():
    conn, cache = Conn(), sources.SourceCache()
    checker = Checker("chk-1", [["a"], ["z"]])
    sources.read(conn, [(Polling(), host("host-1", checker))], cache, now=T0)
    state = host("host-1", checker)
    sources.read(conn, [(Polling(), state)], cache, fresh=True, now=T0 + dt.timedelta(seconds=1))
    assert conn.calls == 2 and state.polled["checked"].value == ["z"]
    assert cache.polled[("host-1", "checked")].value == ["z"]


def test_a_failed_read_faults_that_object_and_controller_only():
    conn, cache = Conn(), sources.SourceCache()
    bad, good = host("host-1", Checker("c1", [RuntimeError("boom")])), host("host-2", Checker("c2", [["ok"]]))
    faults = sources.read(conn, [(Polling(), bad), (Polling(), good)], cache, now=T0)
    assert list(faults) == [("host-1", "pollingTest")] and str(faults[("host-1", "pollingTest")]) == "boom"
    assert "checked" not in bad.polled and good.polled["checked"].value == ["ok"]


def test_no_reference_reads_none_without_a_call():
    conn, state = Conn(), host("host-1", None)
    sources.read(conn, [(Polling(), state)], sources.SourceCache(), now=T0)
    assert conn.calls == 0 and state.polled["checked"].value is None


def test_reads_of_many_objects_spread_over_the_interval():
    """Objects read at the same moment fall due at points spread over the whole interval, not all at once."""
    interval = 600.0
    dues = sorted((sources.next_read(T0, interval, f"host-{i}", "checked") - T0).total_seconds() for i in range(200))
    assert all(interval / 2 <= d < interval * 1.5 for d in dues)
    buckets = {int((d - interval / 2) // (interval / 10)) for d in dues}
    assert buckets == set(range(10))  # every tenth of the interval gets some


def test_polled_time_is_in_the_plan():
    from reconciler.engine import planner

    state = host("host-1", None)
    state.polled["checked"] = PolledValue(["a"], T0)
    assert planner.polled_at(state, Polling()) == T0
    assert planner.polled_at(state, registry.ALL[0]) is None


def test_poll_interval_override_replaces_every_sources_own():
    conn, checker = Conn(), Checker("chk-1", [["a"], ["b"]])
    cache = sources.SourceCache(poll_interval=2.0)
    state = host("host-1", checker)
    sources.read(conn, [(Polling(), state)], cache, now=T0)
    read_at = state.polled["checked"].read_at
    due = cache.next_due("host-1", Polling.polled)
    assert due is not None and dt.timedelta(seconds=1) <= due - read_at <= dt.timedelta(seconds=3)


def test_polled_sources_of_many_objects_are_read_concurrently_and_kept_per_object():
    conn, cache = Conn(), sources.SourceCache(poll_concurrency=3)
    states = [host(f"host-{i}", Checker(f"chk-{i}", [[f"v{i}"]])) for i in range(7)]
    assert sources.read(conn, [(Polling(), s) for s in states], cache, now=T0) == {}
    assert [s.polled["checked"].value for s in states] == [[f"v{i}"] for i in range(7)] and conn.calls == 7


def test_a_polled_declaration_is_a_method_or_an_esxcli_command():
    from reconciler.vsphere.esxcli import Command

    assert Polled("e", esxcli=Command("system tls server", "get")).esxcli is not None
    with pytest.raises(ValueError, match="either via and method, or esxcli"):
        Polled("bad", via="configManager.x", method="Q", esxcli=Command("system tls server", "get"))
    with pytest.raises(ValueError):
        Polled("none")
