"""VMware Tools settings inside the guest (`tools.conf`): `guestTools.<field>`.

The file is read and written through the Guest Operations API (`reconciler.vsphere.guestops`) with the guest
account the policy names (`guestTools.credentials`: environment variables or files only). There is no property to
watch: the file is a polled source, read per VM on its interval and right after vsr's own write; the plan says
when it was read (`readAt`). A VM whose guest cannot be read (powered off, Tools not running, no or wrong
credentials, guest operations disabled) has every field reported `unsupported` with the reason, and the others
go on. An absent key has its VMware Tools default (an absent file: every key at its default).

All changed keys of one VM go into one file write, `[guestoperations] disabled` last. Setting
`guestOperationsDisabled: true` ends vsr's own access to the guest (Guest Operations then fault), so it is refused
unless the policy says `acceptLosingAccess: true`; after such a write vsr can only report what it wrote."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from pyVmomi import vim

from reconciler.controllers import toolsconf
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState, Polled, Skip
from reconciler.controllers.vm_common import VMController
from reconciler.vsphere import faults, guestops
from reconciler.vsphere.protocol import Connection
from reconciler.vsphere.settings import SettingsError, read_secret_env, read_secret_file

SECTION = "guestTools"
SOURCE = "toolsConf"
CREDENTIALS: FieldPath = (SECTION, "credentials")
ACCEPT: FieldPath = (SECTION, "acceptLosingAccess")
ENFORCEMENT: FieldPath = (SECTION, "enforcement")
GUEST_OPS: FieldPath = (SECTION, "guestOperationsDisabled")
LINUX_PATH = "/etc/vmware-tools/tools.conf"
WINDOWS_PATH = r"C:\ProgramData\VMware\VMware Tools\tools.conf"
HANDLERS = ("vmtoolsd.handler", "vmsvc.handler", "toolboxcmd.handler", "vgauthsvc.handler")


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    kind: type  # bool | int | str
    default: Any  # the VMware Tools default when the key is absent


#: spec field -> tools.conf key (the SCG keys; defaults as a fresh install behaves)
SETTINGS: dict[str, Setting] = {
    "allowAddFeature": Setting("autoupgrade", "allow-add-feature", bool, True),
    "allowRemoveFeature": Setting("autoupgrade", "allow-remove-feature", bool, True),
    "allowUpgrade": Setting("autoupgrade", "allow-upgrade", bool, True),
    "allowMsiTransforms": Setting("autoupgrade", "allow-msi-transforms", bool, False),
    "appinfoDisabled": Setting("appinfo", "disabled", bool, False),
    "containerinfoPollInterval": Setting("containerinfo", "poll-interval", int, 21600),
    "guestStoreUpgradePolicy": Setting("gueststoreupgrade", "policy", str, "manual"),
    "serviceDiscoveryDisabled": Setting("servicediscovery", "disabled", bool, False),
    "logging": Setting("logging", "log", bool, True),
    "logHandler": Setting("logging", ",".join(HANDLERS), str, "file"),  # all four handlers
    "globalConfEnabled": Setting("globalconf", "enabled", bool, False),
    "customizationEnabled": Setting("deployPkg", "enable-customization", bool, True),
    "guestOperationsDisabled": Setting("guestoperations", "disabled", bool, False),  # last: ends vsr's access
}
ORDER = list(SETTINGS)

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


@dataclass(frozen=True)
class GuestRead:
    """One read of a guest's tools.conf: its text (None: the guest has no such file) or why it could not be read."""

    path: str = ""
    text: str | None = None
    problem: str = ""
    guest_ops_refused: bool = False  # Tools run, yet the guest operations agent refuses: disabled in tools.conf


def guest_path(state: ObjectState) -> str:
    """tools.conf's path by the guest OS family (`guest.guestFamily`, else `config.guestId`)."""
    family = str(state.props.get("guest.guestFamily") or "")
    guest_id = str(state.props.get("config.guestId") or "")
    return WINDOWS_PATH if family == "windowsGuest" or guest_id.lower().startswith("win") else LINUX_PATH


def credentials(spec: Any, environ: Mapping[str, str] | None = None) -> guestops.GuestCredentials:
    """The guest account from `guestTools.credentials` (environment or files; an inline user name is allowed,
    an inline password is not part of the model). Raises SettingsError naming the variable or file, never a value."""
    import os

    env = os.environ if environ is None else environ
    if not isinstance(spec, Mapping):
        raise SettingsError("no guestTools.credentials in the policy")
    if spec.get("username"):
        user = str(spec["username"])
    elif spec.get("usernameEnv"):
        user = read_secret_env(str(spec["usernameEnv"]), "guestTools.credentials.usernameEnv", env)
    elif spec.get("usernameFile"):
        user = read_secret_file(str(spec["usernameFile"]), "guestTools.credentials.usernameFile", one_line=True)
    else:
        raise SettingsError("guestTools.credentials: no user name given")
    if spec.get("passwordEnv"):
        password = read_secret_env(str(spec["passwordEnv"]), "guestTools.credentials.passwordEnv", env)
    elif spec.get("passwordFile"):
        password = read_secret_file(str(spec["passwordFile"]), "guestTools.credentials.passwordFile")
    else:
        raise SettingsError("guestTools.credentials: no password given")
    return guestops.GuestCredentials(user, SecretStr(password))


def _tools_running(state: ObjectState) -> bool:
    return str(state.props.get("guest.toolsRunningStatus")) == "guestToolsRunning"


def read_tools_conf(conn: Connection, state: ObjectState, desired: Mapping[FieldPath, Any]) -> GuestRead:
    """The polled read: never raises for a guest that cannot be read, it says why (one VM never stops others)."""
    path = guest_path(state)
    if str(state.props.get("runtime.powerState")) != "poweredOn":
        return GuestRead(path, problem="the VM is powered off: its guest cannot be read")
    if not _tools_running(state):
        return GuestRead(path, problem="VMware Tools is not running in the guest "
                                       f"({state.props.get('guest.toolsRunningStatus') or 'status unknown'})")
    try:
        creds = credentials(desired.get(CREDENTIALS))
    except SettingsError as exc:
        return GuestRead(path, problem=f"no guest credentials: {exc}")
    try:
        data = guestops.read_file(conn, state.mo, creds, path)
    except vim.fault.InvalidGuestLogin:
        return GuestRead(path, problem="the guest refused the credentials (InvalidGuestLogin)")
    except vim.fault.GuestPermissionDenied:
        return GuestRead(path, problem=f"the guest account may not read {path} (GuestPermissionDenied)")
    except vim.fault.GuestOperationsUnavailable:
        return GuestRead(path, problem="guest operations are unavailable although VMware Tools runs: "
                                       "[guestoperations] disabled in the guest's tools.conf",
                         guest_ops_refused=True)
    except (vim.fault.ToolsUnavailable, vim.fault.InvalidPowerState, vim.fault.GuestOperationsFault) as exc:
        return GuestRead(path, problem=f"the guest cannot be read ({faults.fault_name(exc)})")
    except guestops.TransferError as exc:
        return GuestRead(path, problem=str(exc))
    if data is None:
        return GuestRead(path, None)
    return GuestRead(path, data.decode("utf-8", errors="replace"))


def to_text(setting: Setting, value: Any) -> str:
    if setting.kind is bool:
        return "true" if value else "false"
    return str(value)


def effective(setting: Setting, values: Mapping[toolsconf.Key, str]) -> Any:
    """The value VMware Tools uses: the key's (typed), else its default."""
    if setting.key.count(",") and setting.section == "logging":
        seen = {values.get(("logging", k), setting.default) for k in HANDLERS}
        return seen.pop() if len(seen) == 1 else ", ".join(f"{k}={values.get(('logging', k), setting.default)}"
                                                          for k in HANDLERS)
    raw = values.get((setting.section, setting.key))
    if raw is None:
        return setting.default
    text = raw.strip()
    if setting.kind is bool:
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else text
    if setting.kind is int:
        try:
            return int(text)
        except ValueError:
            return text
    return text


def edits(changes: Mapping[str, Any]) -> dict[toolsconf.Key, str]:
    """tools.conf keys for changed spec fields, `[guestoperations] disabled` last."""
    out: dict[toolsconf.Key, str] = {}
    for name in ORDER:
        if name not in changes:
            continue
        setting = SETTINGS[name]
        keys = HANDLERS if name == "logHandler" else (setting.key,)
        for key in keys:
            out[(setting.section, key)] = to_text(setting, changes[name])
    return out


class VMGuestTools(VMController):
    name = "vmGuestTools"
    order = 170  # after the VM's own configuration: guest settings need the guest running
    spec_key = SECTION
    properties = ("runtime.powerState", "guest.toolsRunningStatus", "guest.guestFamily", "config.guestId")
    polled = (Polled(SOURCE, via="runtime.powerState", method="InitiateFileTransferFromGuest", reader=read_tools_conf),)

    def __init__(self) -> None:
        self._written: dict[str, tuple[dict[toolsconf.Key, str], dt.datetime]] = {}
        self._lock = threading.Lock()

    def observe(self, state: ObjectState) -> None:
        read = state.polled.get(SOURCE)
        own = state.own(self.name)
        if read is None or not isinstance(read.value, GuestRead):
            return
        own["read"] = read.value
        if read.value.problem:
            return
        own["values"] = toolsconf.parse(read.value.text or "")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        own = state.own(self.name)
        read: GuestRead | None = own.get("read")
        values: Mapping[toolsconf.Key, str] | None = own.get("values")
        wanted = [(p, v) for p, v in desired.items() if p[0] == SECTION and p[1] in SETTINGS]
        wanted.sort(key=lambda pv: ORDER.index(pv[0][1]))
        note = ""
        if values is None and read is not None and read.guest_ops_refused:
            with self._lock:
                memo = self._written.get(state.ref.moid)
            if memo is not None:  # vsr itself disabled guest operations: report what it wrote
                values, at = memo
                note = f"as vsr wrote it at {at.isoformat(timespec='seconds')}; guest operations are disabled now"
        diffs: list[FieldDiff] = []
        for path, want in wanted:
            setting = SETTINGS[path[1]]
            if values is None:
                if path == GUEST_OPS and read is not None and read.guest_ops_refused:
                    if want is not True:
                        diffs.append(FieldDiff(path, True, want, skip=Skip.UNSUPPORTED, message=read.problem))
                    continue
                why = read.problem if read is not None else "the guest's tools.conf was not read"
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED, message=why))
                continue
            current = effective(setting, values)
            if current != want:
                absent = (setting.section, setting.key) not in values and path[1] != "logHandler"
                diffs.append(FieldDiff(path, current, want,
                                       message=note or ("not set in tools.conf: the VMware Tools default" if absent else "")))
        if desired.get(ENFORCEMENT) != "Enforce":
            return [d if d.skip is not None else FieldDiff(d.path, d.current, d.desired, skip=Skip.AUDIT,
                                                           message="guestTools.enforcement is Audit (the default)")
                    for d in diffs]
        return diffs

    def guard(self, diff: FieldDiff, desired: Mapping[FieldPath, Any], state: ObjectState,
              facts: ConnectionFacts) -> str | None:
        if diff.path == GUEST_OPS and diff.desired is True and desired.get(ACCEPT) is not True:
            return ("refusing guestOperationsDisabled: true: it ends vsr's own access to this guest (no further "
                    "audit or enforcement of its tools.conf); set guestTools.acceptLosingAccess: true to accept that")
        return None

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        """One read-modify-write of tools.conf with every change of this VM (read again now: the polled copy may
        be old)."""
        read = read_tools_conf(conn, state, desired)
        if read.problem:
            raise RuntimeError(f"cannot write tools.conf: {read.problem}")
        changes = edits({d.path[1]: d.desired for d in diffs})
        text = toolsconf.edit(read.text or "", changes)
        guestops.write_file(conn, state.mo, credentials(desired.get(CREDENTIALS)), read.path, text.encode("utf-8"))
        if changes.get(("guestoperations", "disabled")) == "true":
            with self._lock:
                self._written[state.ref.moid] = (toolsconf.parse(text), dt.datetime.now(dt.timezone.utc))
