"""Advanced settings renamed between ESXi releases. A spec names one spelling; each host is diffed and written
under the spelling that host has (its own option list comes with its build), while the change keeps the spec's
key in its field path."""

from __future__ import annotations

from collections.abc import Collection

#: groups of names for one setting, newest first, with the release that introduced the newer name
ALIASES: tuple[tuple[str, ...], ...] = (
    # ESXi 6.x/7.0 and STIG ESXI-80 V1R1 -> ESXi 8.0 (STIG V2R1 "Updated check/fix text with new setting")
    ("Syslog.global.certificate.checkSSLCerts", "Syslog.global.logCheckSSLCerts"),
    # SCG 7 spelling -> SCG 8 (SCG tools CHANGELOG 803-20260612-01 "Fixed Config.Etc.Issue casing")
    ("Config.Etc.issue", "Config.Etc.Issue"),
)
_GROUP = {name: group for group in ALIASES for name in group}


def names(key: str) -> tuple[str, ...]:
    """Every spelling of `key`, the key itself first."""
    group = _GROUP.get(key, ())
    return (key, *(n for n in group if n != key))


def resolve(key: str, available: Collection[str]) -> str:
    """The spelling of `key` this host has: the key itself when present, else the first alias present,
    else the key unchanged (so an unknown key is reported under the name the spec used)."""
    return next((n for n in names(key) if n in available), key)
