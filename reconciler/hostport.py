"""`host[:port]` parsing, the one implementation behind `VCenter.spec.server`, `--server` and `--listen`."""

from __future__ import annotations

import ipaddress


def split_host_port(text: str, default_port: int | None, *, min_port: int = 1) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]` / `[v6]:port` or a bare IPv6 literal -> (host, port). The host may be empty
    (`:8080`); callers decide whether that is allowed. `default_port=None` makes the port required; `min_port=0`
    admits port 0 (listen on any free port). Raises ValueError with a message naming `text`."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"{text!r}: unclosed '[' in an IPv6 address")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected ':port' after ']'")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
        return host, parse_port(text, rest[1:], min_port) if rest else _default(text, default_port)
    if text.count(":") > 1:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(f"{text!r} is not host[:port] (write an IPv6 address as [addr]:port)") from None
        return text, _default(text, default_port)
    host, sep, rest = text.partition(":")
    return host, parse_port(text, rest, min_port) if sep else _default(text, default_port)


def parse_port(text: str, port: str, min_port: int = 1) -> int:
    if not port.isdigit() or not min_port <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from {min_port} to 65535")
    return int(port)


def _default(text: str, default_port: int | None) -> int:
    if default_port is None:
        raise ValueError(f"{text!r}: give HOST:PORT (the port is required)")
    return default_port
