"""StatusBoard: conditions (transition times), generations, counts, vCenters, readiness, JSON."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.daemon.status import Heartbeat, StatusBoard, derive_conditions, document_digest

T0 = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)


class WallClock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


def conditions(board: StatusBoard, policy: str) -> dict[str, dict]:
    return {c["type"]: c for c in board.policy(policy)["conditions"]}


def test_new_policy_is_pending_unknown():
    board = StatusBoard(clock=WallClock())
    assert board.observe_spec("esxi", kind="HostSecurityPolicy", digest="d1", revision="abc") == 1
    conds = conditions(board, "esxi")
    assert [conds[t]["status"] for t in ("Ready", "Drifted", "Stalled")] == ["Unknown"] * 3
    assert conds["Ready"]["reason"] == "Pending"
    p = board.policy("esxi")
    assert p["specRevision"] == "abc" and p["kind"] == "HostSecurityPolicy" and p["lastReconcile"] is None


def test_observed_generation_counts_content_changes_only():
    board = StatusBoard(clock=WallClock())
    assert board.observe_spec("p", digest="d1") == 1
    assert board.observe_spec("p", digest="d1", revision="r2") == 1, "same content, new commit: same generation"
    assert board.observe_spec("p", digest="d2") == 2
    assert board.policy("p")["observedGeneration"] == 2


def test_document_digest_is_stable_and_content_sensitive():
    a = {"spec": {"services": {"TSM": {"running": False}}, "enforcement": "Enforce"}}
    b = {"spec": {"enforcement": "Enforce", "services": {"TSM": {"running": False}}}}
    assert document_digest(a) == document_digest(b)
    b["spec"]["enforcement"] = "Audit"
    assert document_digest(a) != document_digest(b)


def test_transition_time_moves_only_when_status_changes():
    clock = WallClock()
    board = StatusBoard(clock=clock)
    board.observe_spec("p", digest="d")
    clock.advance(10)
    board.record_reconcile("p", objects=3, drifted=2)
    c1 = conditions(board, "p")
    assert c1["Drifted"]["status"] == "True" and c1["Drifted"]["reason"] == "DriftDetected"
    assert c1["Drifted"]["lastTransitionTime"] == "2026-11-22T03:00:10Z"
    assert c1["Ready"]["status"] == "False" and c1["Ready"]["reason"] == "DriftRemaining"
    clock.advance(10)
    board.record_reconcile("p", objects=3, drifted=1)  # still drifted: message changes, time does not
    c2 = conditions(board, "p")
    assert c2["Drifted"]["lastTransitionTime"] == "2026-11-22T03:00:10Z"
    assert "1 field" in c2["Drifted"]["message"]
    clock.advance(10)
    board.record_reconcile("p", objects=3)
    c3 = conditions(board, "p")
    assert c3["Drifted"]["status"] == "False" and c3["Drifted"]["lastTransitionTime"] == "2026-11-22T03:00:30Z"
    assert c3["Ready"] == {**c3["Ready"], "status": "True", "reason": "Converged"}
    assert board.policy("p")["lastReconcile"] == "2026-11-22T03:00:30Z"


@pytest.mark.parametrize(
    "counts,kw,ready,drifted,stalled",
    [
        ({"objects": 5}, {}, ("True", "Converged"), ("False", "InSync"), ("False", "NoErrors")),
        ({"objects": 5, "drifted": 2}, {"audit": True}, ("False", "AuditDrift"), ("True", "DriftDetected"),
         ("False", "NoErrors")),
        ({"objects": 5, "drifted": 1, "flapping": 1}, {}, ("False", "DriftFlapping"), ("True", "DriftDetected"),
         ("True", "DriftFlapping")),
        ({"objects": 5, "errors": 2}, {}, ("False", "RemediationFailed"), ("False", "InSync"),
         ("True", "RemediationFailed")),
        ({"objects": 5}, {"suspended": True}, ("False", "Suspended"), ("False", "InSync"), ("False", "NoErrors")),
        ({"objects": 5, "waived": 4}, {}, ("True", "Converged"), ("False", "InSync"), ("False", "NoErrors")),
    ],
)  # fmt: skip
def test_derive_conditions(counts, kw, ready, drifted, stalled):
    got = {t: (s, r) for t, s, r, _ in derive_conditions(counts, **kw)}
    assert got == {"Ready": ready, "Drifted": drifted, "Stalled": stalled}


def test_set_condition_by_hand_and_validation():
    board = StatusBoard(clock=WallClock())
    board.set_condition("p", "Stalled", True, "RemediationBlocked", "guard")
    assert conditions(board, "p")["Stalled"]["status"] == "True"
    with pytest.raises(ValueError):
        board.set_condition("p", "Stalled", "yes", "X")


def test_counts_are_reported():
    board = StatusBoard(clock=WallClock())
    board.record_reconcile("p", objects=10, drifted=2, waived=1, unsupported=3, errors=0)
    assert board.policy("p")["counts"] == {
        "objects": 10, "drifted": 2, "waived": 1, "unsupported": 3, "errors": 0, "flapping": 0,
    }  # fmt: skip


def test_retain_policies_drops_removed_ones():
    board = StatusBoard(clock=WallClock())
    for name in ("a", "b", "c"):
        board.observe_spec(name, digest=name)
    board.retain_policies(["b"])
    assert [p["name"] for p in board.to_dict()["policies"]] == ["b"]


def test_readiness_is_specs_loaded_and_loops_running_not_connectivity():
    # Readiness gates rollouts (helm --wait, StatefulSet updates, drains): a vCenter outage or a shard owning no
    # vCenter must not make the pod unready. /status still shows the connection state.
    board = StatusBoard(clock=WallClock())
    assert board.readiness() == (False, "specs not loaded yet")
    board.mark_specs_loaded()
    assert board.readiness() == (False, "vCenter loops not running")
    board.set_loops_running(True)  # a shard without vCenters: no loop, all (none) running
    assert board.readiness() == (True, "ok")
    board.set_vcenter("lab", False, error="connection refused")
    assert board.readiness() == (True, "ok") and not board.first_pass_done
    status = board.to_dict()
    assert status["ready"] is True and status["specsLoaded"] is True
    assert status["vcenters"][0]["connected"] is False and status["vcenters"][0]["lastError"] == "connection refused"
    board.set_loops_running(False)  # a loop thread died
    assert board.readiness() == (False, "vCenter loops not running")


def test_vcenter_status_keeps_last_error_and_resync_time():
    clock = WallClock()
    board = StatusBoard(clock=clock)
    board.set_vcenter("lab", False, error="connection refused")
    clock.advance(5)
    board.set_vcenter("lab", True)
    clock.advance(5)
    board.mark_full_resync("lab")
    (vc,) = board.to_dict()["vcenters"]
    assert vc == {
        "name": "lab", "connected": True, "since": "2026-11-22T03:00:05Z",
        "lastError": "connection refused", "lastFullResync": "2026-11-22T03:00:10Z", "firstPassDone": False,
    }  # fmt: skip
    board.set_vcenter_first_pass("lab", True)
    board.set_vcenter_first_pass("gone", True)  # a vCenter the board does not know: ignored
    assert [v["firstPassDone"] for v in board.to_dict()["vcenters"]] == [True]


def test_to_dict_is_json_and_a_snapshot():
    board = StatusBoard(clock=WallClock())
    board.set_spec_revision("deadbeef")
    board.observe_spec("p", digest="d")
    snap = board.to_dict()
    json.dumps(snap)
    snap["policies"][0]["counts"]["drifted"] = 99
    assert board.policy("p")["counts"]["drifted"] == 0
    assert snap["specRevision"] == "deadbeef"


def test_concurrent_updates_and_reads():
    board = StatusBoard()
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for n in range(200):
                board.record_reconcile(f"p{i}", objects=n, drifted=n % 3)
                board.set_vcenter(f"vc{i}", n % 2 == 0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(200):
                json.dumps(board.to_dict())
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert len(board.to_dict()["policies"]) == 4


def test_heartbeat():
    now = [100.0]
    hb = Heartbeat(max_age=30, clock=lambda: now[0])
    assert hb.alive()
    now[0] += 31
    assert not hb.alive()
    hb.beat()
    assert hb.alive() and hb.age() == 0


def test_policies_of_different_kinds_may_share_a_name():
    board = StatusBoard(clock=WallClock())
    board.observe_spec("baseline", kind="HostSecurityPolicy", digest="h")
    board.observe_spec("baseline", kind="VMSecurityPolicy", digest="v")
    board.record_reconcile("baseline", kind="VMSecurityPolicy", objects=9, drifted=1)
    host = board.policy("baseline", "HostSecurityPolicy")
    vm = board.policy("baseline", "VMSecurityPolicy")
    assert host["counts"]["objects"] == 0 and vm["counts"]["objects"] == 9
    assert [(p["kind"], p["name"]) for p in board.to_dict()["policies"]] == [
        ("HostSecurityPolicy", "baseline"), ("VMSecurityPolicy", "baseline"),
    ]  # fmt: skip
    board.retain_policies([("VMSecurityPolicy", "baseline")])
    assert board.policy("baseline", "HostSecurityPolicy") is None
    assert board.policy("baseline")["kind"] == "VMSecurityPolicy", "unambiguous without the kind"


def test_kind_may_be_omitted_when_the_name_is_unambiguous():
    board = StatusBoard(clock=WallClock())
    board.observe_spec("esxi", kind="HostSecurityPolicy", digest="d")
    board.record_reconcile("esxi", objects=2)
    assert len(board.to_dict()["policies"]) == 1
    assert board.policy("esxi")["counts"]["objects"] == 2
