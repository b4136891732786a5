"""`vsr run --shard I/N`: every vCenter name lands in exactly one shard, the same one on every run and machine."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.engine.daemon import in_shard, parse_shard

NAMES = [f"vc-{i:03d}" for i in range(300)] + ["lab", "prod.example.com", "vcsa-01", "ünïcödé", ""]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_every_name_lands_in_exactly_one_shard(count):
    for name in NAMES:
        owners = [i for i in range(count) if in_shard(name, (i, count))]
        assert len(owners) == 1, (name, owners)


def test_no_shard_means_everything():
    assert all(in_shard(name, None) for name in NAMES)


def test_assignment_is_sha256_modulo_n_and_stable_across_processes():
    # Not Python's hash() (randomised per process): the documented sha256 of the name, so every pod agrees.
    expected = {name: int(hashlib.sha256(name.encode()).hexdigest(), 16) % 5 for name in NAMES}
    assert {name: next(i for i in range(5) if in_shard(name, (i, 5))) for name in NAMES} == expected
    code = ("from reconciler.engine.daemon import in_shard\n"
            f"names = {NAMES!r}\n"
            "print([next(i for i in range(5) if in_shard(n, (i, 5))) for n in names])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345"}).stdout
    assert out.strip() == str([expected[n] for n in NAMES])
    # A fixed point, so a change of the hash is noticed (it would move vCenters between running shards).
    assert [i for i in range(3) if in_shard("lab", (i, 3))] == [int(hashlib.sha256(b"lab").hexdigest(), 16) % 3]


def test_shards_are_reasonably_balanced():
    counts = [sum(in_shard(f"vc-{i:04d}", (s, 4)) for i in range(2000)) for s in range(4)]
    assert min(counts) > 400, counts  # 500 each on average


@pytest.mark.parametrize("text,expected", [("0/1", (0, 1)), ("2/3", (2, 3)), ("15/16", (15, 16))])
def test_parse_shard_accepts_i_of_n(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["", "1", "/3", "3/", "3/3", "4/3", "-1/3", "0/0", "1/-2", "a/b", "1.0/3", "1/3/5"])
def test_parse_shard_rejects_bad_input(text):
    with pytest.raises(ValueError):
        parse_shard(text)


def test_cli_rejects_a_bad_shard_before_starting(tmp_path):
    # The chart passes --shard=$(VSR_SHARD_INDEX)/N: an unset index must fail loudly, not reconcile everything.
    vsr = str(Path(sys.executable).with_name("vsr"))
    result = subprocess.run([vsr, "run", str(tmp_path), "--shard=/3", "--journal", str(tmp_path / "j.db")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--shard" in result.stderr
