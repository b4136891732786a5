import io
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from reconciler.cli import build_parser
from reconciler.commands import events as events_cmd
from reconciler.events import Event, Journal, ObjectRef

ESX1 = ObjectRef("HostSystem", "host-21", "esx-01", "lab")
VM = ObjectRef("VirtualMachine", "vm-7", "web-01", "lab")


def run(argv):
    args = build_parser().parse_args(["events", *argv])
    out = io.StringIO()
    code = events_cmd.run(args, out=out)
    return code, out.getvalue()


@pytest.fixture
def journal_path(tmp_path):
    path = tmp_path / "journal.db"
    old = datetime.now(timezone.utc) - timedelta(hours=3)
    with Journal(path) as j:
        j.record(Event("Warning", "DriftDetected", ESX1, "TSM-SSH running is true, want false",
                       path="services.TSM-SSH.running", policy="esxi-baseline", source="specs/h.yaml:9",
                       current=True, desired=False), at=old)
        j.record(Event("Warning", "DriftDetected", ESX1, "TSM-SSH running is true, want false",
                       path="services.TSM-SSH.running", policy="esxi-baseline", source="specs/h.yaml:9",
                       current=True, desired=False))
        j.record(Event("Normal", "DriftRemediated", VM, "isolation.tools.copy.disable set to TRUE",
                       path=("advancedSettings", "isolation.tools.copy.disable"), policy="vm-baseline",
                       current="FALSE", desired="TRUE"), at=old)
    return path


def test_missing_journal_says_no_events(tmp_path):
    path = tmp_path / "missing.db"
    code, out = run(["--journal", str(path)])
    assert (code, out) == (0, "no events\n")
    assert not path.exists()
    code, out = run(["--journal", str(path), "-o", "json"])
    assert (code, out) == (0, "")


def test_text_table(journal_path):
    code, out = run(["--journal", str(journal_path)])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "PATH", "COUNT", "MESSAGE"]
    assert "DriftRemediated" in lines[1] and "VirtualMachine/web-01" in lines[1]
    assert "DriftDetected" in lines[2] and "HostSystem/esx-01" in lines[2]
    assert lines[2].split()[5] == "2"                          # count column
    assert "[policy esxi-baseline]" in lines[2]


def test_json_lines_stable_fields(journal_path):
    code, out = run(["--journal", str(journal_path), "-o", "json"])
    docs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(docs) == 2
    d = docs[1]
    assert set(d) == {"type", "reason", "object", "path", "message", "policy", "source", "current", "desired",
                      "count", "firstSeen", "lastSeen"}
    assert d["object"] == {"type": "HostSystem", "moid": "host-21", "name": "esx-01", "vcenter": "lab"}
    assert (d["reason"], d["count"], d["current"], d["desired"]) == ("DriftDetected", 2, True, False)
    assert d["firstSeen"] < d["lastSeen"] and d["firstSeen"].endswith("Z")
    assert docs[0]["path"] == "advancedSettings.isolation.tools.copy.disable"


@pytest.mark.parametrize("argv, reasons", [
    (["--since", "10m"], ["DriftDetected"]),
    (["--since", "7d"], ["DriftRemediated", "DriftDetected"]),
    (["--object", "web-*"], ["DriftRemediated"]),
    (["--object", "host-21"], ["DriftDetected"]),
    (["--reason", "DriftRemediated"], ["DriftRemediated"]),
    (["--reason", "DriftRemediated,DriftDetected"], ["DriftRemediated", "DriftDetected"]),
    (["--reason", "Nope"], []),
    (["--type", "Warning"], ["DriftDetected"]),
    (["--limit", "1"], ["DriftDetected"]),
])
def test_filters(journal_path, argv, reasons):
    code, out = run(["--journal", str(journal_path), "-o", "json", *argv])
    assert code == 0
    assert [json.loads(line)["reason"] for line in out.splitlines()] == reasons


def test_filter_without_match_text(journal_path):
    assert run(["--journal", str(journal_path), "--object", "zzz"]) == (0, "no events\n")


def test_bad_since_is_a_usage_error(journal_path, capsys):
    with pytest.raises(SystemExit) as err:
        run(["--journal", str(journal_path), "--since", "soon"])
    assert err.value.code == 1  # usage errors exit 1: 2 means drift (issue 14 item 7)
    assert "invalid --since 'soon'" in capsys.readouterr().err


def test_follow_prints_new_and_recounted_events(journal_path, monkeypatch):
    monkeypatch.setattr(events_cmd, "FOLLOW_INTERVAL", 0.05)
    out = io.StringIO()
    args = build_parser().parse_args(["events", "--journal", str(journal_path), "-o", "json", "--follow",
                                      "--since", "10m"])

    def writer():
        time.sleep(0.3)
        with Journal(journal_path) as j:
            j.record(Event("Warning", "DriftDetected", ESX1, "TSM-SSH running is true, want false",
                           path="services.TSM-SSH.running"))
            j.record(Event("Warning", "RemediationFailed", VM, "NoPermission"))
        time.sleep(0.4)
        raise_interrupt.set()

    raise_interrupt = threading.Event()
    real_sleep = time.sleep

    def sleep(s):
        if raise_interrupt.is_set():
            raise KeyboardInterrupt
        real_sleep(s)
    monkeypatch.setattr(events_cmd.time, "sleep", sleep)
    t = threading.Thread(target=writer)
    t.start()
    code = events_cmd.run(args, out=out)
    t.join()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 0
    assert [(d["reason"], d["count"]) for d in lines] == [("DriftDetected", 2), ("DriftDetected", 3),
                                                          ("RemediationFailed", 1)]


def test_vsr_events_console_script(journal_path):
    proc = subprocess.run([sys.executable, "-m", "reconciler.cli", "events", "--journal", str(journal_path),
                           "-o", "json", "--object", "esx-01"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["object"]["name"] == "esx-01"
