"""The issuer of the host's TLS certificate (HostCertificateManager.certificateInfo): `certificate.allowedIssuers`,
audit only: replacing a host certificate needs a CA-signed certificate and its key (vCenter's certificate
management, or `HostCertificateManager.InstallServerCertificate`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Related, Skip
from reconciler.vsphere.protocol import Connection

ISSUERS: FieldPath = ("certificate", "allowedIssuers")
CERTIFICATES = "configManager.certificateManager"
CERT_REASON = ("audit only: vsr does not replace host certificates; install one issued by an allowed CA "
               "(vCenter certificate management or HostCertificateManager.InstallServerCertificate)")


def parse_dn(text: str) -> set[tuple[str, str]]:
    """`CN=CA, O=Example` -> {("cn", "ca"), ("o", "example")}: attribute names and values, case-insensitive.
    Commas escaped with a backslash stay in the value."""
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    out = set()
    for part in parts:
        name, eq, value = part.partition("=")
        if eq and name.strip():
            out.add((name.strip().lower(), value.strip().lower()))
    return out


def issuer_allowed(issuer: str, allowed: list[str]) -> bool:
    """Does one allowed entry's attributes all appear in the issuer's distinguished name?"""
    have = parse_dn(issuer)
    return any(parse_dn(entry) <= have for entry in allowed)


class HostCertificate(Controller):
    name = "certificate"
    order = 80
    spec_key = "certificate"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ()
    related = (Related(via=CERTIFICATES, type="HostCertificateManager", properties=("certificateInfo",)),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if ISSUERS not in desired:
            return []
        allowed = [str(e) for e in desired[ISSUERS]]
        if state.props.get(CERTIFICATES) is None:
            return [FieldDiff(ISSUERS, None, allowed, skip=Skip.UNSUPPORTED,
                              message="the host has no certificate manager (HostCertificateManager)")]
        manager = state.related.get(CERTIFICATES)
        info = manager.props.get("certificateInfo") if manager is not None else None
        issuer = getattr(info, "issuer", None) if info is not None else None
        if not issuer:
            return [FieldDiff(ISSUERS, None, allowed, skip=Skip.UNSUPPORTED,
                              message="the host reports no certificate issuer")]
        if issuer_allowed(str(issuer), allowed):
            return []
        return [FieldDiff(ISSUERS, str(issuer), allowed, skip=Skip.AUDIT, message=CERT_REASON)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        raise NotImplementedError("certificate.allowedIssuers is audit only")  # diff never yields an actionable change
