"""Connection settings: where a vCenter (or ESXi host) is, how to authenticate, how to trust its certificate.

Secrets come from environment variables or files only (DESIGN.md, "Safety rules"). Errors name the variable or
file that is missing or unreadable, never its content.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from reconciler.hostport import split_host_port
from reconciler.thumbprint import normalize_thumbprint as _normalize_thumbprint

DEFAULT_PORT = 443
ENV_SERVER = "VSR_SERVER"
ENV_USERNAME = "VSR_USERNAME"
ENV_PASSWORD = "VSR_PASSWORD"
ENV_CREDENTIALS_DIR = "VSR_CREDENTIALS_DIR"

_credential_dirs: tuple[str, ...] = ()  # when set, every file a spec or flag names must resolve inside one


class SettingsError(ValueError):
    """A VCenter document or the command line does not say how to connect. The message is safe to print."""


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to open a :class:`~reconciler.vsphere.connection.Connection`.

    ``password`` is a pydantic ``SecretStr``: its ``repr``/``str`` show ``**********``.
    ``thumbprint`` is a normalised SHA-256 pin (``AA:BB:...``); with a pin and no ``ca_file`` the certificate
    chain is not checked (self-signed certificates work), only the pin.
    """

    name: str
    host: str
    username: str
    password: SecretStr = field(repr=True)
    port: int = DEFAULT_PORT
    verify: bool = True
    ca_file: str | None = None
    thumbprint: str | None = None
    timeout: float = 120.0          # socket timeout of one SOAP request (long enough for WaitForUpdatesEx)
    username_file: str | None = None  # set when the user name was read from a file: messages name the file only

    @property
    def user_label(self) -> str:
        """The user for messages and logs: the name, or "the user in FILE" when it was read from a file."""
        return f"the user in {self.username_file}" if self.username_file else self.username

    def __post_init__(self) -> None:
        if not isinstance(self.password, SecretStr):
            object.__setattr__(self, "password", SecretStr(str(self.password)))
        if self.thumbprint:
            object.__setattr__(self, "thumbprint", normalize_thumbprint(self.thumbprint))

    @property
    def address(self) -> str:
        """``host:port`` for messages (IPv6 literals in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"




def normalize_thumbprint(value: str) -> str:
    """`reconciler.thumbprint.normalize_thumbprint`, failing with a SettingsError that names the field."""
    try:
        return _normalize_thumbprint(value)
    except ValueError as exc:
        raise SettingsError(f"tls.thumbprint: {exc}") from None


def parse_server(server: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or ``https://host[:port][/sdk]`` -> (host, port)."""
    text = server.strip()
    if not text:
        raise SettingsError("server is empty")
    text = re.sub(r"^https?://", "", text, flags=re.IGNORECASE).split("/", 1)[0]
    try:
        host, port = split_host_port(text, DEFAULT_PORT)
    except ValueError as exc:
        raise SettingsError(f"server {exc}") from None
    if not host:
        raise SettingsError(f"server {server!r} has no host")
    return host, port


def _get(mapping: Mapping[str, Any], camel: str) -> Any:
    """Read ``camel`` or its snake_case spelling (pydantic dumps without aliases)."""
    if camel in mapping:
        return mapping[camel]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return mapping.get(snake)


def _as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        value = value.model_dump(by_alias=True, exclude_none=True)
    if not isinstance(value, Mapping):
        raise SettingsError(f"{what} must be a mapping")
    return value


def set_credential_dirs(dirs: list[str] | tuple[str, ...]) -> None:
    """Restrict credential and CA files to these directories (symlinks resolved); empty = no restriction."""
    global _credential_dirs
    _credential_dirs = tuple(os.path.realpath(os.path.expanduser(d)) for d in dirs if d)


def credential_dirs_from_env(environ: Mapping[str, str] = os.environ) -> list[str]:
    """``VSR_CREDENTIALS_DIR``: directories separated by ``:``."""
    return [d for d in environ.get(ENV_CREDENTIALS_DIR, "").split(":") if d]


def check_allowed_file(path: str | os.PathLike[str], what: str) -> None:
    """Refuse a file outside the configured credential directories (after resolving symlinks)."""
    if not _credential_dirs:
        return
    real = os.path.realpath(os.path.expanduser(path))
    if not any(real == d or real.startswith(d.rstrip(os.sep) + os.sep) for d in _credential_dirs):
        raise SettingsError(f"{what} {path}: not inside the credential directories ({', '.join(_credential_dirs)}); "
                            "see --credentials-dir / VSR_CREDENTIALS_DIR")


def read_secret_file(path: str | os.PathLike[str], what: str, *, one_line: bool = False) -> str:
    """Read a secret from a file: trailing newlines stripped; errors name ``what`` and the path only, never the
    content. ``one_line``: the value must be a single line without control characters (a user name)."""
    check_allowed_file(path, what)
    try:
        # bytes, then decode: text mode would turn a \r inside the secret into \n (universal newlines)
        text = Path(path).expanduser().read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{what} {path}: file not found") from None
    except PermissionError:
        raise SettingsError(f"{what} {path}: permission denied") from None
    except IsADirectoryError:
        raise SettingsError(f"{what} {path}: is a directory") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{what} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise SettingsError(f"{what} {path}: {exc.strerror or 'cannot read'}") from None
    text = text.rstrip("\r\n")
    if not text:
        raise SettingsError(f"{what} {path}: file is empty")
    if one_line and any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        lines = len(text.splitlines())
        problem = f"has {lines} lines" if lines > 1 else "contains control characters"
        raise SettingsError(f"{what} {path}: {problem}; it must hold only the user name, on one line")
    return text


def read_secret_env(var: str, what: str, environ: Mapping[str, str]) -> str:
    value = environ.get(var)
    if value is None:
        raise SettingsError(f"{what}: environment variable {var} is not set")
    if value == "":
        raise SettingsError(f"{what}: environment variable {var} is empty")
    return value


def _credential(creds: Mapping[str, Any], field_name: str, environ: Mapping[str, str], default_env: str,
                allow_inline: bool) -> tuple[str, str | None]:
    """The value and, when it was read from a file, the file's path."""
    inline = _get(creds, field_name)
    env = _get(creds, field_name + "Env")
    path = _get(creds, field_name + "File")
    given = [k for k, v in ((field_name, inline), (field_name + "Env", env), (field_name + "File", path)) if v]
    if len(given) > 1:
        raise SettingsError(f"credentials: give only one of {', '.join(given)}")
    if inline:
        if not allow_inline:
            # Never echo the value.
            raise SettingsError(f"credentials.{field_name}: inline secrets are not allowed in spec documents; "
                                f"use credentials.{field_name}Env or credentials.{field_name}File")
        return str(inline), None
    if env:
        return read_secret_env(str(env), f"credentials.{field_name}Env", environ), None
    if path:
        return read_secret_file(str(path), f"credentials.{field_name}File", one_line=field_name == "username"), str(path)
    if environ.get(default_env):
        return environ[default_env], None
    raise SettingsError(f"credentials: no {field_name} given; set credentials.{field_name}Env or "
                        f"credentials.{field_name}File (or the environment variable {default_env})")


def settings_from_spec(name: str, spec: Mapping[str, Any] | BaseModel, environ: Mapping[str, str] = os.environ
                       ) -> ConnectionSettings:
    """Settings from the ``spec`` of a ``VCenter`` document (camelCase keys, or a pydantic model).

    ``server`` is ``host[:port]``; ``credentials`` has ``username`` | ``usernameEnv`` | ``usernameFile`` and
    ``passwordEnv`` | ``passwordFile`` (falling back to ``VSR_USERNAME`` / ``VSR_PASSWORD``); ``tls`` has
    ``verify`` (default true), ``caFile``, ``thumbprint``. Raises :class:`SettingsError` naming the document.
    """
    try:
        spec = _as_mapping(spec, "spec")
        server = _get(spec, "server")
        if not server:
            raise SettingsError("spec.server is required")
        host, port = parse_server(str(server))
        creds = _as_mapping(_get(spec, "credentials"), "spec.credentials")
        username, username_file = _credential(creds, "username", environ, ENV_USERNAME, allow_inline=True)
        password, _ = _credential(creds, "password", environ, ENV_PASSWORD, allow_inline=False)
        tls = _as_mapping(_get(spec, "tls"), "spec.tls")
        verify = _get(tls, "verify")
        ca_file = _get(tls, "caFile")
        thumbprint = _get(tls, "thumbprint")
        if ca_file:
            check_allowed_file(str(ca_file), "tls.caFile")
        timeout = _get(spec, "requestTimeoutSeconds")
        settings = ConnectionSettings(
            name=name, host=host, port=port, username=username, password=SecretStr(password),
            verify=True if verify is None else bool(verify),
            ca_file=str(ca_file) if ca_file else None,
            thumbprint=normalize_thumbprint(str(thumbprint)) if thumbprint else None, username_file=username_file,
            **({"timeout": float(timeout)} if timeout is not None else {}),
        )
    except SettingsError as exc:
        raise SettingsError(f"VCenter/{name}: {exc}") from None
    return settings


def settings_from_cli(server: str | None, username: str | None, password_file: str | os.PathLike[str] | None,
                      insecure: bool = False, environ: Mapping[str, str] = os.environ, *, name: str | None = None,
                      ca_file: str | None = None, thumbprint: str | None = None) -> ConnectionSettings:
    """Settings for ad-hoc use: ``--server``/``VSR_SERVER``, ``--username``/``VSR_USERNAME``,
    ``--password-file`` or ``VSR_PASSWORD``, ``--insecure``."""
    server = server or environ.get(ENV_SERVER)
    if not server:
        raise SettingsError(f"no server: pass --server or set {ENV_SERVER} (or give a VCenter document)")
    host, port = parse_server(server)
    if ca_file:
        check_allowed_file(ca_file, "--ca-file")
    username = username or environ.get(ENV_USERNAME)
    if not username:
        raise SettingsError(f"no username: pass --username or set {ENV_USERNAME}")
    if password_file:
        password = read_secret_file(password_file, "--password-file")
    elif environ.get(ENV_PASSWORD):
        password = environ[ENV_PASSWORD]
    else:
        raise SettingsError(f"no password: pass --password-file or set {ENV_PASSWORD}")
    return ConnectionSettings(
        name=name or host, host=host, port=port, username=username, password=SecretStr(password),
        verify=not insecure, ca_file=ca_file, thumbprint=normalize_thumbprint(thumbprint) if thumbprint else None,
    )
