import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from reconciler.events import Event, Journal, JournalError, JournalMissing, ObjectRef, SCHEMA_VERSION

ESX1 = ObjectRef("HostSystem", "host-21", "esx-01", "lab")
ESX2 = ObjectRef("HostSystem", "host-34", "esx-02", "lab")
VM = ObjectRef("VirtualMachine", "vm-7", "web-01", "lab")


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += timedelta(**kw)


def drift(obj=ESX1, path="services.TSM-SSH.running", message="running is true, want false", **kw):
    fields = dict(policy="esxi-baseline", source="specs/host.yaml:12", current=True, desired=False)
    fields.update(kw)
    return Event("Warning", "DriftDetected", obj, message, path=path, **fields)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def journal(tmp_path, clock):
    with Journal(tmp_path / "state" / "journal.db", clock=clock) as j:
        yield j


def test_wal_mode_full_sync_and_schema_version(journal):
    assert journal.journal_mode == "wal"
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL
    assert journal.schema_version == SCHEMA_VERSION == 2
    assert journal.path.exists()                                          # parent directory created


def test_record_returns_stored_event(journal, clock):
    s = journal.record(drift())
    assert (s.count, s.first_seen, s.last_seen) == (1, clock.now, clock.now)
    assert s.reason == "DriftDetected" and s.object == ESX1 and s.current is True and s.desired is False


def test_dedup_counts_and_last_seen(journal, clock):
    first = journal.record(drift())
    clock.advance(minutes=5)
    again = journal.record(drift())
    assert again.id == first.id
    assert again.count == 2
    assert again.first_seen == first.first_seen and again.last_seen == clock.now
    assert again.seq > first.seq
    assert len(journal) == 1


@pytest.mark.parametrize("other", [
    drift(obj=ESX2), drift(path="services.TSM.running"), drift(message="other message"),
    Event("Normal", "DriftRemediated", ESX1, "running is true, want false", path="services.TSM-SSH.running"),
    drift(obj=ObjectRef("HostSystem", "host-21", "esx-01", "other-vcenter")),
])
def test_dedup_key_parts(journal, other):
    journal.record(drift())
    journal.record(other)
    assert len(journal) == 2


def test_repeat_updates_latest_fields_but_not_key(journal):
    journal.record(drift())
    renamed = ObjectRef("HostSystem", "host-21", "esx-01.renamed", "lab")
    s = journal.record(Event("Warning", "DriftDetected", renamed, "running is true, want false",
                             path="services.TSM-SSH.running", policy="newer-policy"))
    assert s.count == 2 and s.object.name == "esx-01.renamed" and s.policy == "newer-policy"


def test_query_filters(journal, clock):
    journal.record(drift())
    clock.advance(hours=1)
    journal.record(drift(obj=ESX2))
    clock.advance(hours=1)
    journal.record(Event("Normal", "DriftRemediated", VM, "fixed", path="advancedSettings.isolation.tools.copy.disable"))
    assert [e.object.name for e in journal.query()] == ["esx-01", "esx-02", "web-01"]
    assert [e.object.name for e in journal.query(since=timedelta(minutes=90))] == ["esx-02", "web-01"]
    assert [e.object.name for e in journal.query(since=clock.now - timedelta(minutes=1))] == ["web-01"]
    assert [e.object.name for e in journal.query(object="esx-*")] == ["esx-01", "esx-02"]
    assert [e.object.name for e in journal.query(object="ESX-02")] == ["esx-02"]          # case-insensitive
    assert [e.object.name for e in journal.query(object="vm-7")] == ["web-01"]            # by moid
    assert [e.object.name for e in journal.query(reason="DriftRemediated")] == ["web-01"]
    assert [e.object.name for e in journal.query(reason=["DriftDetected"], object="*01")] == ["esx-01"]
    assert [e.object.name for e in journal.query(type="Normal")] == ["web-01"]
    assert [e.object.name for e in journal.query(limit=2)] == ["esx-02", "web-01"]        # most recent, in order
    assert journal.query(vcenter="nope") == []


def test_recount_moves_event_to_the_end(journal, clock):
    journal.record(drift())
    clock.advance(minutes=1)
    journal.record(drift(obj=ESX2))
    clock.advance(minutes=1)
    journal.record(drift())
    assert [e.object.name for e in journal.query()] == ["esx-02", "esx-01"]
    assert [e.object.name for e in journal.query(since=timedelta(seconds=30))] == ["esx-01"]


def test_after_seq_returns_changes_only(journal):
    a = journal.record(drift())
    journal.record(drift(obj=ESX2))
    seq = journal.last_seq()
    assert journal.query(after_seq=seq) == []
    again = journal.record(drift())
    changed = journal.query(after_seq=seq)
    assert [(e.id, e.count) for e in changed] == [(a.id, 2)] and again.seq == changed[0].seq


def test_values_roundtrip_as_json(journal):
    s = journal.record(drift(message="allowed IPs differ", current=["10.0.0.0/8"], desired={"all": False, "ips": []}))
    got = journal.query()[0]
    assert got.current == ["10.0.0.0/8"] and got.desired == {"all": False, "ips": []}
    assert json.loads(json.dumps(s.to_dict()))["desired"] == {"all": False, "ips": []}


def test_to_dict_stable_field_names(journal):
    d = journal.record(drift()).to_dict()
    assert list(d) == ["type", "reason", "object", "path", "message", "policy", "source", "current", "desired",
                       "count", "firstSeen", "lastSeen"]
    assert d["object"] == {"type": "HostSystem", "moid": "host-21", "name": "esx-01", "vcenter": "lab"}
    assert d["firstSeen"] == "2026-11-22T12:00:00.000000Z"


def test_record_many_is_one_transaction(journal):
    stored = journal.record_many([drift(), drift(obj=ESX2), drift()])
    assert [s.count for s in stored] == [1, 1, 2]
    assert len(journal) == 2


def test_prune(journal, clock):
    journal.record(drift())
    clock.advance(days=40)
    journal.record(drift(obj=ESX2))
    assert journal.prune(timedelta(days=30)) == 1
    assert [e.object.name for e in journal.query()] == ["esx-02"]


def test_missing_journal_not_created(tmp_path):
    path = tmp_path / "nope.db"
    with pytest.raises(JournalMissing):
        Journal(path, create=False)
    assert not path.exists()


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "j.db"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema version 99, newer"):
        Journal(path)


def test_not_a_database(tmp_path):
    path = tmp_path / "j.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match=str(path)):
        Journal(path)


def test_threads_share_one_journal(journal):
    import threading
    def work(n):
        for i in range(50):
            journal.record(drift(message=f"m{n}-{i % 10}"))
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = journal.query()
    assert len(events) == 40 and sum(e.count for e in events) == 200


def _writer(path, name, n, barrier):
    barrier.wait()
    with Journal(path, busy_timeout=30) as j:
        for i in range(n):
            j.record(Event("Warning", "DriftDetected", ObjectRef("HostSystem", f"{name}-{i % 5}", name, "lab"),
                           "shared message", path="p"))
            j.record(Event("Normal", "DriftRemediated", ObjectRef("HostSystem", "shared", "shared", "lab"),
                           "same key from every process", path="p"))


def test_concurrent_writers_from_two_processes(tmp_path):
    path = tmp_path / "j.db"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(path, name, 100, barrier)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Journal(path) as j:
        events = j.query()
        shared = [e for e in events if e.object.moid == "shared"]
        assert len(shared) == 1 and shared[0].count == 200           # no lost update
        per_proc = [e for e in events if e.object.moid != "shared"]
        assert len(per_proc) == 10 and sum(e.count for e in per_proc) == 200
        assert sorted({e.seq for e in events}) == sorted(e.seq for e in events)   # seq unique


CRASH_WRITER = r"""
import sys
from reconciler.events import Event, Journal, ObjectRef
j = Journal(sys.argv[1])
i = 0
while True:
    s = j.record(Event("Warning", "DriftDetected", ObjectRef("HostSystem", f"host-{i}", f"esx-{i}", "lab"),
                       "x" * 200, path="p"))
    print(s.id, flush=True)      # acknowledged
    i += 1
"""


def test_reopen_after_kill_9_keeps_every_acknowledged_event(tmp_path):
    path = tmp_path / "j.db"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    acked = []
    deadline = time.monotonic() + 30
    while len(acked) < 300 and time.monotonic() < deadline:
        acked.append(int(proc.stdout.readline()))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(acked) == 300
    assert (tmp_path / "j.db-wal").exists()                  # the crash left an uncheckpointed WAL behind
    with Journal(path) as j:
        assert j._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {e.id for e in j.query()}
        assert set(acked) <= ids
        j.record(drift())                                    # still writable
