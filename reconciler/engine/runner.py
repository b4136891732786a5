"""One pass over every vCenter named by the specs: load, connect, plan, optionally apply, record events.

`run_once` does it in one go; `load_pass` gives the phases to `vsr apply`, which asks for consent between plan
and apply. Used by `vsr plan`, `vsr apply` and `vsr report`; the daemon reuses the same pieces per object. A spec
error, a vCenter that cannot be reached or an object that faults is reported and the rest goes on."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from reconciler.api import load_specs
from reconciler.api.document import Document
from reconciler.api.issues import SpecIssue
from reconciler.controllers.contract import ConnectionFacts
from reconciler.engine import executor, exitcodes, planner, recording, rolling, writeahead
from reconciler.engine.policies import CompiledSpecs, compile_documents, policies_for
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.events import model as ev
from reconciler.events.journal import Journal, JournalError
from reconciler.vsphere.connection import Connection
from reconciler.vsphere.faults import VsphereError, describe
from reconciler.vsphere.settings import ConnectionSettings, SettingsError, settings_from_cli, settings_from_spec

log = structlog.get_logger("vsr")

ADHOC = "default"


@dataclass
class CliConnection:
    """Ad-hoc connection options (`--server`, `--username`, `--password-file`, `--insecure`, `--ca-file`,
    `--thumbprint`; the last two also from VSR_CA_FILE and VSR_THUMBPRINT)."""

    server: str | None = None
    username: str | None = None
    password_file: str | None = None
    insecure: bool = False
    ca_file: str | None = None
    thumbprint: str | None = None

    def given(self, environ: Mapping[str, str]) -> bool:
        return bool(self.server or environ.get("VSR_SERVER"))


@dataclass
class RunResult:
    plans: list[VCenterPlan] = field(default_factory=list)
    spec_issues: list[SpecIssue] = field(default_factory=list)  # errors and warnings
    connection_errors: list[str] = field(default_factory=list)
    specs: CompiledSpecs | None = None
    documents: list[Document] = field(default_factory=list)  # the valid ones
    journal_errors: list[str] = field(default_factory=list)  # the journal could not be written: writes stopped

    @property
    def spec_errors(self) -> list[SpecIssue]:
        return [i for i in self.spec_issues if i.is_error]

    def exit_code(self, strict: bool = False) -> int:
        errors = bool(self.spec_errors or self.connection_errors or self.journal_errors
                      or any(p.plan.problems for p in self.plans))
        return exitcodes.exit_code(errors, (c for p in self.plans for c in p.plan.changes), strict)


def connection_settings(specs: CompiledSpecs, cli: CliConnection | None,
                        environ: Mapping[str, str] = os.environ) -> tuple[list[ConnectionSettings], list[str]]:
    """Settings for every connection: the VCenter documents, or one ad-hoc connection from the CLI/env."""
    if cli is not None and cli.given(environ):
        only = next(iter(specs.vcenters), ADHOC) if len(specs.vcenters) == 1 else ADHOC
        try:
            return [settings_from_cli(cli.server, cli.username, cli.password_file, cli.insecure, environ,
                                      name=only, ca_file=cli.ca_file or environ.get("VSR_CA_FILE") or None,
                                      thumbprint=cli.thumbprint or environ.get("VSR_THUMBPRINT") or None)], []
        except SettingsError as exc:
            return [], [str(exc)]
    out: list[ConnectionSettings] = []
    errors: list[str] = []
    for name, doc in sorted(specs.vcenters.items()):
        try:
            out.append(settings_from_spec(name, doc.model.spec, environ))
        except SettingsError as exc:
            errors.append(f"{doc.source.file}:{doc.source.line}: {exc}")
    if not out and not errors:
        errors.append("no connection: give a VCenter document or --server (VSR_SERVER)")
    return out, errors


def facts_of(conn: Connection, name: str) -> ConnectionFacts:
    return ConnectionFacts(vcenter=name, is_vcenter=conn.is_vcenter, username=conn.username,
                           user_label=conn.settings.user_label,
                           local_address=conn.local_address)


class Pass:
    """One pass in phases, so that a caller can ask for consent between planning and applying the same plan:
    `load_pass` (specs and connection settings; no network), `plan` (connect and plan each vCenter; the
    connections stay open), `apply` (exactly that plan, on the same connections), `close` (record the events,
    close the connections). Use it as a context manager."""

    def __init__(self, result: RunResult, settings: list[ConnectionSettings], *, adhoc: bool,
                 journal: Journal | None, today: dt.date, events: list[ev.Event]) -> None:
        self.result = result
        self.settings = settings
        self.adhoc = adhoc
        self.journal = journal
        self.today = today
        self.events = events
        self.planned: list[tuple[ConnectionSettings, Connection, VCenterPlan]] = []

    def plan(self, vcenters: Collection[str] | None = None) -> RunResult:
        """Connect to every vCenter (only those named in `vcenters` when given) and plan it."""
        specs = self.result.specs
        assert specs is not None
        for setting in self.settings:
            if vcenters is not None and setting.name not in vcenters:
                continue
            policies = specs.policies if self.adhoc else policies_for(specs, setting.name)
            try:
                conn = Connection(setting).connect()
            except (VsphereError, OSError) as exc:
                self.result.connection_errors.append(f"{setting.name}: {exc}")
                continue
            try:
                remediated = remediation_times(self.journal, setting.name) if self.journal is not None else {}
                vplan = planner.plan_vcenter(conn, facts_of(conn, setting.name), policies, specs.waivers,
                                             self.today, remediated=remediated)
                self.events += recording.detection_events(vplan.plan.changes)
                rolling.annotate(conn, vplan)  # the rolling maintenance pre-check, shown in the plan
            except Exception as exc:  # noqa: BLE001 - one vCenter's failure is reported; the others go on
                self._failed(setting, exc)
                conn.close()
                continue
            self.result.plans.append(vplan)
            self.planned.append((setting, conn, vplan))
        return self.result

    def apply(self, concurrency: int = 8, on_progress: Callable[[str, int, int], None] | None = None) -> RunResult:
        """Apply the actionable changes of the plans made by `plan`, on the same connections. Write-ahead: what
        was seen is on disk, and open intents of an interrupted run are settled, before anything changes; a
        journal that cannot be written stops every write."""
        writer = writeahead.JournalWriter(self.journal) if self.journal is not None else None
        for setting, conn, vplan in self.planned:
            if writer is not None and self.journal is not None:
                self.events = _record_before_apply(writer, self.journal, vplan, self.events, self.result)
            if self.result.journal_errors:
                continue
            try:
                executor.apply_plan(conn, vplan, concurrency=concurrency, today=self.today,
                                    on_object_done=_progress(setting.name, vplan, on_progress), journal=writer,
                                    rolling_windows=True)
                if writer is None:
                    self.events += recording.outcome_events(vplan.plan.changes)
                elif writer.error and not self.result.journal_errors:
                    self.result.journal_errors.append(f"{writer.error}; writes to vSphere stopped")
            except Exception as exc:  # noqa: BLE001 - one vCenter's failure is reported; the others go on
                self._failed(setting, exc)
                self.result.plans.remove(vplan)
        return self.result

    def _failed(self, setting: ConnectionSettings, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, (VsphereError, OSError)) else describe(exc)
        log.error("pass over a vCenter failed", vcenter=setting.name, error=message)
        self.result.connection_errors.append(f"{setting.name}: {message}")

    def close(self) -> None:
        for _, conn, _ in self.planned:
            conn.close()
        self.planned = []
        if self.journal is not None and self.events:
            try:
                self.journal.record_many(self.events)
            except JournalError as exc:
                if not self.result.journal_errors:
                    self.result.journal_errors.append(str(exc))
        self.events = []

    def __enter__(self) -> Pass:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _progress(vcenter: str, vplan: VCenterPlan,
              on_progress: Callable[[str, int, int], None] | None) -> Callable[[PlannedObject], None]:
    total = sum(1 for po in vplan.objects if any(c.actionable for c in po.changes))
    done = [0]

    def progress(_: PlannedObject) -> None:
        done[0] += 1
        if on_progress is not None:
            on_progress(vcenter, done[0], total)
    return progress


def _record_before_apply(writer: writeahead.JournalWriter, journal: Journal, vplan: VCenterPlan,
                         events: list[ev.Event], result: RunResult) -> list[ev.Event]:
    """Record the pass's events so far and settle open intents of an interrupted run (verified against the
    fresh plan); a journal that cannot be written stops the apply. Returns the events still to record."""
    if result.journal_errors:
        return events
    try:
        writer.record(events)
        verdicts = writeahead.recover(journal, vplan)
    except JournalError as exc:
        result.journal_errors.append(f"{exc}; nothing was written to vSphere")
        return []
    if verdicts:
        vplan.plan.notes.append(writeahead.summary(verdicts))
    return []


def load_pass(paths: Iterable[str | os.PathLike[str]], *, cli: CliConnection | None = None,
              journal: Journal | None = None, today: dt.date | None = None,
              environ: Mapping[str, str] = os.environ) -> Pass:
    """Load the specs and the connection settings; nothing is connected yet."""
    today = today or dt.date.today()
    loaded = load_specs([Path(p) for p in paths], today=today)
    result = RunResult(spec_issues=list(loaded.errors) + list(loaded.warnings))
    specs = compile_documents(loaded.documents, today)
    result.specs = specs
    result.documents = list(loaded.documents)
    settings, errors = connection_settings(specs, cli, environ)
    result.connection_errors.extend(errors)
    events: list[ev.Event] = [recording.spec_event(i) for i in loaded.errors]
    events += [recording.expired_event(w) for w in specs.expired]
    return Pass(result, settings, adhoc=bool(cli and cli.given(environ)), journal=journal, today=today,
                events=events)


def run_once(paths: Iterable[str | os.PathLike[str]], *, apply: bool = False, cli: CliConnection | None = None,
             journal: Journal | None = None, concurrency: int = 8, today: dt.date | None = None,
             on_progress: Callable[[str, int, int], None] | None = None,
             environ: Mapping[str, str] = os.environ) -> RunResult:
    """load, plan and (with `apply`) apply in one go, without asking."""
    with load_pass(paths, cli=cli, journal=journal, today=today, environ=environ) as one:
        one.plan()
        if apply:
            one.apply(concurrency, on_progress)
    return one.result


def remediation_times(journal: Journal, vcenter: str) -> dict[tuple[str, tuple[str, ...]], dt.datetime]:
    """When vsr last changed each VM field (DriftRemediated events), for pending-power-cycle reporting."""
    out: dict[tuple[str, tuple[str, ...]], dt.datetime] = {}
    for stored in journal.query(reason=ev.DRIFT_REMEDIATED):
        ref = stored.object
        if ref.vcenter != vcenter or ref.type != "VirtualMachine" or not stored.path:
            continue
        root, _, rest = stored.path.partition(".")
        path = (root, rest) if rest else (root,)
        key = (ref.moid, path)
        if key not in out or stored.last_seen > out[key]:
            out[key] = stored.last_seen
    return out
