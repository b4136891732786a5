"""Hostile spec files through the CLI and the daemon: clear errors, bounded time and memory, the rest still loaded.

Parser-level cases are unit-tested in tests/unit/api (size limit, symlink loops, a monkeypatched unreadable file,
fuzzing); here the same inputs, plus a deep-nesting bomb, a real read error as root (/proc/self/mem), a FIFO and a
directory named *.yaml, go end to end at full size."""

from __future__ import annotations

import os
import time
import tracemalloc

import pytest

from harness import host, service
from rel_helpers import Daemon, policy, vcenter_doc, vsr, wait_for
from reconciler.api import load_specs
from reconciler.events.journal import Journal

pytestmark = [pytest.mark.integration]

SSH_OFF = policy("HostSecurityPolicy", "ssh-off", 'selector: {hosts: ["*"]}\nservices: {TSM-SSH: {running: false}}')
EXPECTED = {  # file -> words of its one clear error line
    "big.yaml": "file is too large (10.0 MiB; the limit is 5 MiB)",
    "deep.yaml": "nesting is too deep",
    "laughs.yaml": "expands to more than 100000 nodes",
    "latin1.yaml": "not valid UTF-8 (byte 0xe9)",
    "ioerror.yaml": "cannot read file: Input/output error",
}
MAX_SECONDS = 20
MAX_RSS_MB = 400


def laughs(levels: int = 10) -> str:
    text = "apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: lol}\nspec:\n"
    text += "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, levels):
        text += f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
    return text   # 10^10 nodes if expanded


def hostile_dir(specs) -> None:
    specs.mkdir(parents=True, exist_ok=True)
    with open(specs / "big.yaml", "w") as fh:            # 10 MiB of valid YAML comments
        fh.write("# padding\n" * (10 * 1024 * 1024 // 10 + 1))
    (specs / "deep.yaml").write_text("apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: deep}"
                                     "\nspec: " + "[" * 50000 + "]" * 50000 + "\n")
    (specs / "laughs.yaml").write_text(laughs())
    (specs / "latin1.yaml").write_bytes(b"apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\n"
                                        b"metadata: {name: caf\xe9}\n")
    os.symlink("loop.yaml", specs / "loop.yaml")          # a symlink to itself
    (specs / "sub").mkdir()
    os.symlink("..", specs / "sub" / "back")              # a directory loop
    # tests run as root, so permissions cannot make a file unreadable: a real EIO on read() instead
    os.symlink("/proc/self/mem", specs / "ioerror.yaml")
    os.mkfifo(specs / "fifo.yaml")                         # opening it would block: must be skipped
    (specs / "dir.yaml").mkdir()                           # a directory with a spec name: walked, not read


def test_hostile_specs_through_the_cli(sim_factory, tmp_path):
    sim = sim_factory("-drift")
    specs = tmp_path / "specs"
    hostile_dir(specs)
    (specs / "vc.yaml").write_text(vcenter_doc(sim, "sim", tmp_path / "creds"))
    (specs / "ssh.yaml").write_text(SSH_OFF)

    check = vsr("validate", str(specs), timeout=60)
    assert check.code == 1
    text = check.out + check.err
    for name, words in EXPECTED.items():
        lines = [line for line in text.splitlines() if line.startswith(str(specs / name) + ":")]
        assert len(lines) == 1 and words in lines[0], (name, text)
    assert "fifo.yaml" not in text and "loop.yaml" not in text and "dir.yaml" not in text
    assert "Traceback" not in text
    assert "2 valid document(s)" in text
    assert check.seconds < MAX_SECONDS and check.maxrss_kb < MAX_RSS_MB * 1024

    plan = vsr("plan", str(specs), "-o", "json", "--journal", str(tmp_path / "j.db"), timeout=60)
    assert plan.code == 1, plan.err[-2000:]  # spec errors: 1, even though the valid policy plans drift
    assert {i["file"].rsplit("/", 1)[-1] for i in plan.json["specIssues"]} == set(EXPECTED)
    ssh = [c for c in plan.json["changes"] if c["path"] == "services.TSM-SSH.running"]
    assert {c["object"]["name"] for c in ssh} == {"DC0_C0_H0", "DC0_C0_H1"}, "the valid policy is still planned"
    assert plan.seconds < MAX_SECONDS and plan.maxrss_kb < MAX_RSS_MB * 1024

    # the alias bomb in-process under tracemalloc (the whole directory would be slow: tracemalloc makes PyYAML's
    # 50,000-level parse take about a minute; the child's getrusage above bounds that case)
    only = tmp_path / "laughs.yaml"
    only.write_text(laughs())
    tracemalloc.start()
    started = time.monotonic()
    result = load_specs([only])
    seconds = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(result.errors) == 1 and not result.documents
    assert seconds < MAX_SECONDS and peak < 100 * 1024 * 1024
    print(f"\nhostile specs: validate {check.seconds:.1f} s / {check.maxrss_kb // 1024} MB peak RSS, plan "
          f"{plan.seconds:.1f} s / {plan.maxrss_kb // 1024} MB; alias bomb in-process {seconds:.2f} s, "
          f"tracemalloc peak {peak / 1048576:.0f} MiB")


def test_hostile_specs_through_the_daemon(sim_factory, tmp_path):
    """The daemon starts on the hostile directory, reports every bad file, enforces the valid policy, and stays up
    (memory bounded) when more hostile files arrive while it runs."""
    sim = sim_factory("-drift")
    d = Daemon(tmp_path / "d", ("--resync", "1h"))
    hostile_dir(d.specs)
    (d.specs / "vc.yaml").write_text(vcenter_doc(sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    try:
        started = time.monotonic()
        d.start().wait_ready(60)
        ready = time.monotonic() - started
        si = sim.connect()
        wait_for(lambda: service(host(si, "DC0_C0_H0"), "TSM-SSH").running is False, 20, "valid policy enforced")

        def invalid_files():
            with Journal(d.journal) as journal:
                return {e.message.split(":", 1)[0].rsplit("/", 1)[-1] for e in journal.query(reason="SpecInvalid")}

        wait_for(lambda: set(EXPECTED) <= invalid_files(), 20,
                 f"SpecInvalid for every bad file\n{d.log.read_text()[-3000:]}")
        # a second wave while it runs: another bomb and a valid policy edit
        (d.specs / "laughs2.yaml").write_text(laughs().replace("name: lol", "name: lol2"))
        (d.specs / "deep2.yaml").write_text("a: " + "{b: " * 30000 + "}" * 30000 + "\n")
        host(si, "DC0_C0_H1").configManager.serviceSystem.StartService(id="TSM-SSH")
        wait_for(lambda: service(host(si, "DC0_C0_H1"), "TSM-SSH").running is False, 20, "still enforcing")
        wait_for(lambda: {"laughs2.yaml", "deep2.yaml"} <= invalid_files(), 20, "second wave reported")
        assert d.proc.poll() is None
        status = d.status()
        assert status["ready"] is True
        rss = d.rss_peak_kb()
        assert rss < MAX_RSS_MB * 1024
        print(f"\nhostile specs in the daemon: ready in {ready:.1f} s, peak RSS {rss // 1024} MB")
    finally:
        d.stop()
