"""Files a spec names (usernameFile, passwordFile, caFile): errors name the file and the problem, never its
content; `--credentials-dir` restricts where they may be (issue 12 item 10). Real files, no mocks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.vsphere import settings as settings_mod
from reconciler.vsphere.settings import (
    SettingsError,
    set_credential_dirs,
    settings_from_cli,
    settings_from_spec,
)
from reconciler.vsphere.tls import build_context

MARKER = "MARKER-3f9c-must-not-leak"


@pytest.fixture(autouse=True)
def no_dirs():
    set_credential_dirs([])
    yield
    set_credential_dirs([])


def spec(**creds: str) -> dict:
    return {"server": "vc.example:443", "credentials": creds}


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(SettingsError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_username_file_with_several_lines_is_refused_without_its_content(tmp_path: Path) -> None:
    user, pw = tmp_path / "user", tmp_path / "pw"
    user.write_text(f"admin\n{MARKER}\n")
    pw.write_text("pw")
    message = _error(settings_from_spec, "lab", spec(usernameFile=str(user), passwordFile=str(pw)))
    assert message == (f"VCenter/lab: credentials.usernameFile {user}: has 2 lines; it must hold only the user "
                       "name, on one line")


def test_username_from_a_file_is_not_named_in_messages(tmp_path: Path) -> None:
    user, pw = tmp_path / "user", tmp_path / "pw"
    user.write_text(MARKER + "\n")
    pw.write_text("pw")
    s = settings_from_spec("lab", spec(usernameFile=str(user), passwordFile=str(pw)))
    assert s.username == MARKER and s.user_label == f"the user in {user}"
    assert MARKER not in repr(s.password) and settings_from_spec("lab", spec(username="u", passwordFile=str(pw))
                                                                  ).user_label == "u"


@pytest.mark.parametrize("content", [f"{MARKER}\n", f"-----BEGIN CERTIFICATE-----\n{MARKER}\n-----END CERTIFICATE-----\n",
                                     b"\xff\xfe" + MARKER.encode()])
def test_ca_file_that_is_not_pem_is_refused_without_its_content(tmp_path: Path, content) -> None:
    ca, pw = tmp_path / "ca.pem", tmp_path / "pw"
    ca.write_bytes(content if isinstance(content, bytes) else content.encode())
    pw.write_text("pw")
    s = settings_from_spec("lab", {**spec(username="u", passwordFile=str(pw)), "tls": {"caFile": str(ca)}})
    message = _error(build_context, s)
    assert message.startswith(f"tls.caFile {ca}: not a PEM certificate bundle") and MARKER not in message


def test_credentials_dir_refuses_files_outside(tmp_path: Path) -> None:
    secrets, other = tmp_path / "secrets", tmp_path / "other"
    secrets.mkdir()
    other.mkdir()
    (secrets / "pw").write_text("pw")
    (other / "pw").write_text(MARKER)
    os.symlink(other / "pw", secrets / "escape")  # a link inside that points outside is outside
    set_credential_dirs([str(secrets)])
    assert settings_from_spec("lab", spec(username="u", passwordFile=str(secrets / "pw"))).password.get_secret_value() == "pw"
    for path in (other / "pw", secrets / "escape", secrets / ".." / "other" / "pw"):
        message = _error(settings_from_spec, "lab", spec(username="u", passwordFile=str(path)))
        assert message == (f"VCenter/lab: credentials.passwordFile {path}: not inside the credential directories "
                           f"({secrets}); see --credentials-dir / VSR_CREDENTIALS_DIR")
    message = _error(settings_from_spec, "lab", {**spec(username="u", passwordFile=str(secrets / "pw")),
                                                 "tls": {"caFile": str(other / "pw")}})
    assert "tls.caFile" in message and "not inside the credential directories" in message
    assert "not inside" in _error(settings_from_cli, "vc.example", "u", str(other / "pw"))


def test_credentials_dir_from_env() -> None:
    assert settings_mod.credential_dirs_from_env({"VSR_CREDENTIALS_DIR": "/a:/b::"}) == ["/a", "/b"]
