"""The host's TLS server profile (`tls.profile`), with esxcli over the VIM API (esxcli system tls server get/set).

A new profile takes effect at the host's next reboot: the change is held back (`needsReboot`) unless the policy's
`remediation.reboot` is Allowed; once written it is `pendingReboot` until the host has rebooted (the host's
`RebootRequired`). `vsr apply` reboots the host only in a rolling window (`remediation.maintenanceMode: Allowed`,
`engine.rolling`); the daemon never does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers import esxcli_common as common
from reconciler.controllers.contract import (
    ConnectionFacts,
    FieldDiff,
    FieldPath,
    Impact,
    ObjectState,
    Polled,
    Skip,
    gate_reboot,
)
from reconciler.vsphere import tls
from reconciler.vsphere.esxcli import Command
from reconciler.vsphere.protocol import Connection

SOURCE = "esxcli.tlsServer"
GET = Command("system tls server", "get")
SET = Command("system tls server", "set")
PROFILE = ("tls", "profile")
TLS13_ONLY = "NIST_2024_TLS_13_ONLY"


class HostTls(common.EsxcliController):
    name = "tls"
    order = 73
    spec_key = "tls"
    polled = (Polled(SOURCE, esxcli=GET),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if PROFILE not in desired:
            return []
        server = common.struct(state, SOURCE)
        current = common.field(server, "Profile")
        want = desired[PROFILE]
        if current != want:
            return [gate_reboot(FieldDiff(PROFILE, current, want, impact=Impact.REBOOT,
                                          message="takes effect at the host's next reboot"), desired)]
        if common.flag(server, "RebootRequired"):
            return [FieldDiff(PROFILE, current, want, impact=Impact.REBOOT, skip=Skip.PENDING_REBOOT,
                              message="configured; takes effect at the host's next reboot")]
        return []

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        """Connected directly to the host, vsr's own TLS client must be able to speak the new profile."""
        if facts.is_vcenter or diff.desired != TLS13_ONLY or "TLSv1.3" in tls.client_protocols():
            return None
        return (f"refusing TLS profile {TLS13_ONLY}: the reconciler connects directly to this host and its TLS "
                f"client cannot negotiate TLS 1.3 (it offers {', '.join(sorted(tls.client_protocols()))})")

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        for d in diffs:
            common.run(conn, state, SET, profile=d.desired)
