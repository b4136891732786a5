"""`vsr run --shard I/N`: every vCenter lands in exactly one shard, the same one on every run and machine;
rendezvous hashing (adding a shard moves few vCenters) unless `spec.shard` pins it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.daemon.supervisor import in_shard, parse_shard, shard_of

NAMES = [f"vc-{i:03d}" for i in range(300)] + ["lab", "prod.example.com", "vcsa-01", "ünïcödé", ""]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_every_name_lands_in_exactly_one_shard(count):
    for name in NAMES:
        owners = [i for i in range(count) if in_shard(name, (i, count))]
        assert len(owners) == 1, (name, owners)


def test_no_shard_means_everything():
    assert all(in_shard(name, None) for name in NAMES)


def rendezvous(name: str, count: int) -> int:
    return max(range(count), key=lambda i: hashlib.sha256(f"{i}/{name}".encode()).digest())


def test_assignment_is_rendezvous_sha256_and_stable_across_processes():
    # Not Python's hash() (randomised per process): the documented rendezvous hash, so every pod agrees.
    expected = {name: rendezvous(name, 5) for name in NAMES}
    assert {name: shard_of(name, 5) for name in NAMES} == expected
    assert {name: next(i for i in range(5) if in_shard(name, (i, 5))) for name in NAMES} == expected
    code = ("from reconciler.daemon.supervisor import in_shard\n"
            f"names = {NAMES!r}\n"
            "print([next(i for i in range(5) if in_shard(n, (i, 5))) for n in names])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345"}).stdout
    assert out.strip() == str([expected[n] for n in NAMES])
    # Fixed points, so a change of the hash is noticed (it would move vCenters between running shards).
    assert [shard_of("lab", n) for n in (1, 2, 3, 4)] == [0, 0, 2, 2]
    assert [shard_of(n, 3) for n in ("lab", "prod.example.com", "vcsa-01")] == FIXED


# The owners of three names at N=3, computed once; they must never change between releases.
FIXED = [2, 2, 1]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_adding_a_shard_moves_only_what_the_new_shard_takes(count):
    names = [f"vc-{i:04d}" for i in range(2000)]
    before = {n: shard_of(n, count) for n in names}
    after = {n: shard_of(n, count + 1) for n in names}
    moved = [n for n in names if before[n] != after[n]]
    assert all(after[n] == count for n in moved)  # only to the new shard, never between old ones
    assert len(moved) < 2000 * (1.5 / (count + 1)), len(moved)  # ~1/(N+1); sha256 mod N moved ~N/(N+1)


def test_spec_shard_pins_a_vcenter():
    assert [i for i in range(4) if in_shard("lab", (i, 4), pinned=2)] == [2]
    assert [i for i in range(4) if in_shard("lab", (i, 4), pinned=6)] == [2]  # modulo N: never orphaned
    assert shard_of("lab", 1, pinned=5) == 0
    assert in_shard("lab", None, pinned=3)


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
    assert result.returncode == 1 and "--shard" in result.stderr  # usage error: exit 1 (issue 14 item 7)


def test_vcenter_spec_shard_is_an_optional_non_negative_integer():
    from pydantic import ValidationError

    from reconciler.api.models import VCenter
    base = {"apiVersion": "vsr.dev/v1alpha1", "kind": "VCenter", "metadata": {"name": "lab"},
            "spec": {"server": "vc", "credentials": {"username": "u", "passwordFile": "/p"}}}
    assert VCenter.model_validate(base).spec.shard is None
    assert VCenter.model_validate({**base, "spec": {**base["spec"], "shard": 2}}).spec.shard == 2
    for bad in (-1, "1", True, 1.5):
        with pytest.raises(ValidationError, match="shard"):
            VCenter.model_validate({**base, "spec": {**base["spec"], "shard": bad}})
