"""One pass over every vCenter named by the specs: load, connect, plan, optionally apply, record events.

Used by `vsr plan`, `vsr apply` and `vsr report`; the daemon reuses the same pieces per object. A spec error, a
vCenter that cannot be reached or an object that faults is reported and the rest goes on."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from reconciler.api import load_specs
from reconciler.controllers.base import ConnectionFacts
from reconciler.engine import executor, planner, recording
from reconciler.engine.policies import CompiledSpecs, compile_documents, policies_for
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.events import model as ev
from reconciler.events.journal import Journal
from reconciler.vsphere.connection import Connection
from reconciler.vsphere.faults import VsphereError, describe
from reconciler.vsphere.settings import ConnectionSettings, SettingsError, settings_from_cli, settings_from_spec

log = structlog.get_logger("vsr")

ADHOC = "default"


@dataclass
class CliConnection:
    """Ad-hoc connection options (`--server`, `--username`, `--password-file`, `--insecure`)."""

    server: str | None = None
    username: str | None = None
    password_file: str | None = None
    insecure: bool = False

    def given(self, environ: Mapping[str, str]) -> bool:
        return bool(self.server or environ.get("VSR_SERVER"))


@dataclass
class RunResult:
    plans: list[VCenterPlan] = field(default_factory=list)
    spec_issues: list[Any] = field(default_factory=list)  # api.SpecIssue, errors and warnings
    connection_errors: list[str] = field(default_factory=list)
    specs: CompiledSpecs | None = None

    @property
    def spec_errors(self) -> list[Any]:
        return [i for i in self.spec_issues if i.is_error]

    def exit_code(self) -> int:
        if self.spec_errors or self.connection_errors or any(p.plan.problems for p in self.plans):
            return 1
        return 2 if any(p.plan.drift for p in self.plans) else 0


def connection_settings(specs: CompiledSpecs, cli: CliConnection | None,
                        environ: Mapping[str, str] = os.environ) -> tuple[list[ConnectionSettings], list[str]]:
    """Settings for every connection: the VCenter documents, or one ad-hoc connection from the CLI/env."""
    if cli is not None and cli.given(environ):
        only = next(iter(specs.vcenters), ADHOC) if len(specs.vcenters) == 1 else ADHOC
        try:
            return [settings_from_cli(cli.server, cli.username, cli.password_file, cli.insecure, environ,
                                      name=only)], []
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
                           local_address=conn.local_address)


def run_once(paths: Iterable[str | os.PathLike[str]], *, apply: bool = False, cli: CliConnection | None = None,
             journal: Journal | None = None, concurrency: int = 8, today: dt.date | None = None,
             on_progress: Callable[[str, int, int], None] | None = None,
             environ: Mapping[str, str] = os.environ) -> RunResult:
    today = today or dt.date.today()
    loaded = load_specs([Path(p) for p in paths], today=today)
    result = RunResult(spec_issues=list(loaded.errors) + list(loaded.warnings))
    specs = compile_documents(loaded.documents, today)
    result.specs = specs
    settings, errors = connection_settings(specs, cli, environ)
    result.connection_errors.extend(errors)
    events: list[ev.Event] = [recording.spec_event(i) for i in loaded.errors]
    events += [recording.expired_event(w) for w in specs.expired]

    for setting in settings:
        policies = policies_for(specs, setting.name) if not (cli and cli.given(environ)) else specs.policies
        try:
            conn = Connection(setting).connect()
        except (VsphereError, OSError) as exc:
            result.connection_errors.append(f"{setting.name}: {exc}")
            continue
        try:
            remediated = remediation_times(journal, setting.name) if journal is not None else {}
            vplan = planner.plan_vcenter(conn, facts_of(conn, setting.name), policies, specs.waivers, today,
                                         remediated=remediated)
            events += recording.detection_events(vplan.plan.changes)
            if apply:
                total = sum(1 for po in vplan.objects if any(c.actionable for c in po.changes))
                done = [0]

                def progress(_: PlannedObject) -> None:
                    done[0] += 1
                    if on_progress is not None:
                        on_progress(setting.name, done[0], total)

                executor.apply_plan(conn, vplan, concurrency=concurrency, on_object_done=progress, today=today)
                events += recording.outcome_events(vplan.plan.changes)
            result.plans.append(vplan)
        except Exception as exc:  # noqa: BLE001 - one vCenter's failure is reported; the others go on
            message = str(exc) if isinstance(exc, (VsphereError, OSError)) else describe(exc)
            log.error("pass over a vCenter failed", vcenter=setting.name, error=message)
            result.connection_errors.append(f"{setting.name}: {message}")
        finally:
            conn.close()
    if journal is not None and events:
        journal.record_many(events)
    return result


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
