"""vSphere access: connections (TLS, credentials, re-login, retries), bulk inventory, task waiting, property watch.

Knows nothing about specs or controllers (docs/architecture.md).
"""

from reconciler.vsphere.connection import Connection, RetryPolicy
from reconciler.vsphere.faults import ConnectError, FaultKind, ThumbprintMismatch, VsphereError, classify
from reconciler.vsphere.settings import (
    ConnectionSettings,
    SettingsError,
    normalize_thumbprint,
    parse_server,
    settings_from_cli,
    settings_from_spec,
)

__all__ = [
    "Connection", "ConnectionSettings", "RetryPolicy", "ConnectError", "SettingsError", "FaultKind",
    "ThumbprintMismatch", "VsphereError", "classify", "normalize_thumbprint", "parse_server",
    "settings_from_cli", "settings_from_spec",
]
