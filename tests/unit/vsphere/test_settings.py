import os

import pytest
from pydantic import SecretStr

from reconciler.vsphere.settings import (ConnectionSettings, SettingsError, normalize_thumbprint, parse_server,
                                         settings_from_cli, settings_from_spec)

SECRET = "s3cr3t-Pa55!"
FP = "ab:" * 31 + "cd"


def test_parse_server():
    assert parse_server("vcsa.lab") == ("vcsa.lab", 443)
    assert parse_server("vcsa.lab:8443") == ("vcsa.lab", 8443)
    assert parse_server("https://vcsa.lab:9443/sdk") == ("vcsa.lab", 9443)
    assert parse_server("[::1]:8989") == ("::1", 8989)
    assert parse_server("::1") == ("::1", 443)
    for bad in ("", "host:0", "host:99999", "host:abc", ":443"):
        with pytest.raises(SettingsError):
            parse_server(bad)


@pytest.mark.parametrize("text", [
    FP, FP.upper(), FP.replace(":", ""), FP.replace(":", " "), "sha256:" + FP, "SHA256=" + FP.replace(":", "-"),
])
def test_normalize_thumbprint(text):
    assert normalize_thumbprint(text) == FP.upper()


@pytest.mark.parametrize("text, words", [
    ("ab:" * 19 + "cd", "SHA-1"),
    ("zz" * 32, "hex"),
    ("ab" * 31, "64 hex digits"),
    ("", "hex"),
])
def test_normalize_thumbprint_rejects(text, words):
    with pytest.raises(SettingsError, match=words):
        normalize_thumbprint(text)


def test_spec_with_env_and_file(tmp_path):
    pw = tmp_path / "password"
    pw.write_text(SECRET + "\n")
    s = settings_from_spec("lab", {"server": "vcsa:8443", "credentials": {"usernameEnv": "U", "passwordFile": str(pw)},
                                   "tls": {"caFile": "/ca.pem"}}, environ={"U": "svc-vsr"})
    assert (s.name, s.host, s.port, s.username, s.verify, s.ca_file) == ("lab", "vcsa", 8443, "svc-vsr", True,
                                                                        "/ca.pem")
    assert s.password.get_secret_value() == SECRET
    assert SECRET not in repr(s) and SECRET not in str(s)


def test_spec_password_env_username_file_thumbprint(tmp_path):
    user = tmp_path / "user"
    user.write_text("root\r\n")
    s = settings_from_spec("esx", {"server": "esx01", "credentials": {"usernameFile": str(user), "passwordEnv": "PW"},
                                   "tls": {"thumbprint": FP, "verify": True}}, environ={"PW": SECRET})
    assert s.username == "root" and s.port == 443
    assert s.thumbprint == FP.upper()
    assert s.password.get_secret_value() == SECRET


def test_spec_snake_case_and_model_like(tmp_path):
    class Model:
        def model_dump(self, **kw):
            return {"server": "h", "credentials": {"username": "u", "passwordEnv": "PW"}, "tls": {"verify": False}}
    s = settings_from_spec("m", Model(), environ={"PW": "x"})
    assert s.verify is False and s.username == "u"
    s = settings_from_spec("m", {"server": "h", "credentials": {"username_env": "U", "password_env": "PW"}},
                           environ={"U": "a", "PW": "b"})
    assert s.username == "a"


def test_spec_defaults_to_vsr_env():
    s = settings_from_spec("d", {"server": "h"}, environ={"VSR_USERNAME": "u", "VSR_PASSWORD": "p"})
    assert s.username == "u" and s.password.get_secret_value() == "p"


def test_missing_env_var_is_named():
    with pytest.raises(SettingsError) as err:
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "passwordEnv": "LAB_PW"}},
                           environ={})
    assert "LAB_PW" in str(err.value) and "VCenter/lab" in str(err.value)


def test_empty_env_var():
    with pytest.raises(SettingsError, match="LAB_PW is empty"):
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "passwordEnv": "LAB_PW"}},
                           environ={"LAB_PW": ""})


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(SettingsError, match=f"passwordFile {missing}: file not found"):
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "passwordFile": str(missing)}},
                           environ={})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(SECRET)
    pw.chmod(0)
    with pytest.raises(SettingsError) as err:
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "passwordFile": str(pw)}},
                           environ={})
    assert "permission denied" in str(err.value) and SECRET not in str(err.value)


def test_directory_and_empty_file(tmp_path):
    with pytest.raises(SettingsError, match="is a directory"):
        settings_from_spec("l", {"server": "h", "credentials": {"username": "u", "passwordFile": str(tmp_path)}})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match="file is empty"):
        settings_from_spec("l", {"server": "h", "credentials": {"username": "u", "passwordFile": str(empty)}})


def test_inline_password_refused_and_never_shown():
    with pytest.raises(SettingsError) as err:
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "password": SECRET}}, environ={})
    assert SECRET not in str(err.value)
    assert "passwordEnv" in str(err.value)


def test_two_sources_refused():
    with pytest.raises(SettingsError, match="only one of"):
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "passwordEnv": "A",
                                                                  "passwordFile": "/x"}}, environ={"A": "x"})


def test_no_password_at_all():
    with pytest.raises(SettingsError, match="VSR_PASSWORD"):
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u"}}, environ={})


def test_missing_server():
    with pytest.raises(SettingsError, match="spec.server is required"):
        settings_from_spec("lab", {"credentials": {}}, environ={})


def test_bad_thumbprint_in_spec_names_document():
    with pytest.raises(SettingsError, match="VCenter/lab: tls.thumbprint"):
        settings_from_spec("lab", {"server": "h", "tls": {"thumbprint": "12:34"}},
                           environ={"VSR_USERNAME": "u", "VSR_PASSWORD": "p"})


def test_cli_flags_and_env(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(SECRET)
    s = settings_from_cli("vcsa:444", "admin", str(pw), insecure=True, environ={})
    assert (s.host, s.port, s.username, s.verify) == ("vcsa", 444, "admin", False)
    assert s.password.get_secret_value() == SECRET
    s = settings_from_cli(None, None, None, environ={"VSR_SERVER": "e", "VSR_USERNAME": "eu", "VSR_PASSWORD": "ep"})
    assert (s.host, s.username, s.password.get_secret_value(), s.verify) == ("e", "eu", "ep", True)


@pytest.mark.parametrize("env, words", [
    ({}, "VSR_SERVER"),
    ({"VSR_SERVER": "h"}, "VSR_USERNAME"),
    ({"VSR_SERVER": "h", "VSR_USERNAME": "u"}, "VSR_PASSWORD"),
])
def test_cli_missing(env, words):
    with pytest.raises(SettingsError, match=words):
        settings_from_cli(None, None, None, environ=env)


def test_settings_repr_hides_password():
    s = ConnectionSettings(name="n", host="h", username="u", password=SECRET)  # plain str is wrapped
    assert isinstance(s.password, SecretStr)
    assert SECRET not in repr(s) and SECRET not in f"{s}" and SECRET not in str(s.password)
    assert s.address == "h:443"
    assert ConnectionSettings(name="n", host="::1", username="u", password="p", port=9).address == "[::1]:9"


def test_unreadable_file_even_as_root(tmp_path, monkeypatch):
    import pathlib
    pw = tmp_path / "pw"
    pw.write_text(SECRET)

    def deny(self, *a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(pathlib.Path, "read_bytes", deny)
    with pytest.raises(SettingsError) as err:
        settings_from_spec("lab", {"server": "h", "credentials": {"username": "u", "passwordFile": str(pw)}},
                           environ={})
    assert str(err.value) == f"VCenter/lab: credentials.passwordFile {pw}: permission denied"


def test_settings_from_a_loaded_vcenter_document(tmp_path):
    api = pytest.importorskip("reconciler.api")
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    spec_file = tmp_path / "vc.yaml"
    spec_file.write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {name: lab}\nspec:\n"
        "  server: \"vcsa.lab:8443\"\n"
        f"  credentials: {{usernameEnv: LAB_USER, passwordFile: \"{pw}\"}}\n"
        f"  tls: {{thumbprint: \"{FP}\"}}\n")
    result = api.load_specs([spec_file])
    assert not result.errors
    doc = result.documents[0]
    s = settings_from_spec(doc.name, doc.model.spec, environ={"LAB_USER": "svc-vsr"})
    assert (s.name, s.host, s.port, s.username, s.verify, s.thumbprint) == ("lab", "vcsa.lab", 8443, "svc-vsr", True,
                                                                            FP.upper())
    assert s.password.get_secret_value() == SECRET


def test_request_timeout_comes_from_the_spec(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    spec = {"server": "vcsa", "credentials": {"username": "u", "passwordFile": str(pw)}}
    assert settings_from_spec("lab", spec, environ={}).timeout == 120.0
    assert settings_from_spec("lab", {**spec, "requestTimeoutSeconds": 900}, environ={}).timeout == 900.0
