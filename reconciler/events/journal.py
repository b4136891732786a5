"""Durable event journal: SQLite in WAL mode, Kubernetes event aggregation, safe for several processes.

Durability: ``synchronous=FULL``. In WAL mode ``NORMAL`` survives an application crash but may lose the last
committed transactions on power loss or an OS crash, i.e. events whose ``record()`` already returned. ``FULL``
fsyncs the WAL at every commit, so an acknowledged event is on disk. Events are few (drift and changes, not
metrics); a batch can go through :meth:`Journal.record_many` in one transaction and one fsync.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction; other processes wait up to ``busy_timeout``
seconds for the lock; readers never block writers (WAL).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from reconciler.events.model import Event, ObjectRef, StoredEvent, format_time, parse_time, utcnow

SCHEMA_VERSION = 1

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    vcenter      TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_moid  TEXT NOT NULL,
    object_name  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    path         TEXT NOT NULL,          -- '' when the event is about the whole object
    message      TEXT NOT NULL,
    type         TEXT NOT NULL CHECK (type IN ('Normal', 'Warning')),
    policy       TEXT,
    source       TEXT,
    current      TEXT,                   -- JSON
    desired      TEXT,                   -- JSON
    count        INTEGER NOT NULL,
    first_seen   TEXT NOT NULL,          -- RFC 3339 UTC, fixed width
    last_seen    TEXT NOT NULL,
    seq          INTEGER NOT NULL,       -- change sequence for --follow
    UNIQUE (vcenter, object_moid, reason, path, message)
);
CREATE INDEX IF NOT EXISTS events_last_seen ON events (last_seen);
CREATE INDEX IF NOT EXISTS events_seq ON events (seq);
CREATE INDEX IF NOT EXISTS events_object_name ON events (object_name);
"""

# version -> SQL that brings version-1 to version
_MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1}

_UPSERT = """
INSERT INTO events (vcenter, object_type, object_moid, object_name, reason, path, message, type, policy, source,
                    current, desired, count, first_seen, last_seen, seq)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
ON CONFLICT (vcenter, object_moid, reason, path, message) DO UPDATE SET
    count = count + 1,
    last_seen = max(last_seen, excluded.last_seen),
    type = excluded.type, object_type = excluded.object_type, object_name = excluded.object_name,
    policy = excluded.policy, source = excluded.source, current = excluded.current, desired = excluded.desired,
    seq = excluded.seq
RETURNING *
"""


class JournalError(Exception):
    """The journal cannot be opened or used (message is safe to print)."""


class JournalMissing(JournalError, FileNotFoundError):
    """The journal file does not exist (and was opened with ``create=False``)."""


Since = timedelta | datetime | None


class Journal:
    """The event journal at ``path``. Thread-safe; several processes may open the same file."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 30.0,
                 clock: Callable[[], datetime] = utcnow):
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        if not self.path.exists():
            if not create:
                raise JournalMissing(f"journal {self.path} does not exist")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            # Switching a new file to WAL and creating the schema can meet "database is locked" without the busy
            # handler being consulted when several processes open a fresh journal at once: retry those steps.
            mode = _retry_locked(lambda: self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0], busy_timeout)
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {self.path}: cannot switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            _retry_locked(self._migrate, busy_timeout)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path}: {exc}") from None

    # -- schema ----------------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise JournalError(f"journal {self.path} has schema version {version}, newer than this vsr "
                               f"supports ({SCHEMA_VERSION}); upgrade vsr")
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]   # another process may have won
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(_MIGRATIONS[target]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {target}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    # -- writing ---------------------------------------------------------------------------------------------
    def _transaction(self) -> "_Txn":
        return _Txn(self._db, self._lock)

    def record(self, event: Event, at: datetime | None = None) -> StoredEvent:
        """Store ``event`` (or count it again if the same object/reason/path/message was seen) and return it as
        stored. When this returns, the event is durable."""
        return self.record_many([event], at)[0]

    def record_many(self, events: Iterable[Event], at: datetime | None = None) -> list[StoredEvent]:
        """Store several events in one transaction (one fsync)."""
        events = list(events)
        if not events:
            return []
        stored = []
        with self._transaction():
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            for event in events:
                seq += 1
                when = format_time(at or self._clock())
                o = event.object
                row = self._db.execute(_UPSERT, (
                    o.vcenter, o.type, o.moid, o.name, event.reason, event.path or "", event.message,
                    event.type, event.policy, event.source, _dump(event.current), _dump(event.desired),
                    when, when, seq)).fetchone()
                stored.append(_row_to_event(row))
        return stored

    def prune(self, older_than: timedelta | datetime) -> int:
        """Delete events last seen before ``older_than`` (an age or a time); returns how many."""
        cutoff = format_time(self._cutoff(older_than))
        with self._transaction():
            return self._db.execute("DELETE FROM events WHERE last_seen < ?", (cutoff,)).rowcount

    # -- reading ---------------------------------------------------------------------------------------------
    def query(self, since: Since = None, object: str | None = None, reason: str | Sequence[str] | None = None,
              limit: int | None = None, *, type: str | None = None, vcenter: str | None = None,
              after_seq: int | None = None) -> list[StoredEvent]:
        """Events last seen since ``since`` (an age like ``timedelta(minutes=10)`` or a time), about an object
        whose name or moid matches the glob ``object`` (case-insensitive), with one of the ``reason``s; oldest
        first. ``limit`` keeps the most recent ones. ``after_seq`` returns only events changed after that
        sequence number (for following the journal)."""
        where, params = [], []
        if since is not None:
            where.append("last_seen >= ?")
            params.append(format_time(self._cutoff(since)))
        if object:
            where.append("(lower(object_name) GLOB lower(?) OR object_moid GLOB ?)")
            params += [object, object]
        if reason:
            reasons = [reason] if isinstance(reason, str) else list(reason)
            where.append(f"reason IN ({', '.join('?' * len(reasons))})")
            params += reasons
        if type:
            where.append("type = ?")
            params.append(type)
        if vcenter:
            where.append("vcenter = ?")
            params.append(vcenter)
        if after_seq is not None:
            where.append("seq > ?")
            params.append(after_seq)
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        order = "seq" if after_seq is not None else "last_seen, id"
        if limit is not None:
            sql += f" ORDER BY {order.replace(',', ' DESC,')} DESC LIMIT ?"
            params.append(int(limit))
        else:
            sql += f" ORDER BY {order}"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        result = [_row_to_event(r) for r in rows]
        if limit is not None:
            result.reverse()
        return result

    def last_seq(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def _cutoff(self, since: timedelta | datetime) -> datetime:
        if isinstance(since, timedelta):
            return self._clock() - since
        return since if since.tzinfo else since.replace(tzinfo=timezone.utc)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Fold the WAL into the database file (e.g. at shutdown)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Txn:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``), holding the in-process lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock):
        self.db, self.lock = db, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, exc_type: Any, *rest: object) -> None:
        try:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.lock.release()


def _retry_locked(fn: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _row_to_event(row: sqlite3.Row) -> StoredEvent:
    event = Event(
        type=row["type"], reason=row["reason"],
        object=ObjectRef(type=row["object_type"], moid=row["object_moid"], name=row["object_name"],
                         vcenter=row["vcenter"]),
        message=row["message"], path=row["path"] or None, policy=row["policy"], source=row["source"],
        current=_load(row["current"]), desired=_load(row["desired"]))
    return StoredEvent(id=row["id"], event=event, count=row["count"], first_seen=parse_time(row["first_seen"]),
                       last_seen=parse_time(row["last_seen"]), seq=row["seq"])
