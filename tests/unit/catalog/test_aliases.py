"""Advanced settings renamed between ESXi releases: diffed and written under the host's own spelling, reported
under the spec's key."""

from __future__ import annotations

from unittest import mock

from reconciler.catalog import aliases
from reconciler.controllers.contract import ObjectState
from reconciler.controllers.host_advanced import HostAdvancedSettings, OptionType
from reconciler.events.model import ObjectRef

NEW = "Syslog.global.certificate.checkSSLCerts"
OLD = "Syslog.global.logCheckSSLCerts"


def host(options: dict, types: dict | None = None) -> ObjectState:
    state = ObjectState(ObjectRef("HostSystem", "host-1", "esx-01"), {"configManager.advancedOption": mock.Mock()})
    state.own("advancedSettings")["options"] = options
    state.own("advancedSettings")["option_types"] = types if types is not None else {k: OptionType("bool") for k in options}
    return state


def test_resolve_prefers_the_key_itself_then_an_alias_present_on_the_host():
    assert aliases.resolve(NEW, {NEW, OLD}) == NEW
    assert aliases.resolve(OLD, {NEW}) == NEW
    assert aliases.resolve(NEW, {OLD}) == OLD
    assert aliases.resolve(NEW, set()) == NEW
    assert aliases.resolve("Mem.ShareForceSalting", {"Mem.ShareForceSalting"}) == "Mem.ShareForceSalting"
    assert aliases.names("Config.Etc.Issue") == ("Config.Etc.Issue", "Config.Etc.issue")


def test_esxi7_host_is_diffed_under_the_old_name_with_the_spec_path():
    controller = HostAdvancedSettings()
    diffs = controller.diff({("advancedSettings", NEW): True}, host({OLD: False}))
    assert [(d.path, d.current, d.desired, d.skip) for d in diffs] == [(("advancedSettings", NEW), False, True, None)]
    assert controller.diff({("advancedSettings", NEW): True}, host({OLD: True})) == []


def test_esxi8_host_accepts_a_spec_written_with_the_old_name():
    controller = HostAdvancedSettings()
    assert controller.diff({("advancedSettings", OLD): True}, host({NEW: True})) == []
    (d,) = controller.diff({("advancedSettings", OLD): True}, host({NEW: False}))
    assert d.path == ("advancedSettings", OLD)


def test_apply_writes_the_hosts_spelling():
    controller = HostAdvancedSettings()
    state = host({OLD: False})
    diffs = controller.diff({("advancedSettings", NEW): True}, state)
    conn = mock.Mock()
    controller.apply(conn, state, diffs, {})
    (call,) = conn.call.call_args_list
    assert [(o.key, o.value) for o in call.kwargs["changedValue"]] == [(OLD, True)]


def test_a_key_with_no_spelling_on_the_host_is_unsupported_under_the_spec_key():
    (d,) = HostAdvancedSettings().diff({("advancedSettings", NEW): True}, host({}))
    assert d.skip is not None and d.skip.value == "unsupported" and NEW in d.message
