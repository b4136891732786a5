"""Write-ahead intents in the journal: open, close, stay open on unknown, survive pruning, read-only access."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from reconciler.events import Event, Journal, JournalError, ObjectRef

HOST = ObjectRef("HostSystem", "host-1", "esx1", "lab")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def intent(i: str, path: str = "services.TSM-SSH.running") -> Event:
    return Event(type="Normal", reason="RemediationStarted", object=HOST, path=path,
                 message=f"intent {i}: {path}: true -> false", current=True, desired=False, intent=i)


def outcome(i: str, reason: str = "DriftRemediated", path: str = "services.TSM-SSH.running") -> Event:
    return Event(type="Normal" if reason == "DriftRemediated" else "Warning", reason=reason, object=HOST,
                 path=path, message=f"{path}: true -> false", intent=i)


def test_open_intents_are_listed_until_their_outcome_closes_them(tmp_path):
    with Journal(tmp_path / "j.db") as j:
        j.open_intents([(intent("a"), ""), (intent("b", "services.TSM-SSH.policy"), "")])
        assert [i.id for i in j.intents(vcenter="lab")] == ["a", "b"]
        assert j.intents(vcenter="other") == []
        j.record_outcomes([outcome("a")], {"a": "applied"})
        assert [i.id for i in j.intents()] == ["b"]
        closed = {i.id: i for i in j.intents(open_only=False)}
        assert closed["a"].outcome == "applied" and closed["a"].closed is not None
        assert closed["b"].event.desired is False and closed["b"].object == HOST


def test_intents_are_never_aggregated_but_outcomes_are(tmp_path):
    with Journal(tmp_path / "j.db") as j:
        for i in ("a", "b"):
            j.open_intents([(intent(i), "")])
            j.record_outcomes([outcome(i)], {i: "applied"})
        assert len(j.query(reason="RemediationStarted")) == 2
        (remediated,) = j.query(reason="DriftRemediated")
        assert remediated.count == 2 and remediated.intent == "b"   # the latest intent it settled


def test_an_unknown_outcome_leaves_the_intent_open(tmp_path):
    with Journal(tmp_path / "j.db") as j:
        j.open_intents([(intent("a"), "")])
        j.record_outcomes([outcome("a", "RemediationUnverified")], {})
        assert [i.id for i in j.intents(object="host-1")] == ["a"]


def test_prune_keeps_the_event_of_an_open_intent(tmp_path):
    with Journal(tmp_path / "j.db") as j:
        j.open_intents([(intent("open"), "")], at=T0)
        j.open_intents([(intent("closed", "x"), "")], at=T0)
        j.record_outcomes([outcome("closed", path="x")], {"closed": "applied"}, at=T0)
        j.prune(T0 + timedelta(days=1))
        assert [i.id for i in j.intents(open_only=False)] == ["open"]


def test_schema_1_journal_is_migrated(tmp_path):
    db = sqlite3.connect(tmp_path / "j.db")
    from reconciler.events.journal import _SCHEMA_V1, _statements
    for statement in _statements(_SCHEMA_V1):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Journal(tmp_path / "j.db") as j:
        assert j.schema_version == 2
        j.open_intents([(intent("a"), "")])
        assert [i.id for i in j.intents()] == ["a"]


def test_read_only_journal_reads_and_refuses_writes_in_one_line(tmp_path):
    with Journal(tmp_path / "j.db") as j:
        j.record(outcome("a"))
    with Journal(tmp_path / "j.db", readonly=True) as ro:
        assert len(ro.query()) == 1
        with pytest.raises(JournalError, match="open read-only"):
            ro.record(outcome("b"))


def test_a_directory_in_place_of_the_journal_is_one_error(tmp_path):
    (tmp_path / "j.db").mkdir()
    with pytest.raises(JournalError, match="is a directory, not a journal file"):
        Journal(tmp_path / "j.db")
