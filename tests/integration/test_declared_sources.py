"""Declared sources on the simulator: lockdown exception users are a polled source (a method, not a property).
The plan says when they were read; after vsr's own write the read-back reads them again (else the change could
not be `applied`)."""

from __future__ import annotations

import datetime as dt

import pytest

from harness import Workspace, host

pytestmark = [pytest.mark.integration]

ESX = "localhost.localdomain"
ALL = 'selector: {hosts: ["*"]}\n'


def test_polled_exception_users_carry_their_read_time_and_are_reread_after_the_write(sim_factory, tmp_path,
                                                                                    capsys):
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    ws.policy("users", ALL + "lockdown: {exceptionUsers: [svc-backup]}")
    before = dt.datetime.now(dt.timezone.utc)
    plan = ws.vsr(capsys, "plan")
    (change,) = plan.changes(name=ESX, path="lockdown.exceptionUsers")
    read_at = dt.datetime.fromisoformat(change["readAt"].replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=1) <= read_at <= dt.datetime.now(dt.timezone.utc)
    assert change["current"] == [] and change["desired"] == ["svc-backup"]

    run = ws.vsr(capsys, "apply")
    (applied,) = run.changes(name=ESX, path="lockdown.exceptionUsers")
    assert applied["outcome"] == "applied", applied
    access = host(esx.connect(), ESX).configManager.hostAccessManager
    assert sorted(access.QueryLockdownExceptions() or []) == ["svc-backup"]
