"""No secret read from an environment variable or a file, nor an inline one, appears in any error, repr, JSON
output or log line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from reconciler.api import load_specs
from reconciler.cli import main

SECRET = "Xq9-s3cr3t-P4ssw0rd-771"

CASES = [
    # inline password refused
    "  credentials: {username: admin, password: SECRET}\n",
    "  credentials: {username: admin, passwordEnv: VSR_PW, password: SECRET}\n",
    "  credentials: {username: admin, passwordEnv: VSR_PW}\n  password: SECRET\n",
    # the secret written where a name belongs
    "  credentials: {username: admin, passwordEnv: 'SECRET'}\n",
    "  credentials: {username: admin, passwordFile: VSR_PW, passwordEnv: 'SECRET'}\n",
    "  credentials: {username: admin, passwordEnv: [SECRET]}\n",
    "  credentials: {username: admin, passwordEnv: {SECRET: 1}}\n",
    "  credentials: {usernameEnv: 'SECRET', passwordFile: /x}\n",
    "  credentials: {usernameEnv: U, passwordFile: /x, passphrase: SECRET}\n",
    "  credentials: {usernameEnv: U, passwordFile: /x, Password: SECRET}\n",
    "  credentials: SECRET\n",
    "  credentials: {usernameEnv: U, passwordFile: /x}\n  tls: {thumbprint: 'SECRET'}\n",
]


@pytest.mark.parametrize("body", CASES)
def test_secret_never_echoed(body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("VSR_PW", SECRET)
    (tmp_path / "pw").write_text(SECRET)
    spec = tmp_path / "vc.yaml"
    spec.write_text("apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {name: vc}\nspec:\n"
                    "  server: vcsa.example\n" + body.replace("SECRET", SECRET).replace("/x", str(tmp_path / "pw")))
    result = load_specs([spec])
    assert result.errors, "each case is invalid"
    for issue in result.issues:
        assert SECRET not in str(issue) and SECRET not in repr(issue)
    assert SECRET not in repr(result)
    caplog.set_level(logging.DEBUG)
    for output in ("text", "json"):
        code = main(["validate", "--log-level", "debug", "--log-format", "json", "-o", output, str(spec)])
        out, err = capsys.readouterr()
        assert code == 1
        assert SECRET not in out and SECRET not in err
        if output == "json":
            json.loads(out)
    assert SECRET not in caplog.text


def test_valid_vcenter_repr_has_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSR_PW", SECRET)
    spec = tmp_path / "vc.yaml"
    spec.write_text("apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {name: vc}\nspec:\n"
                    "  server: vcsa.example\n  credentials: {username: admin, passwordEnv: VSR_PW}\n")
    result = load_specs([spec])
    assert result.ok and SECRET not in repr(result) and SECRET not in repr(result.documents[0].model.model_dump())


def test_the_check_can_fail() -> None:
    """Guard against a vacuous test: a value that is not secret is echoed, so the secret check is meaningful."""
    from reconciler.api import load_text
    text = ("apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {name: vc}\nspec:\n"
            f"  server: 'https://{SECRET}'\n  credentials: {{username: a, passwordEnv: P}}\n")
    assert SECRET in str(load_text(text).errors[0])


GUEST_CASES = [
    "credentials: {username: root, password: SECRET}",              # inline password: not a field
    "credentials: {username: root, passwordEnv: 'SECRET'}",          # the secret where a variable name belongs
    "credentials: {usernameEnv: 'SECRET', passwordFile: /x}",
    "credentials: SECRET",
]


@pytest.mark.parametrize("body", GUEST_CASES)
def test_guest_credentials_never_echoed(body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pw").write_text(SECRET)
    spec = tmp_path / "vm.yaml"
    spec.write_text("apiVersion: vsr.dev/v1alpha1\nkind: VMSecurityPolicy\nmetadata: {name: g}\nspec:\n"
                    "  selector: {vms: ['*']}\n  guestTools:\n    "
                    + body.replace("SECRET", SECRET).replace("/x", str(tmp_path / "pw")) + "\n    logging: true\n")
    result = load_specs([spec])
    assert result.errors, "each case is invalid"
    assert all(SECRET not in str(issue) for issue in result.issues) and SECRET not in repr(result)
    for output in ("text", "json"):
        assert main(["validate", "-o", output, str(spec)]) == 1
        out, err = capsys.readouterr()
        assert SECRET not in out and SECRET not in err
