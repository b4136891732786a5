"""What the engine, the controllers and the vSphere helpers need of a connection: a `Connection` Protocol.

`reconciler.vsphere.connection.Connection` (TLS, credentials, re-login, retries) is the implementation; code that
only reads and writes through a connection takes this Protocol, so that it names no transport and a test double
needs only these members. Opening and closing stay with the owner of the concrete connection (the runner, the
daemon's loop); `ping` and `relogin` are here because the bulk reads and the property watch re-establish a lost
session themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from reconciler.vsphere.settings import ConnectionSettings

T = TypeVar("T")


class Connection(Protocol):
    """A logged-in session to one vCenter or ESXi host."""

    settings: ConnectionSettings

    @property
    def name(self) -> str:
        """The connection's name (the VCenter document's `metadata.name`)."""
        ...

    @property
    def content(self) -> Any:
        """The `vim.ServiceInstanceContent` (pyVmomi is untyped)."""
        ...

    @property
    def is_vcenter(self) -> bool:
        """True for a vCenter, False for a directly connected ESXi host."""
        ...

    @property
    def username(self) -> str:
        ...

    @property
    def local_address(self) -> str | None:
        """vsr's own source address on the API socket (what firewalls see), None when unknown."""
        ...

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one vSphere call with the connection's retries and re-login."""
        ...

    def call_once(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one vSphere call with re-login but no retry of transient faults: for calls whose repetition is
        not the same call (WaitForUpdatesEx: a lost reply may have advanced the collector)."""
        ...

    def ping(self) -> bool:
        """True when the server answers and the session is valid (re-logging in if needed)."""
        ...

    def relogin(self) -> None:
        """Log in again on the same session stub (managed-object references stay valid)."""
        ...


__all__ = ["Connection"]
