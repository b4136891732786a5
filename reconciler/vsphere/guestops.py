"""Files inside a guest through the Guest Operations API (GuestOperationsManager.fileManager).

`InitiateFileTransferFromGuest` / `InitiateFileTransferToGuest` return a one-time URL; the file itself moves
over HTTPS (GET downloads, PUT uploads). The URL's host is `*` when it is the server the call was made to: it is
replaced by the connection's host, and the transfer is verified with the connection's own TLS settings (CA
bundle, pin), never less. Guest credentials travel only inside `vim.vm.guest.NamePasswordAuthentication`; they
never enter an exception message, a log line or a return value.
"""

from __future__ import annotations

import http.client
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from pyVmomi import vim

from reconciler.vsphere import tls
from reconciler.vsphere.protocol import Connection


@dataclass(frozen=True)
class GuestCredentials:
    """A guest account: the user name and its password (a SecretStr: `repr` shows `**********`)."""

    username: str
    password: SecretStr = field(repr=True)

    def auth(self) -> Any:
        return vim.vm.guest.NamePasswordAuthentication(username=self.username,
                                                       password=self.password.get_secret_value(),
                                                       interactiveSession=False)


class TransferError(Exception):
    """The HTTPS transfer of a guest file failed (status or network); the message names no secret."""


def transfer_url(url: str, host: str) -> urllib.parse.SplitResult:
    """The transfer URL with a `*` host replaced by the host the API call was made to (its port kept)."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname == "*":
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    if parts.scheme != "https":
        raise TransferError(f"guest file transfer URL is not HTTPS ({parts.scheme}://): refused")
    return parts


def _https(conn: Connection, method: str, url: str, body: bytes | None = None) -> bytes:
    settings = conn.settings
    parts = transfer_url(url, settings.host)
    cls = tls.connection_class(settings.thumbprint)
    http_conn = cls(parts.hostname or settings.host, parts.port or 443, context=tls.build_context(settings),
                    timeout=min(settings.timeout, 60.0))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        http_conn.request(method, target, body=body, headers=headers)
        response = http_conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise TransferError(f"guest file transfer {method} answered HTTP {response.status}")
        return data
    except (OSError, http.client.HTTPException) as exc:
        raise TransferError(f"guest file transfer {method} failed: {type(exc).__name__}") from None
    finally:
        http_conn.close()


def file_manager(conn: Connection) -> Any:
    return conn.content.guestOperationsManager.fileManager


def read_file(conn: Connection, vm: Any, creds: GuestCredentials, path: str) -> bytes | None:
    """The file's content, or None when the guest has no such file (FileNotFound)."""
    try:
        info = conn.call(file_manager(conn).InitiateFileTransferFromGuest, vm=vm, auth=creds.auth(),
                         guestFilePath=path)
    except vim.fault.FileNotFound:
        return None
    return _https(conn, "GET", info.url)


def write_file(conn: Connection, vm: Any, creds: GuestCredentials, path: str, data: bytes) -> None:
    """Replace (or create) the file with `data`: one InitiateFileTransferToGuest, one HTTPS PUT."""
    url = conn.call(file_manager(conn).InitiateFileTransferToGuest, vm=vm, auth=creds.auth(), guestFilePath=path,
                    fileAttributes=vim.vm.guest.FileManager.FileAttributes(), fileSize=len(data), overwrite=True)
    _https(conn, "PUT", url, data)
