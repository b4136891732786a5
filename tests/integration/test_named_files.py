"""Issue 12 item 10: the content of a file a spec names (usernameFile, passwordFile, caFile) never appears in
stdout, stderr, logs, the journal or /status, also when the file is wrong; --credentials-dir refuses files
outside the configured directories. `vsr` runs as a subprocess against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import free_port, http_get, wait_for

pytestmark = [pytest.mark.integration]

VSR = str(Path(sys.executable).with_name("vsr"))
MARKER = "Mk-9d1e-file-content-must-not-leak"
POLICY = ("apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: ssh}\nspec:\n"
          "  selector: {hosts: [\"*\"]}\n  services: {TSM-SSH: {running: false}}\n")


def vcenter(sim, user: Path, password: Path, ca: Path | str) -> str:
    return (f"apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {{name: sim}}\nspec:\n"
            f"  server: \"{sim.host}:{sim.port}\"\n"
            f"  credentials: {{usernameFile: \"{user}\", passwordFile: \"{password}\"}}\n"
            f"  tls: {{caFile: \"{ca}\"}}\n")


def vsr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([VSR, *args], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, **(env or {})})


def test_wrong_named_files_never_show_their_content(sim, tmp_path):
    creds, specs = tmp_path / "creds", tmp_path / "specs"
    creds.mkdir()
    specs.mkdir()
    journal = tmp_path / "journal.db"
    common = ("--journal", str(journal), "--log-level", "debug")
    (specs / "p.yaml").write_text(POLICY)
    password = creds / "password"
    password.write_text(sim.password)
    cases = {}
    # a user name file that also holds something else; a user the server does not know; a CA file that is not PEM
    (creds / "two-lines").write_text(f"{sim.username}\n{MARKER}\n")
    (creds / "unknown-user").write_text(MARKER + "\n")
    (creds / "not-pem").write_text(f"-----BEGIN CERTIFICATE-----\n{MARKER}\n-----END CERTIFICATE-----\n")
    for name, user, ca in (("two-lines", creds / "two-lines", sim.ca_file),
                           ("unknown-user", creds / "unknown-user", sim.ca_file),
                           ("not-pem", sim.username_file, creds / "not-pem")):
        (specs / "vc.yaml").write_text(vcenter(sim, user, password, ca))
        cases[name] = [vsr(cmd, str(specs), *extra, *common) for cmd, extra in
                       (("validate", ()), ("plan", ()), ("plan", ("-o", "json")), ("apply", ("--yes",)))]
    for name, runs in cases.items():
        for run in runs:
            assert MARKER not in run.stdout + run.stderr, f"{name}: {run.args[1]} shows the file's content"
    plan = cases["two-lines"][1]
    assert plan.returncode == 1
    assert f"credentials.usernameFile {creds / 'two-lines'}: has 2 lines" in plan.stdout + plan.stderr
    assert f"as the user in {creds / 'unknown-user'} failed: invalid username or password" in \
        cases["unknown-user"][1].stdout + cases["unknown-user"][1].stderr
    assert f"tls.caFile {creds / 'not-pem'}: not a PEM certificate bundle" in \
        cases["not-pem"][1].stdout + cases["not-pem"][1].stderr
    if journal.exists():
        for path in journal.parent.glob("journal.db*"):
            assert MARKER.encode() not in path.read_bytes(), f"{path} holds the file's content"

    # the daemon: logs and /status
    (specs / "vc.yaml").write_text(vcenter(sim, creds / "unknown-user", password, sim.ca_file))
    port = free_port()
    log = tmp_path / "daemon.log"
    with log.open("w") as log_out:
        proc = subprocess.Popen([VSR, "run", str(specs), "--listen", f"127.0.0.1:{port}", "--journal",
                                 str(tmp_path / "d.db"), "--log-level", "debug", "--log-format", "json"],
                                stdout=subprocess.DEVNULL, stderr=log_out)
    try:
        wait_for(lambda: "invalid username or password" in log.read_text(), 20, "the refused login is logged")
        status = http_get(port, "/status")[1]
        assert MARKER not in status and MARKER not in log.read_text()
        assert json.loads(status)  # /status answers
    finally:
        proc.terminate()
        proc.wait(20)
    for path in tmp_path.glob("d.db*"):
        assert MARKER.encode() not in path.read_bytes()


def test_credentials_dir_refuses_files_outside(sim, tmp_path):
    secrets, specs = tmp_path / "secrets", tmp_path / "specs"
    secrets.mkdir()
    specs.mkdir()
    (specs / "p.yaml").write_text(POLICY)
    (secrets / "password").write_text(sim.password)
    (secrets / "username").write_text(sim.username)
    (secrets / "ca.pem").write_text(Path(sim.ca_file).read_text())
    (specs / "vc.yaml").write_text(vcenter(sim, secrets / "username", secrets / "password", secrets / "ca.pem"))
    common = ("--journal", str(tmp_path / "j.db"))
    inside = vsr("plan", str(specs), "--credentials-dir", str(secrets), *common)
    assert inside.returncode in (0, 2), inside.stderr  # connected: compliant or drifted, not an error
    (specs / "vc.yaml").write_text(vcenter(sim, sim.username_file, secrets / "password", secrets / "ca.pem"))
    refused = vsr("plan", str(specs), *common, env={"VSR_CREDENTIALS_DIR": f"{tmp_path / 'none'}:{secrets}"})
    assert refused.returncode == 1
    expected = (f"credentials.usernameFile {sim.username_file}: not inside the credential directories "
                f"({tmp_path / 'none'}, {secrets})")
    assert expected in refused.stdout + refused.stderr
