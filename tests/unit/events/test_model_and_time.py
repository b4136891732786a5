from datetime import datetime, timedelta, timezone

import pytest

from reconciler.events import Event, ObjectRef, format_duration, parse_duration, parse_since
from reconciler.events.model import format_time, parse_time

HOST = ObjectRef("HostSystem", "host-21", "esx-01", "lab")


@pytest.mark.parametrize("text, seconds", [
    ("10m", 600), ("2h", 7200), ("7d", 604800), ("30s", 30), ("1w", 604800), ("1h30m", 5400), ("500ms", 0.5),
    ("90", 90), (" 2H ", 7200), ("1.5h", 5400), ("1d2h3m4s", 93784),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "m", "10x", "10m5", "ten minutes", "-5m", "5m-"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_since():
    assert parse_since("10m") == timedelta(minutes=10)
    assert parse_since("2026-11-22T01:00:00Z") == datetime(2026, 11, 22, 1, tzinfo=timezone.utc)
    assert parse_since("2026-11-22") == datetime(2026, 11, 22, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="duration .* or a time"):
        parse_since("yesterday")


def test_format_duration():
    assert [format_duration(timedelta(seconds=s)) for s in (5, 90, 3600 * 3, 86400 * 5)] == ["5s", "1m", "3h", "5d"]


def test_event_validation_and_path_rendering():
    e = Event("Warning", "DriftDetected", HOST, "m", path=("advancedSettings", "Mem.ShareForceSalting"))
    assert e.path == "advancedSettings.Mem.ShareForceSalting"
    assert e.dedup_key == ("lab", "host-21", "DriftDetected", "advancedSettings.Mem.ShareForceSalting", "m")
    with pytest.raises(ValueError, match="Normal or Warning"):
        Event("Error", "DriftDetected", HOST, "m")
    with pytest.raises(ValueError, match="CamelCase"):
        Event("Normal", "drift detected", HOST, "m")


def test_time_roundtrip_is_fixed_width():
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert format_time(t) == "2026-01-02T03:04:05.000000Z"
    assert parse_time(format_time(t)) == t
    assert str(HOST) == "HostSystem/esx-01 (host-21)"
