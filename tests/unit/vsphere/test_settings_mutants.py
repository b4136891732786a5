"""Exact behaviour of reconciler/vsphere/settings.py, pinned so that its mutants are killed (issue 21): every error
message word for word, every default, every boundary of the checks. Real files in tmp_path; no connection."""

from __future__ import annotations

import os
import pathlib
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from reconciler.vsphere import settings as mod
from reconciler.vsphere.settings import (ConnectionSettings, SettingsError, check_allowed_file,
                                         credential_dirs_from_env, normalize_thumbprint, parse_server,
                                         read_secret_env, read_secret_file, set_credential_dirs, settings_from_cli,
                                         settings_from_spec)

FP = "ab:" * 31 + "cd"
ENV = {"VSR_USERNAME": "u", "VSR_PASSWORD": "p"}


@pytest.fixture(autouse=True)
def no_dirs(monkeypatch):
    monkeypatch.setattr(mod, "_credential_dirs", ())


def error(fn, *args, **kwargs) -> str:
    with pytest.raises(SettingsError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def secret(tmp_path: Path, content: str | bytes, name: str = "pw") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


# -- ConnectionSettings ---------------------------------------------------------------------------------------------

def test_defaults_of_connection_settings():
    s = ConnectionSettings(name="n", host="h", username="u", password=SecretStr("p"))
    assert (s.port, s.verify, s.ca_file, s.thumbprint, s.timeout, s.username_file) == (443, True, None, None, 120.0,
                                                                                        None)
    assert mod.DEFAULT_PORT == 443
    assert s.user_label == "u"
    assert "password=SecretStr('**********')" in repr(s)


def test_connection_settings_normalises_a_given_thumbprint_only():
    s = ConnectionSettings(name="n", host="h", username="u", password="p", thumbprint=FP.replace(":", ""))
    assert s.thumbprint == FP.upper()
    assert ConnectionSettings(name="n", host="h", username="u", password="p", thumbprint="").thumbprint == ""
    assert error(ConnectionSettings, name="n", host="h", username="u", password="p", thumbprint="12") == (
        "tls.thumbprint: a SHA-256 thumbprint has 32 bytes (64 hex digits), this one has 1")


def test_password_given_as_secret_is_kept_and_plain_text_wrapped():
    pw = SecretStr("p")
    assert ConnectionSettings(name="n", host="h", username="u", password=pw).password is pw
    wrapped = ConnectionSettings(name="n", host="h", username="u", password=1234)  # type: ignore[arg-type]
    assert isinstance(wrapped.password, SecretStr) and wrapped.password.get_secret_value() == "1234"


def test_user_label_and_address():
    s = ConnectionSettings(name="n", host="h", username="u", password="p", username_file="/run/user")
    assert s.user_label == "the user in /run/user"
    assert ConnectionSettings(name="n", host="fe80::1", username="u", password="p", port=8443).address == (
        "[fe80::1]:8443")
    assert ConnectionSettings(name="n", host="vc", username="u", password="p", port=8443).address == "vc:8443"


def test_normalize_thumbprint_names_the_field():
    assert error(normalize_thumbprint, "zz") == "tls.thumbprint: a thumbprint is hex digits, optionally separated by ':'"


# -- parse_server ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("  vc  ", ("vc", 443)),
    ("HTTPS://vc:8443/sdk/x", ("vc", 8443)),
    ("Http://vc/sdk", ("vc", 443)),
    ("vc/https://x", ("vc", 443)),
    ("https://vc:1/a/b/c", ("vc", 1)),
])
def test_parse_server_forms(text, expected):
    assert parse_server(text) == expected


def test_parse_server_messages():
    assert error(parse_server, "   ") == "server is empty"
    assert error(parse_server, " :443 ") == "server ' :443 ' has no host"
    assert error(parse_server, "vc:0") == "server 'vc:0': the port must be a number from 1 to 65535"


# -- _get / _as_mapping ---------------------------------------------------------------------------------------------

def test_get_reads_camel_first_then_snake():
    assert mod._get({"caFile": "a", "ca_file": "b"}, "caFile") == "a"
    assert mod._get({"ca_file": "b"}, "caFile") == "b"
    assert mod._get({"password_file_env": "c"}, "passwordFileEnv") == "c"
    assert mod._get({"caFile": None, "ca_file": "b"}, "caFile") is None
    assert mod._get({"ca_FILE": "b", "cafile": "c"}, "caFile") is None
    assert mod._get({"server": "s"}, "server") == "s"


def test_as_mapping():
    assert mod._as_mapping(None, "spec.tls") == {}
    assert error(mod._as_mapping, ["x"], "spec.tls") == "spec.tls must be a mapping"
    assert error(settings_from_spec, "lab", {"server": "h", "credentials": "x"}) == (
        "VCenter/lab: spec.credentials must be a mapping")
    assert error(settings_from_spec, "lab", {"server": "h", "tls": 3}, environ=ENV) == (
        "VCenter/lab: spec.tls must be a mapping")
    assert error(settings_from_spec, "lab", "h") == "VCenter/lab: spec must be a mapping"


class _Creds(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    who: str | None = Field(None, alias="username")
    secret_var: str | None = Field(None, alias="passwordEnv")
    # a field whose name is the snake spelling of another field's alias: only the dump without None values
    # lets `_get` reach it
    unused: str | None = Field(None, alias="usernameEnv")
    username_env: str | None = Field(None, alias="username_env")


class _Spec(BaseModel):
    endpoint: str = Field(alias="server")
    credentials: _Creds


def test_a_model_is_read_by_its_aliases_without_none_values():
    spec = _Spec(server="vc:444", credentials=_Creds(username_env="U", secret_var="PW"))
    s = settings_from_spec("m", spec, environ={"U": "from-env", "PW": "pw"})
    assert (s.host, s.port, s.username, s.password.get_secret_value()) == ("vc", 444, "from-env", "pw")
    spec = _Spec(server="vc", credentials=_Creds(who="inline", secret_var="PW"))
    assert settings_from_spec("m", spec, environ={"PW": "pw"}).username == "inline"


# -- credential directories -----------------------------------------------------------------------------------------

def test_credential_dirs_from_env():
    assert credential_dirs_from_env({}) == []
    assert credential_dirs_from_env({"VSR_CREDENTIALS_DIR": "/a::/b:"}) == ["/a", "/b"]
    assert mod.ENV_CREDENTIALS_DIR == "VSR_CREDENTIALS_DIR"


def test_set_credential_dirs_expands_resolves_and_skips_empty(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "link")
    monkeypatch.setenv("HOME", str(tmp_path))
    set_credential_dirs(["", "~/link"])
    assert mod._credential_dirs == (str(real),)
    set_credential_dirs(())
    assert mod._credential_dirs == ()


def test_check_allowed_file_boundaries(tmp_path, monkeypatch):
    secrets, sibling = tmp_path / "creds", tmp_path / "creds2"
    secrets.mkdir()
    sibling.mkdir()
    check_allowed_file(sibling / "x", "what")  # no directories configured: anything goes
    set_credential_dirs([str(tmp_path / "none"), str(secrets)])
    check_allowed_file(secrets / "x", "what")          # inside the second directory
    check_allowed_file(secrets, "what")                # the directory itself
    monkeypatch.setenv("HOME", str(secrets))
    check_allowed_file("~/pw", "what")                 # ~ expanded before the check
    assert error(check_allowed_file, sibling / "x", "tls.caFile") == (
        f"tls.caFile {sibling / 'x'}: not inside the credential directories ({tmp_path / 'none'}, {secrets}); "
        "see --credentials-dir / VSR_CREDENTIALS_DIR")
    set_credential_dirs(["/"])
    check_allowed_file(sibling / "x", "what")          # the root directory holds every file


def test_ca_file_and_cli_files_are_checked_against_the_directories(tmp_path):
    allowed = tmp_path / "creds"
    allowed.mkdir()
    set_credential_dirs([str(allowed)])
    outside = tmp_path / "ca.pem"
    suffix = f": not inside the credential directories ({allowed}); see --credentials-dir / VSR_CREDENTIALS_DIR"
    assert error(settings_from_spec, "lab", {"server": "h", "tls": {"caFile": str(outside)}}, environ=ENV) == (
        f"VCenter/lab: tls.caFile {outside}{suffix}")
    assert error(settings_from_cli, "h", "u", None, environ={"VSR_PASSWORD": "p"}, ca_file=str(outside)) == (
        f"--ca-file {outside}{suffix}")
    assert error(settings_from_cli, "h", "u", str(outside), environ={}) == f"--password-file {outside}{suffix}"
    inside = allowed / "ca.pem"
    assert settings_from_spec("lab", {"server": "h", "tls": {"caFile": str(inside)}}, environ=ENV).ca_file == str(inside)


# -- read_secret_file / read_secret_env -----------------------------------------------------------------------------

def test_read_secret_file_strips_only_trailing_newlines(tmp_path):
    assert read_secret_file(secret(tmp_path, "  p w\t \r\n\n"), "w") == "  p w\t "
    assert read_secret_file(secret(tmp_path, "passX\r"), "w") == "passX"


def test_read_secret_file_keeps_carriage_returns_inside_the_secret(tmp_path):
    # bug fixed (issue 21): text mode read "a\rb" as "a\nb", a different password than the file's
    assert read_secret_file(secret(tmp_path, "a\rb\r\nc\r\n"), "w") == "a\rb\r\nc"
    assert read_secret_file(secret(tmp_path, "\npw"), "w") == "\npw"
    assert read_secret_file(str(secret(tmp_path, "pw\n", "by-str")), "w") == "pw"


def test_read_secret_file_expands_home(tmp_path, monkeypatch):
    secret(tmp_path, "pw\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert read_secret_file("~/pw", "w") == "pw"


def test_read_secret_file_is_utf8(tmp_path):
    assert read_secret_file(secret(tmp_path, "pässwörd".encode()), "w") == "pässwörd"
    path = secret(tmp_path, b"\xff\xfe")
    assert error(read_secret_file, path, "--password-file") == f"--password-file {path}: not UTF-8 text"


def test_read_secret_file_messages(tmp_path, monkeypatch):
    missing = tmp_path / "missing"
    assert error(read_secret_file, missing, "w") == f"w {missing}: file not found"
    assert error(read_secret_file, tmp_path, "w") == f"w {tmp_path}: is a directory"
    empty = secret(tmp_path, "\r\n\n")
    assert error(read_secret_file, empty, "w") == f"w {empty}: file is empty"
    path = secret(tmp_path, "pw")
    faults = iter([PermissionError(13, "Permission denied"), OSError(5, "Input/output error"), OSError("no errno")])

    def fail(self, *args, **kwargs):
        raise next(faults)
    monkeypatch.setattr(pathlib.Path, "read_bytes", fail)
    assert error(read_secret_file, path, "w") == f"w {path}: permission denied"
    assert error(read_secret_file, path, "w") == f"w {path}: Input/output error"
    assert error(read_secret_file, path, "w") == f"w {path}: cannot read"


@pytest.mark.parametrize("text", ["a b", "a~b", "a\xa0b", "dom\\üser"])
def test_one_line_accepts_printable_text(tmp_path, text):
    assert read_secret_file(secret(tmp_path, text + "\n"), "w", one_line=True) == text


@pytest.mark.parametrize("text, problem", [
    ("a\x1fb", "contains control characters"),
    ("a\tb", "contains control characters"),
    ("\x00", "contains control characters"),
    ("a\x7fb", "contains control characters"),
    ("a\x9fb", "contains control characters"),
    ("a\nb", "has 2 lines"),
    ("a\r\nb\nc", "has 3 lines"),
])
def test_one_line_refuses_control_characters(tmp_path, text, problem):
    path = secret(tmp_path, text)
    assert error(read_secret_file, path, "credentials.usernameFile", one_line=True) == (
        f"credentials.usernameFile {path}: {problem}; it must hold only the user name, on one line")
    assert read_secret_file(path, "w") == text  # a password may hold anything


def test_password_file_may_hold_control_characters_but_username_file_not(tmp_path):
    pw = secret(tmp_path, "p\tw\n")
    user = secret(tmp_path, "ad\tmin\n", "user")
    s = settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "passwordFile": str(pw)}})
    assert s.password.get_secret_value() == "p\tw" and s.username_file is None
    assert error(settings_from_spec, "lab", {"server": "h", "credentials": {"usernameFile": str(user),
                                                                          "passwordFile": str(pw)}}) == (
        f"VCenter/lab: credentials.usernameFile {user}: contains control characters; it must hold only the user "
        "name, on one line")


def test_read_secret_env_messages():
    assert read_secret_env("V", "w", {"V": " x "}) == " x "
    assert error(read_secret_env, "V", "credentials.passwordEnv", {}) == (
        "credentials.passwordEnv: environment variable V is not set")
    assert error(read_secret_env, "V", "credentials.passwordEnv", {"V": ""}) == (
        "credentials.passwordEnv: environment variable V is empty")


# -- _credential via settings_from_spec -----------------------------------------------------------------------------

def spec(**creds) -> dict:
    return {"server": "h", "credentials": creds}


def test_only_one_source_and_the_message_lists_them_in_order():
    assert error(settings_from_spec, "lab", spec(username="u", usernameEnv="U", usernameFile="/f",
                                                 passwordEnv="P"), environ={"U": "x", "P": "p"}) == (
        "VCenter/lab: credentials: give only one of username, usernameEnv, usernameFile")
    assert error(settings_from_spec, "lab", spec(usernameEnv="U", usernameFile="/f", passwordEnv="P"),
                 environ={"U": "x", "P": "p"}) == "VCenter/lab: credentials: give only one of usernameEnv, usernameFile"
    assert error(settings_from_spec, "lab", spec(username="u", usernameEnv="U", passwordEnv="P"),
                 environ={"U": "x", "P": "p"}) == "VCenter/lab: credentials: give only one of username, usernameEnv"
    # empty values do not count as given
    s = settings_from_spec("lab", spec(username="u", usernameEnv="", usernameFile=None, passwordEnv="P"),
                           environ={"P": "p"})
    assert s.username == "u"


def test_inline_username_and_refused_inline_password():
    s = settings_from_spec("lab", spec(username=42, passwordEnv="P"), environ={"P": "p", "VSR_USERNAME": "other"})
    assert s.username == "42" and s.username_file is None and s.user_label == "42"
    assert error(settings_from_spec, "lab", spec(username="u", password="x")) == (
        "VCenter/lab: credentials.password: inline secrets are not allowed in spec documents; "
        "use credentials.passwordEnv or credentials.passwordFile")


def test_env_sources_are_named_in_messages():
    assert error(settings_from_spec, "lab", spec(usernameEnv="U", passwordEnv="P"), environ={"P": "p"}) == (
        "VCenter/lab: credentials.usernameEnv: environment variable U is not set")
    s = settings_from_spec("lab", spec(usernameEnv="U", passwordEnv="P"),
                           environ={"U": "eu", "P": "ep", **ENV})
    assert (s.username, s.password.get_secret_value(), s.username_file) == ("eu", "ep", None)


def test_file_sources_and_username_file(tmp_path):
    user, pw = secret(tmp_path, "fu\n", "user"), secret(tmp_path, "fp\n")
    s = settings_from_spec("lab", spec(usernameFile=str(user), passwordFile=str(pw)), environ=ENV)
    assert (s.username, s.password.get_secret_value(), s.username_file) == ("fu", "fp", str(user))
    assert s.user_label == f"the user in {user}"
    s = settings_from_spec("lab", spec(username="u", passwordFile=str(pw)), environ=ENV)
    assert s.username_file is None
    missing = tmp_path / "missing"
    assert error(settings_from_spec, "lab", spec(usernameFile=str(missing), passwordFile=str(pw))) == (
        f"VCenter/lab: credentials.usernameFile {missing}: file not found")


def test_default_environment_variables():
    s = settings_from_spec("lab", spec(), environ=ENV)
    assert (s.username, s.password.get_secret_value()) == ("u", "p")
    assert error(settings_from_spec, "lab", spec(), environ={"VSR_USERNAME": "u", "VSR_PASSWORD": ""}) == (
        "VCenter/lab: credentials: no password given; set credentials.passwordEnv or credentials.passwordFile "
        "(or the environment variable VSR_PASSWORD)")
    assert error(settings_from_spec, "lab", spec(), environ={"VSR_PASSWORD": "p"}) == (
        "VCenter/lab: credentials: no username given; set credentials.usernameEnv or credentials.usernameFile "
        "(or the environment variable VSR_USERNAME)")


# -- settings_from_spec ---------------------------------------------------------------------------------------------

def test_spec_fields():
    s = settings_from_spec("lab", {"server": "https://vc:8443/sdk", "credentials": {},
                                   "tls": {"verify": False, "ca_file": "/ca.pem", "thumbprint": FP}}, environ=ENV)
    assert (s.name, s.host, s.port, s.verify, s.ca_file, s.thumbprint, s.timeout) == (
        "lab", "vc", 8443, False, "/ca.pem", FP.upper(), 120.0)
    s = settings_from_spec("lab", {"server": "vc", "tls": {}}, environ=ENV)
    assert (s.verify, s.ca_file, s.thumbprint) == (True, None, None)
    s = settings_from_spec("lab", {"server": "vc", "tls": {"verify": 0, "caFile": "", "thumbprint": ""}}, environ=ENV)
    assert (s.verify, s.ca_file, s.thumbprint) == (False, None, None)
    assert settings_from_spec("lab", {"server": "vc", "tls": {"verify": "yes"}}, environ=ENV).verify is True


def test_spec_errors_name_the_document():
    assert error(settings_from_spec, "lab", {"server": ""}, environ=ENV) == "VCenter/lab: spec.server is required"
    assert error(settings_from_spec, "lab", {}, environ=ENV) == "VCenter/lab: spec.server is required"
    assert error(settings_from_spec, "lab", {"server": "h:abc"}, environ=ENV) == (
        "VCenter/lab: server 'h:abc': the port must be a number from 1 to 65535")
    assert error(settings_from_spec, "lab", {"server": "h", "tls": {"thumbprint": "zz"}}, environ=ENV) == (
        "VCenter/lab: tls.thumbprint: a thumbprint is hex digits, optionally separated by ':'")


# -- settings_from_cli ----------------------------------------------------------------------------------------------

def test_cli_values(tmp_path):
    pw = secret(tmp_path, "fp\n")
    s = settings_from_cli("vc:444", "admin", pw, environ={"VSR_PASSWORD": "env"}, ca_file="/ca.pem",
                          thumbprint=FP.replace(":", ""))
    assert (s.name, s.host, s.port, s.username, s.password.get_secret_value(), s.verify, s.ca_file, s.thumbprint,
            s.timeout, s.username_file) == ("vc", "vc", 444, "admin", "fp", True, "/ca.pem", FP.upper(), 120.0, None)
    s = settings_from_cli("vc", "admin", None, insecure=True, environ={"VSR_PASSWORD": "env"}, name="lab")
    assert (s.name, s.password.get_secret_value(), s.verify, s.ca_file, s.thumbprint) == ("lab", "env", False, None,
                                                                                          None)
    s = settings_from_cli("flag", "flag-user", None, environ={"VSR_SERVER": "env", "VSR_USERNAME": "eu",
                                                               "VSR_PASSWORD": "p"})
    assert (s.host, s.username) == ("flag", "flag-user")


def test_cli_messages(tmp_path):
    assert error(settings_from_cli, None, "u", None, environ={"VSR_SERVER": "", "VSR_PASSWORD": "p"}) == (
        "no server: pass --server or set VSR_SERVER (or give a VCenter document)")
    assert error(settings_from_cli, "h", "", None, environ={"VSR_PASSWORD": "p"}) == (
        "no username: pass --username or set VSR_USERNAME")
    assert error(settings_from_cli, "h", "u", None, environ={"VSR_PASSWORD": ""}) == (
        "no password: pass --password-file or set VSR_PASSWORD")
    assert error(settings_from_cli, "h:0", "u", None, environ={"VSR_PASSWORD": "p"}) == (
        "server 'h:0': the port must be a number from 1 to 65535")
    missing = tmp_path / "missing"
    assert error(settings_from_cli, "h", "u", missing, environ={"VSR_PASSWORD": "p"}) == (
        f"--password-file {missing}: file not found")
    assert error(settings_from_cli, "h", "u", None, environ={"VSR_PASSWORD": "p"}, thumbprint="zz") == (
        "tls.thumbprint: a thumbprint is hex digits, optionally separated by ':'")
