"""Journal details the mutation check (scripts/mutation.py) showed untested: explicit times, outcome-only and
close-only writes, intent fields, read-only opening that cannot write, schema-1 and newer-schema read-only
journals, naive cutoffs, values JSON cannot encode."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from reconciler.events import Event, Journal, JournalError, ObjectRef

HOST = ObjectRef("HostSystem", "host-1", "esx1", "lab")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T1 = T0 + timedelta(hours=1)


def clock() -> datetime:
    return T0


def intent(i: str, path: str | None = "services.TSM-SSH.running") -> Event:
    return Event(type="Normal", reason="RemediationStarted", object=HOST, path=path,
                 message=f"intent {i}: {path}", current=True, desired=False, intent=i)


def outcome(i: str | None, message: str = "done") -> Event:
    return Event(type="Normal", reason="DriftRemediated", object=HOST, path="services.TSM-SSH.running",
                 message=message, intent=i)


def test_record_keeps_an_explicit_time(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        stored = j.record(outcome(None), at=T1)
        assert (stored.first_seen, stored.last_seen) == (T1, T1)
        (read,) = j.query()
        assert read.first_seen == T1


def test_an_intent_event_without_its_id_is_refused(tmp_path):
    with Journal(tmp_path / "j.db") as j:
        with pytest.raises(ValueError, match="^an intent event needs its intent id$"):
            j.open_intents([(intent(""), "")])


def test_intents_carry_subject_opened_and_closed_times(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        j.open_intents([(intent("a"), "vSwitch0"), (intent("b", None), "")], at=T0)
        j.record_outcomes([], {"a": "applied"}, at=T1)
        by_id = {i.id: i for i in j.intents(open_only=False)}
        assert (by_id["a"].subject, by_id["a"].opened, by_id["a"].closed, by_id["a"].outcome) == (
            "vSwitch0", T0, T1, "applied")
        assert (by_id["b"].subject, by_id["b"].closed, by_id["b"].outcome) == ("", None, None)
        assert [i.id for i in j.intents(object="host-1")] == ["b"]
        assert j.intents(object="host-2") == []


def test_outcomes_without_intents_to_close_are_stored(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        (stored,) = j.record_outcomes([outcome(None)], {}, at=T1)
        assert stored.first_seen == T1 and len(j) == 1
        assert j.record_outcomes([], {}) == [] and len(j) == 1


def test_read_only_journal_cannot_write_the_file(tmp_path):
    Journal(tmp_path / "j.db").close()
    with Journal(tmp_path / "j.db", readonly=True) as ro:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro._db.execute("CREATE TABLE x (a)")


def test_read_only_schema_1_journal_has_no_intents_and_newer_schema_is_refused(tmp_path):
    from reconciler.events.journal import _SCHEMA_V1, _statements
    path = tmp_path / "j.db"
    db = sqlite3.connect(path)
    for statement in _statements(_SCHEMA_V1):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Journal(path, readonly=True) as ro:
        assert ro.intents() == [] and len(ro) == 0 and ro.last_seq() == 0
    newer = tmp_path / "newer.db"
    Journal(newer).close()
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(JournalError) as err:
        Journal(newer, readonly=True)
    assert str(err.value) == (f"journal {newer} has schema version 99, newer than this vsr supports (2); "
                              "upgrade vsr")


def test_read_only_open_of_a_file_that_is_not_a_journal_names_it(tmp_path):
    path = tmp_path / "j.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError) as err:
        Journal(path, readonly=True)
    assert str(err.value) == f"journal {path}: file is not a database"


def test_a_naive_cutoff_is_utc(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        j.record(outcome(None, "old"), at=T0)
        j.record(outcome(None, "new"), at=T1)
        assert [e.message for e in j.query(since=datetime(2026, 1, 1, 0, 30))] == ["new"]
        assert j.prune(datetime(2026, 1, 1, 0, 30)) == 1
        assert [e.message for e in j.query()] == ["new"]


def test_values_json_cannot_encode_are_stored_as_text_with_sorted_keys(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        event = Event(type="Normal", reason="DriftDetected", object=HOST, path="x", message="m",
                      current={"b": 1, "a": T0}, desired=None)
        j.record(event)
        (read,) = j.query()
        assert read.current == {"a": "2026-01-01 00:00:00+00:00", "b": 1} and read.desired is None
        (row,) = j._db.execute("SELECT current FROM events").fetchall()
        assert row[0] == '{"a": "2026-01-01 00:00:00+00:00", "b": 1}'


def test_query_filters_combine_and_keep_their_parameters(tmp_path):
    other = ObjectRef("HostSystem", "host-9", "esx9", "dr")
    with Journal(tmp_path / "j.db", clock=clock) as j:
        j.record(outcome(None, "old"), at=T0)
        j.record(outcome(None, "new"), at=T1)
        j.record(Event(type="Warning", reason="RemediationFailed", object=HOST, message="failed"), at=T1)
        j.record(Event(type="Normal", reason="DriftDetected", object=other, message="elsewhere"), at=T1)
        assert [e.message for e in j.query(since=T0 + timedelta(minutes=30), object="ESX1")] == ["new", "failed"]
        assert [e.message for e in j.query(reason=["RemediationFailed", "DriftDetected"])] == ["failed", "elsewhere"]
        assert [e.message for e in j.query(vcenter="dr")] == ["elsewhere"]
        assert j.last_seq() == 4 and [e.seq for e in j.query()] == [1, 2, 3, 4]


def test_an_aware_cutoff_keeps_its_zone(tmp_path):
    plus_two = timezone(timedelta(hours=2))
    with Journal(tmp_path / "j.db", clock=clock) as j:
        j.record(outcome(None, "old"), at=T0)
        j.record(outcome(None, "new"), at=T1)
        # 02:30 at +02:00 is 00:30 UTC: only the 01:00 UTC event is newer
        assert [e.message for e in j.query(since=datetime(2026, 1, 1, 2, 30, tzinfo=plus_two))] == ["new"]


def test_an_event_without_a_path_reads_back_without_one(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        j.record(Event(type="Normal", reason="SpecLoaded", object=HOST, message="m"))
        (read,) = j.query()
        assert read.path is None


def test_checkpoint_folds_the_wal_into_the_file(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        j.record(outcome(None))
        assert (tmp_path / "j.db-wal").stat().st_size > 0
        j.checkpoint()
        assert (tmp_path / "j.db-wal").stat().st_size == 0
        assert len(j) == 1


def test_a_failed_write_rolls_back_the_whole_transaction(tmp_path):
    with Journal(tmp_path / "j.db", clock=clock) as j:
        j.open_intents([(intent("a"), "")])
        again = Event(type="Normal", reason="RemediationStarted", object=HOST, path="services.TSM-SSH.policy",
                      message="intent a again", intent="a")
        with pytest.raises(JournalError, match="cannot write: UNIQUE constraint failed"):
            j.open_intents([(intent("b"), ""), (again, "")])
        assert [i.id for i in j.intents()] == ["a"]
        assert [e.message for e in j.query()] == ["intent a: services.TSM-SSH.running"]
        j.open_intents([(intent("c"), "")])  # the journal is usable afterwards
        assert [i.id for i in j.intents()] == ["a", "c"]


def test_a_read_only_journal_can_be_read_from_another_thread(tmp_path):
    import threading
    with Journal(tmp_path / "j.db") as j:
        j.record(outcome(None))
    seen: list[int] = []
    with Journal(tmp_path / "j.db", readonly=True) as ro:
        reader = threading.Thread(target=lambda: seen.append(len(ro.query())))
        reader.start()
        reader.join(5)
    assert seen == [1]
