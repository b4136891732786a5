"""iSCSI CHAP on the host's software iSCSI adapter(s) (HostStorageSystem): `iscsi.mutualChap`, `.chapName`,
`.mutualChapName`, parameters `.chapSecretFile`, `.mutualChapSecretFile`.

Read from `config.storageDevice.hostBusAdapter` (the software `HostInternetScsiHba`s, watched), written with
`UpdateInternetScsiAuthenticationProperties`. A host without a software iSCSI adapter has nothing to configure (SCG:
"if the feature is in use") and yields no change.

`mutualChap: true` means CHAP and mutual CHAP both `chapRequired`. Secrets cannot be read back (the host does not
return them), so they are never compared: vsr writes them, from the files, with every CHAP change it makes, and a
change that enables CHAP without the secret files is `invalid`. Changing a file alone changes nothing on the host.
The files are read at apply time only; their content goes to the call and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Skip
from reconciler.vsphere.protocol import Connection
from reconciler.vsphere.settings import read_secret_file

SECTION = "iscsi"
HBAS = "config.storageDevice.hostBusAdapter"
STORAGE = "configManager.storageSystem"
MUTUAL = (SECTION, "mutualChap")
NAME = (SECTION, "chapName")
MUTUAL_NAME = (SECTION, "mutualChapName")
SECRET = (SECTION, "chapSecretFile")
MUTUAL_SECRET = (SECTION, "mutualChapSecretFile")
REQUIRED = "chapRequired"
PROHIBITED = "chapProhibited"


def software_adapters(hbas: Any) -> list[Any]:
    return [h for h in hbas or [] if isinstance(h, vim.host.InternetScsiHba) and h.isSoftwareBased]


def observed(auth: Any) -> dict[FieldPath, Any]:
    """Pure: the compared values of one adapter's authenticationProperties."""
    mutual = (bool(auth.chapAuthEnabled) and auth.chapAuthenticationType == REQUIRED
              and auth.mutualChapAuthenticationType == REQUIRED)
    return {MUTUAL: mutual, NAME: auth.chapName or None, MUTUAL_NAME: auth.mutualChapName or None}


def adapter_diffs(device: str, auth: Any, desired: Mapping[FieldPath, Any]) -> list[FieldDiff]:
    have = observed(auth)
    enabling = desired.get(MUTUAL) is True or (MUTUAL not in desired and have[MUTUAL])
    missing = [p[1] for p in (SECRET, MUTUAL_SECRET) if enabling and not desired.get(p)]
    diffs = []
    for path in (MUTUAL, NAME, MUTUAL_NAME):
        if path in desired and have[path] != desired[path]:
            skip = Skip.INVALID if missing else None
            message = (f"writing CHAP needs {' and '.join(missing)} (a secret cannot be read back or kept)"
                       if missing else "")
            diffs.append(FieldDiff(path, have[path], desired[path], subject=f"adapter {device}", skip=skip,
                                   message=message))
    return diffs


class HostIscsiChap(Controller):
    name = "iscsi"
    order = 55  # storage: after the network controllers
    spec_key = SECTION
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = (HBAS, STORAGE)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        return [d for hba in software_adapters(state.props.get(HBAS))
                for d in adapter_diffs(hba.device, hba.authenticationProperties, desired)]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        storage = state.props[STORAGE]
        adapters = {h.device: h for h in software_adapters(state.props.get(HBAS))}
        for subject in sorted({d.subject for d in diffs}):
            device = subject.partition(" ")[2]
            have = observed(adapters[device].authenticationProperties)
            want = {p: desired.get(p, have[p]) for p in (MUTUAL, NAME, MUTUAL_NAME)}
            mode = REQUIRED if want[MUTUAL] else PROHIBITED
            auth = vim.host.InternetScsiHba.AuthenticationProperties(
                chapAuthEnabled=bool(want[MUTUAL]), chapAuthenticationType=mode, mutualChapAuthenticationType=mode,
                chapName=want[NAME] or "", mutualChapName=want[MUTUAL_NAME] or "", chapInherited=False,
                mutualChapInherited=False)
            if want[MUTUAL]:
                auth.chapSecret = read_secret_file(desired[SECRET], "iscsi.chapSecretFile")
                auth.mutualChapSecret = read_secret_file(desired[MUTUAL_SECRET], "iscsi.mutualChapSecretFile")
            conn.call(storage.UpdateInternetScsiAuthenticationProperties, iScsiHbaDevice=device,
                      authenticationProperties=auth)
