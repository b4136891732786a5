"""A service, ruleset or advanced-setting key the host does not have is unsupported with a did-you-mean from the
host's own list (issue 14 item 5): `TSM-SHH` -> `TSM-SSH`, `UserVars.DcuiTimeout` -> `UserVars.DcuiTimeOut`."""

from pyVmomi import vim

from reconciler.controllers.contract import ObjectState, Skip
from reconciler.controllers.host_advanced import HostAdvancedSettings, OptionType
from reconciler.controllers.host_firewall import HostFirewall
from reconciler.controllers.host_services import HostServices
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")


def _services(*keys):
    return ObjectState(REF, {"config.service": vim.host.ServiceInfo(service=[
        vim.host.Service(key=k, label=k, running=False, policy="off", required=False, uninstallable=False)
        for k in keys])})


def _rulesets(*keys):
    return ObjectState(REF, {"config.firewall": vim.host.FirewallInfo(ruleset=[
        vim.host.Ruleset(key=k, label=k, enabled=True, required=False, service="",
                         allowedHosts=vim.host.Ruleset.IpList(allIp=True)) for k in keys])})


def test_unknown_service_names_the_closest_one():
    (d,) = HostServices().diff({("services", "TSM-SHH", "running"): False}, _services("TSM-SSH", "TSM", "ntpd"))
    assert d.skip is Skip.UNSUPPORTED
    assert d.message == "service 'TSM-SHH' does not exist on this host (did you mean 'TSM-SSH'?)"


def test_unknown_service_with_nothing_alike_gets_no_guess():
    (d,) = HostServices().diff({("services", "zzz", "running"): False}, _services("TSM-SSH", "ntpd"))
    assert d.message == "service 'zzz' does not exist on this host"


def test_unknown_ruleset_names_the_closest_one():
    (d,) = HostFirewall().diff({("firewall", "sshServr", "enabled"): True}, _rulesets("sshServer", "sshClient"))
    assert d.message == "firewall ruleset 'sshServr' does not exist on this host (did you mean 'sshServer'?)"


def test_ruleset_key_case_keeps_its_case_hint():
    (d,) = HostFirewall().diff({("firewall", "SSHSERVER", "enabled"): True}, _rulesets("sshServer"))
    assert d.message.endswith("(ruleset keys are case-sensitive: did you mean 'sshServer'?)")


def test_unknown_advanced_setting_names_the_closest_one():
    state = ObjectState(REF, {})
    state.own("advancedSettings").update({"options": {"UserVars.DcuiTimeOut": 600},
                                          "option_types": {"UserVars.DcuiTimeOut": OptionType("long")}})
    (d,) = HostAdvancedSettings().diff({("advancedSettings", "UserVars.DcuiTimeoutt"): 600}, state)
    assert d.skip is Skip.UNSUPPORTED
    assert d.message == ("advanced setting 'UserVars.DcuiTimeoutt' does not exist on host esx-01 "
                         "(did you mean 'UserVars.DcuiTimeOut'?)")
