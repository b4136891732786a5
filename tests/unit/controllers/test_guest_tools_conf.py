"""tools.conf editing (pure) and the guestTools controller's diff, guard and credentials."""

from __future__ import annotations

import datetime as dt

import pytest

from reconciler.controllers import toolsconf
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, ObjectState, PolledValue, Skip
from reconciler.controllers.vm_guest_tools import (LINUX_PATH, WINDOWS_PATH, GuestRead, VMGuestTools, credentials,
                                                   edits, guest_path)
from reconciler.events.model import ObjectRef
from reconciler.vsphere.settings import SettingsError

FRESH = """# Copyright header
# CAUTION: tools.conf is highly syntax sensitive

[logging]
# set to false to disable logging
#log = true
#vmtoolsd.handler = file

[appinfo]
#disabled=false

[custom]
keep = me   # not ours
"""


def test_round_trip_without_changes_is_byte_identical():
    assert toolsconf.edit(FRESH, {}) == FRESH
    crlf = FRESH.replace("\n", "\r\n")
    assert toolsconf.edit(crlf, {}) == crlf


def test_parse_reads_keys_not_comments_last_one_wins():
    text = "[a]\nx = 1\n#y = 2\nx=3\n[b]\n y = 4 \n"
    assert toolsconf.parse(text) == {("a", "x"): "3", ("b", "y"): "4"}


def test_change_an_existing_key_in_place_keeping_its_spacing():
    text = "[appinfo]\n  disabled =  false\n# after\n"
    assert toolsconf.edit(text, {("appinfo", "disabled"): "true"}) == "[appinfo]\n  disabled =  true\n# after\n"


def test_add_a_key_after_its_commented_default_and_keep_every_comment():
    out = toolsconf.edit(FRESH, {("appinfo", "disabled"): "true", ("logging", "vmtoolsd.handler"): "syslog"})
    assert "#disabled=false\ndisabled = true\n" in out
    assert "#vmtoolsd.handler = file\nvmtoolsd.handler = syslog\n" in out
    assert [line for line in out.splitlines() if line.startswith("#")] == \
        [line for line in FRESH.splitlines() if line.startswith("#")]
    assert "[custom]\nkeep = me   # not ours\n" in out  # other sections untouched
    assert toolsconf.parse(out)[("appinfo", "disabled")] == "true"


def test_add_a_section_at_the_end_with_the_files_line_endings():
    crlf = FRESH.replace("\n", "\r\n")
    out = toolsconf.edit(crlf, {("deployPkg", "enable-customization"): "false"})
    assert out.startswith(crlf) and out.endswith("\r\n[deployPkg]\r\nenable-customization = false\r\n")
    assert "\n" not in out.replace("\r\n", "")


def test_edit_of_an_empty_or_unterminated_file():
    assert toolsconf.edit("", {("a", "k"): "v"}) == "[a]\nk = v\n"
    assert toolsconf.edit("[a]\nx = 1", {("a", "k"): "v"}) == "[a]\nx = 1\nk = v\n"


def test_section_names_are_case_sensitive():
    out = toolsconf.edit("[deploypkg]\nenable-customization = true\n", {("deployPkg", "enable-customization"): "false"})
    assert toolsconf.parse(out) == {("deploypkg", "enable-customization"): "true",
                                    ("deployPkg", "enable-customization"): "false"}


def test_edits_put_guestoperations_last_and_the_handler_on_all_four_keys():
    keys = list(edits({"guestOperationsDisabled": True, "appinfoDisabled": True, "logHandler": "syslog"}))
    assert keys[-1] == ("guestoperations", "disabled")
    assert [k for k in keys if k[0] == "logging"] == [("logging", "vmtoolsd.handler"), ("logging", "vmsvc.handler"),
                                                      ("logging", "toolboxcmd.handler"), ("logging", "vgauthsvc.handler")]


def state(props=None, read=None):
    s = ObjectState(ObjectRef("VirtualMachine", "vm-1", "vm1", "vc"), {"runtime.powerState": "poweredOn",
                                                                        "guest.toolsRunningStatus": "guestToolsRunning",
                                                                        **(props or {})})
    if read is not None:
        s.polled["toolsConf"] = PolledValue(read, dt.datetime.now(dt.timezone.utc))
    return s


def diff(desired, read, enforce=True):
    c = VMGuestTools()
    s = state(read=read)
    c.observe(s)
    want = {("guestTools", k): v for k, v in desired.items()}
    if enforce:
        want[("guestTools", "enforcement")] = "Enforce"
    return c.diff(want, s)


def test_absent_keys_have_the_tools_default():
    assert diff({"allowMsiTransforms": False, "containerinfoPollInterval": 0}, GuestRead(LINUX_PATH, FRESH)) == [
        FieldDiff(("guestTools", "containerinfoPollInterval"), 21600, 0,
                  message="not set in tools.conf: the VMware Tools default")]


def test_values_are_typed_and_booleans_case_insensitive():
    text = "[appinfo]\ndisabled = TRUE\n[containerinfo]\npoll-interval=0\n"
    assert diff({"appinfoDisabled": True, "containerinfoPollInterval": 0}, GuestRead(LINUX_PATH, text)) == []


def test_handlers_that_differ_are_shown_per_key():
    text = "[logging]\nvmtoolsd.handler = syslog\n"
    (d,) = diff({"logHandler": "syslog"}, GuestRead(LINUX_PATH, text))
    assert d.current == "vmtoolsd.handler=syslog, vmsvc.handler=file, toolboxcmd.handler=file, vgauthsvc.handler=file"


def test_audit_unless_the_section_says_enforce():
    (d,) = diff({"appinfoDisabled": True}, GuestRead(LINUX_PATH, FRESH), enforce=False)
    assert d.skip is Skip.AUDIT and d.current is False


def test_an_unreadable_guest_is_unsupported_with_the_reason():
    (d,) = diff({"appinfoDisabled": True}, GuestRead(LINUX_PATH, problem="VMware Tools is not running in the guest"))
    assert (d.skip, d.message) == (Skip.UNSUPPORTED, "VMware Tools is not running in the guest")


def test_guest_operations_refused_while_tools_run_means_disabled():
    read = GuestRead(LINUX_PATH, problem="guest operations are unavailable", guest_ops_refused=True)
    assert diff({"guestOperationsDisabled": True}, read) == []
    (d,) = diff({"guestOperationsDisabled": False}, read)
    assert d.skip is Skip.UNSUPPORTED and d.current is True


def test_guard_refuses_disabling_guest_operations_unless_accepted():
    c = VMGuestTools()
    change = FieldDiff(("guestTools", "guestOperationsDisabled"), False, True)
    facts = ConnectionFacts("vc", True, "admin", None)
    assert "acceptLosingAccess" in c.guard(change, {}, state(), facts)
    assert c.guard(change, {("guestTools", "acceptLosingAccess"): True}, state(), facts) is None
    assert c.guard(FieldDiff(change.path, True, False), {}, state(), facts) is None


def test_path_by_guest_family():
    assert guest_path(state({"guest.guestFamily": "windowsGuest"})) == WINDOWS_PATH
    assert guest_path(state({"config.guestId": "windows2019srv_64Guest"})) == WINDOWS_PATH
    assert guest_path(state({"guest.guestFamily": "linuxGuest"})) == LINUX_PATH


def test_credentials_from_env_and_file_never_in_messages(tmp_path):
    secret = "s3cr3t-guest-pw"
    (tmp_path / "pw").write_text(secret + "\n")
    creds = credentials({"username": "root", "passwordFile": str(tmp_path / "pw")})
    assert creds.password.get_secret_value() == secret and secret not in repr(creds)
    assert credentials({"usernameEnv": "U", "passwordEnv": "P"}, {"U": "adm", "P": secret}).username == "adm"
    with pytest.raises(SettingsError) as missing:
        credentials({"username": "root", "passwordEnv": "P"}, {})
    assert "P is not set" in str(missing.value)
    with pytest.raises(SettingsError):
        credentials(None)
