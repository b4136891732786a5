"""Durable event journal: SQLite in WAL mode, Kubernetes event aggregation, safe for several processes.

Durability: ``synchronous=FULL``. In WAL mode ``NORMAL`` survives an application crash but may lose the last
committed transactions on power loss or an OS crash, i.e. events whose ``record()`` already returned. ``FULL``
fsyncs the WAL at every commit, so an acknowledged event is on disk. Events are few (drift and changes, not
metrics); a batch can go through :meth:`Journal.record_many` in one transaction and one fsync.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction; other processes wait up to ``busy_timeout``
seconds for the lock; readers never block writers (WAL).

Write-ahead intents (schema 2): before each vSphere write, :meth:`Journal.open_intents` commits one
``RemediationStarted`` event per field with a unique intent id (its message names the id, so it is never
aggregated with another) and a row in ``intents``; :meth:`Journal.record_outcomes` stores the outcome events
(which carry the intent id in their ``intent`` column) and closes the intents in the same transaction. An intent
without a closing outcome is *open*: :meth:`Journal.intents` lists them for recovery.

Every failure of SQLite (read-only file, full disk, a directory in the way) is raised as :class:`JournalError`
with a one-line message. ``Journal(path, readonly=True)`` opens the file read-only (``mode=ro``), so a journal
the process may not write can still be queried.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from reconciler.events.model import Event, ObjectRef, StoredEvent, format_time, parse_time, utcnow

SCHEMA_VERSION = 2

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

_SCHEMA_V2 = """
ALTER TABLE events ADD COLUMN intent TEXT;   -- RemediationStarted: its intent id; outcomes: the intent they close
CREATE TABLE IF NOT EXISTS intents (
    id            TEXT PRIMARY KEY,
    event_id      INTEGER NOT NULL,      -- the RemediationStarted event
    vcenter       TEXT NOT NULL,
    object_moid   TEXT NOT NULL,
    path          TEXT NOT NULL,
    subject       TEXT NOT NULL,         -- '' unless one field applies to several sub-objects
    opened        TEXT NOT NULL,
    closed        TEXT,                  -- NULL while open
    outcome       TEXT,                  -- applied, failed, notEffective, skipped (as in the plan output)
    outcome_event INTEGER                -- the event that closed it
);
CREATE INDEX IF NOT EXISTS intents_open ON intents (vcenter, closed);
"""

# version -> SQL that brings version-1 to version
_MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2}

_UPSERT = """
INSERT INTO events (vcenter, object_type, object_moid, object_name, reason, path, message, type, policy, source,
                    current, desired, count, first_seen, last_seen, seq, intent)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
ON CONFLICT (vcenter, object_moid, reason, path, message) DO UPDATE SET
    count = count + 1,
    last_seen = max(last_seen, excluded.last_seen),
    type = excluded.type, object_type = excluded.object_type, object_name = excluded.object_name,
    policy = excluded.policy, source = excluded.source, current = excluded.current, desired = excluded.desired,
    seq = excluded.seq, intent = COALESCE(excluded.intent, intent)
RETURNING *
"""


class JournalError(Exception):
    """The journal cannot be opened or used (message is safe to print)."""


class JournalMissing(JournalError, FileNotFoundError):
    """The journal file does not exist (and was opened with ``create=False``)."""


Since = timedelta | datetime | None


@dataclass(frozen=True)
class Intent:
    """A write vsr was about to make: the ``RemediationStarted`` event plus its state."""

    id: str
    event: Event
    subject: str
    opened: datetime
    closed: datetime | None = None
    outcome: str | None = None

    @property
    def object(self) -> ObjectRef:
        return self.event.object

    @property
    def path(self) -> str:
        return self.event.path or ""


def new_intent_id() -> str:
    return uuid.uuid4().hex[:16]


class Journal:
    """The event journal at ``path``. Thread-safe; several processes may open the same file."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 30.0,
                 clock: Callable[[], datetime] = utcnow, readonly: bool = False):
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self.readonly = readonly
        if not self.path.exists():
            if not create or readonly:
                raise JournalMissing(f"journal {self.path} does not exist")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise JournalError(f"journal {self.path}: cannot create its directory: "
                                   f"{exc.strerror or exc}") from None
        if self.path.is_dir():
            raise JournalError(f"journal {self.path} is a directory, not a journal file")
        if readonly:
            self._db = self._open_readonly(busy_timeout)
            return
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
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from None

    def _open_readonly(self, busy_timeout: float) -> sqlite3.Connection:
        """``mode=ro``; when SQLite cannot even create the WAL index beside a read-only file (a read-only
        directory, nobody writing), ``immutable=1`` reads the file as it is."""
        last: Exception | None = None
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            try:
                db = sqlite3.connect(f"{self.path.resolve().as_uri()}?{flags}", uri=True, timeout=busy_timeout,
                                     isolation_level=None, check_same_thread=False)
                db.row_factory = sqlite3.Row
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise JournalError(f"journal {self.path} has schema version {version}, newer than this vsr "
                                       f"supports ({SCHEMA_VERSION}); upgrade vsr")
                db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                return db
            except sqlite3.Error as exc:
                last = exc
        raise JournalError(f"journal {self.path}: {last}")

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
        if self.readonly:
            raise JournalError(f"journal {self.path} is open read-only")
        return _Txn(self._db, self._lock)

    def _write(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in one transaction; any SQLite failure becomes a one-line :class:`JournalError`."""
        try:
            with self._transaction():
                return fn()
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: cannot write: {exc}") from None

    def record(self, event: Event, at: datetime | None = None) -> StoredEvent:
        """Store ``event`` (or count it again if the same object/reason/path/message was seen) and return it as
        stored. When this returns, the event is durable."""
        return self.record_many([event], at)[0]

    def record_many(self, events: Iterable[Event], at: datetime | None = None) -> list[StoredEvent]:
        """Store several events in one transaction (one fsync)."""
        events = list(events)
        if not events:
            return []
        return self._write(lambda: self._upsert(events, at))

    def _upsert(self, events: Sequence[Event], at: datetime | None) -> list[StoredEvent]:
        stored = []
        seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        for event in events:
            seq += 1
            when = format_time(at or self._clock())
            o = event.object
            row = self._db.execute(_UPSERT, (
                o.vcenter, o.type, o.moid, o.name, event.reason, event.path or "", event.message,
                event.type, event.policy, event.source, _dump(event.current), _dump(event.desired),
                when, when, seq, event.intent)).fetchone()
            stored.append(_row_to_event(row))
        return stored

    def open_intents(self, items: Sequence[tuple[Event, str]], at: datetime | None = None) -> list[StoredEvent]:
        """Commit one intent per ``(event, subject)``: the ``RemediationStarted`` event (``event.intent`` set, a
        unique message) and its open ``intents`` row, in one transaction. Durable when this returns."""
        if any(not e.intent for e, _ in items):
            raise ValueError("an intent event needs its intent id")
        if not items:
            return []

        def write() -> list[StoredEvent]:
            stored = self._upsert([e for e, _ in items], at)
            when = format_time(at or self._clock())
            for (event, subject), row in zip(items, stored):
                self._db.execute(
                    "INSERT INTO intents (id, event_id, vcenter, object_moid, path, subject, opened) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (event.intent, row.id, event.object.vcenter, event.object.moid, event.path or "", subject, when))
            return stored
        return self._write(write)

    def record_outcomes(self, events: Iterable[Event], close: Mapping[str, str],
                        at: datetime | None = None) -> list[StoredEvent]:
        """Store outcome events and close the intents in ``close`` (intent id -> outcome) in one transaction.
        An intent is closed by the event that names it (``event.intent``), or without one."""
        events = list(events)
        if not events and not close:
            return []

        def write() -> list[StoredEvent]:
            stored = self._upsert(events, at)
            when = format_time(at or self._clock())
            by_intent = {e.event.intent: e.id for e in stored if e.event.intent}
            for intent_id, outcome in close.items():
                self._db.execute("UPDATE intents SET closed = ?, outcome = ?, outcome_event = ? "
                                 "WHERE id = ? AND closed IS NULL",
                                 (when, outcome, by_intent.get(intent_id), intent_id))
            return stored
        return self._write(write)

    def prune(self, older_than: timedelta | datetime) -> int:
        """Delete events last seen before ``older_than`` (an age or a time); returns how many. The event of an
        open intent is kept until the intent is closed; closed intents go with their event."""
        cutoff = format_time(self._cutoff(older_than))

        def write() -> int:
            n = self._db.execute("DELETE FROM events WHERE last_seen < ? AND id NOT IN "
                                 "(SELECT event_id FROM intents WHERE closed IS NULL)", (cutoff,)).rowcount
            self._db.execute("DELETE FROM intents WHERE closed IS NOT NULL AND event_id NOT IN "
                             "(SELECT id FROM events)")
            return n
        return self._write(write)

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
        rows = self._read(sql, params)
        result = [_row_to_event(r) for r in rows]
        if limit is not None:
            result.reverse()
        return result

    def intents(self, *, open_only: bool = True, vcenter: str | None = None,
                object: str | None = None) -> list[Intent]:
        """Intents (only the open ones unless ``open_only=False``), oldest first; ``object`` is a moid."""
        where, params = [], []
        if open_only:
            where.append("i.closed IS NULL")
        if vcenter is not None:
            where.append("i.vcenter = ?")
            params.append(vcenter)
        if object is not None:
            where.append("i.object_moid = ?")
            params.append(object)
        sql = ("SELECT e.*, i.id AS intent_id, i.subject AS intent_subject, i.opened AS intent_opened, "
               "i.closed AS intent_closed, i.outcome AS intent_outcome FROM intents i JOIN events e "
               "ON e.id = i.event_id" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY i.opened")
        try:
            with self._lock:
                rows = self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):   # a read-only journal of schema 1: no intents yet
                return []
            raise JournalError(f"journal {self.path}: {exc}") from None
        return [Intent(id=r["intent_id"], event=_row_to_event(r).event, subject=r["intent_subject"],
                       opened=parse_time(r["intent_opened"]),
                       closed=parse_time(r["intent_closed"]) if r["intent_closed"] else None,
                       outcome=r["intent_outcome"]) for r in rows]

    def last_seq(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(seq), 0) FROM events", [])[0][0])

    def _read(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: cannot read: {exc}") from None

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
            if exc_type is None:
                try:
                    self.db.execute("COMMIT")
                except sqlite3.Error:
                    _rollback(self.db)
                    raise
            else:
                _rollback(self.db)
        finally:
            self.lock.release()


def _rollback(db: sqlite3.Connection) -> None:
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction left (SQLite rolled it back itself)


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
        current=_load(row["current"]), desired=_load(row["desired"]),
        intent=row["intent"] if "intent" in row.keys() else None)
    return StoredEvent(id=row["id"], event=event, count=row["count"], first_seen=parse_time(row["first_seen"]),
                       last_seen=parse_time(row["last_seen"]), seq=row["seq"])
