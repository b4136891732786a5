"""A directly connected ESXi host's HTTPS file endpoints (`/host/<name>`, e.g. `ssh_root_authorized_keys`):
GET and PUT with the API session's cookie, over the same TLS settings as the API (CA file or pinned thumbprint).
A 401/403 (the session expired) logs in again once and repeats the request. Errors name the path and the status,
never the body."""

from __future__ import annotations

import http.client
from typing import Any

from reconciler.vsphere import tls
from reconciler.vsphere.protocol import Connection


class HostFileError(RuntimeError):
    pass


def _cookie(conn: Connection) -> str:
    stub = getattr(getattr(conn, "si", None), "_stub", None)
    cookie = getattr(stub, "cookie", "") or ""
    if not cookie:
        raise HostFileError("no API session cookie to authenticate the host file request with")
    return str(cookie).split(";", 1)[0]


def _request(conn: Connection, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
    s = conn.settings
    http_conn: Any = tls.connection_class(s.thumbprint)(s.host, s.port, context=tls.build_context(s),
                                                         timeout=min(s.timeout, 30.0))
    try:
        headers = {"Cookie": _cookie(conn)}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        http_conn.request(method, path, body=body, headers=headers)
        response = http_conn.getresponse()
        return response.status, response.read()
    finally:
        http_conn.close()


def _call(conn: Connection, method: str, name: str, body: bytes | None = None) -> bytes:
    path = f"/host/{name}"
    for attempt in (1, 2):
        try:
            status, data = _request(conn, method, path, body)
        except OSError as exc:
            raise HostFileError(f"{method} {path}: {exc.strerror or type(exc).__name__}") from None
        if status in (401, 403) and attempt == 1:
            conn.relogin()
            continue
        if status // 100 != 2:
            raise HostFileError(f"{method} {path}: HTTP {status}")
        return data
    raise HostFileError(f"{method} {path}: not authenticated")  # pragma: no cover - the loop returns or raises


def get(conn: Connection, name: str) -> str:
    return _call(conn, "GET", name).decode("utf-8", "replace")


def put(conn: Connection, name: str, text: str) -> None:
    _call(conn, "PUT", name, text.encode("utf-8"))
