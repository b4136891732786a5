"""Host services, firewall and lockdown: diff, guard, observe and apply details that the mutation check
(scripts/mutation.py) showed untested. Pure logic on pyVmomi data objects; `apply` runs against a recording
stand-in for the host's manager object (the calls and their order are the behaviour; the real round trip is
covered by the simulator suites)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import (
    ConnectionFacts,
    FieldDiff,
    ObjectState,
    PolledValue,
    Skip,
)
from reconciler.controllers.host_firewall import (
    HostFirewall,
    ip_list,
    normalize_allowed,
    observed_allowed,
    wire_address,
)
from reconciler.controllers.host_lockdown import EXCEPTIONS, MODE, USERS, HostLockdown
from reconciler.controllers.host_services import HostServices
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
DIRECT = ConnectionFacts("lab", False, "root", "192.168.10.7")
VIA_VC = ConnectionFacts("lab", True, "svc-vsr", "10.0.0.2")


def state(props: dict[str, Any] | None = None) -> ObjectState:
    return ObjectState(REF, props or {})


class Conn:
    """`conn.call(fn, **kw)` as the real Connection does it, without the retries."""

    def call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        return fn(*args, **kw)


class Manager:
    """Stands for a host manager object (HostServiceSystem, HostFirewallSystem, HostAccessManager): every
    method called on it is recorded with its keyword arguments, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda **kw: self.calls.append((method, kw))


# -- services -------------------------------------------------------------------------------------------------

def services(*items: tuple[str, bool, str], mgmt_ip: str | None = None) -> dict[str, Any]:
    return {"config.service": vim.host.ServiceInfo(service=[
        vim.host.Service(key=k, label=k, running=r, policy=p, required=False, uninstallable=False)
        for k, r, p in items]), "summary.managementServerIp": mgmt_ip}


def test_services_unknown_keys_do_not_stop_the_diff_and_keep_path_and_desired():
    c = HostServices()
    s = state(services(("ntpd", False, "off")))
    diffs = c.diff({("services", "TSM", "running"): False, ("services", "ntpd", "running"): True}, s)
    assert [(d.path, d.current, d.desired, d.skip) for d in diffs] == [
        (("services", "TSM", "running"), None, False, Skip.UNSUPPORTED),
        (("services", "ntpd", "running"), False, True, None)]


def test_services_without_service_info_are_all_unsupported():
    (d,) = HostServices().diff({("services", "ntpd", "policy"): "on"}, state({}))
    assert (d.path, d.desired, d.skip) == (("services", "ntpd", "policy"), "on", Skip.UNSUPPORTED)
    assert d.message == "service 'ntpd' does not exist on this host"


def test_services_guard_lets_vpxa_start_and_stay_on_and_words_the_refusal():
    c = HostServices()
    s = state(services(("vpxa", False, "off")))
    assert c.guard(FieldDiff(("services", "vpxa", "running"), False, True), {}, s, VIA_VC) is None
    assert c.guard(FieldDiff(("services", "vpxa", "policy"), "off", "on"), {}, s, VIA_VC) is None
    assert c.guard(FieldDiff(("services", "vpxa", "policy"), "on", "automatic"), {}, s, VIA_VC) is None
    assert c.guard(FieldDiff(("services", "vpxa", "policy"), "on", "Off"), {}, s, VIA_VC) == (
        "refusing to stop vpxa: vCenter manages this host through it, "
        "so the reconciler (and vCenter) would lose the host")
    assert c.guard(FieldDiff(("services", "ntpd", "running"), True, False), {}, s, VIA_VC) is None


def test_services_apply_sets_the_policy_before_starting_or_stopping():
    c, system = HostServices(), Manager()
    s = state({"configManager.serviceSystem": system})
    c.apply(Conn(), s, [FieldDiff(("services", "TSM-SSH", "running"), True, False),
                        FieldDiff(("services", "ntpd", "running"), False, True),
                        FieldDiff(("services", "TSM-SSH", "policy"), "on", "off")], {})
    assert system.calls == [("UpdateServicePolicy", {"id": "TSM-SSH", "policy": "off"}),
                            ("StopService", {"id": "TSM-SSH"}),
                            ("StartService", {"id": "ntpd"})]


# -- firewall -------------------------------------------------------------------------------------------------

def ruleset(key: str, enabled: bool = True, all_ip: bool = True, addresses: tuple[str, ...] = (),
            networks: tuple[tuple[str, int], ...] = ()) -> Any:
    return vim.host.Ruleset(key=key, label=key, enabled=enabled, required=False,
                            rule=[vim.host.Ruleset.Rule(port=22, direction="inbound", protocol="tcp")],
                            allowedHosts=vim.host.Ruleset.IpList(
                                allIp=all_ip, ipAddress=list(addresses),
                                ipNetwork=[vim.host.Ruleset.IpNetwork(network=n, prefixLength=p) for n, p in networks]))


def fw(*rulesets: Any, mgmt_ip: str | None = None) -> ObjectState:
    return state({"config.firewall": vim.host.FirewallInfo(ruleset=list(rulesets)),
                  "summary.managementServerIp": mgmt_ip})


def test_firewall_enabled_diff_values_and_later_fields_still_diffed():
    c = HostFirewall()
    s = fw(ruleset("a", enabled=True), ruleset("b", enabled=False), ruleset("c", enabled=False))
    diffs = c.diff({("firewall", "a", "enabled"): 0, ("firewall", "b", "enabled"): "yes",
                    ("firewall", "c", "enabled"): False, ("firewall", "zz", "enabled"): True,
                    ("firewall", "zz-after", "allowedIPs"): "all"}, s)
    assert [(d.path[1], d.current, d.desired, d.skip) for d in diffs] == [
        ("a", True, False, None), ("b", False, True, None), ("zz", None, True, Skip.UNSUPPORTED),
        ("zz-after", None, "all", Skip.UNSUPPORTED)]
    assert c.diff({("firewall", "a", "enabled"): True, ("firewall", "c", "enabled"): False}, s) == []


def test_firewall_unknown_ruleset_messages():
    c = HostFirewall()
    s = fw(ruleset("vSphereClient"), ruleset("sshServer"))
    (d,) = c.diff({("firewall", "VSPHERECLIENT", "enabled"): False}, s)
    assert d.message == ("firewall ruleset 'VSPHERECLIENT' does not exist on this host "
                         "(ruleset keys are case-sensitive: did you mean 'vSphereClient'?)")
    (d,) = c.diff({("firewall", "sshServr", "enabled"): False}, s)
    assert d.message == "firewall ruleset 'sshServr' does not exist on this host (did you mean 'sshServer'?)"
    (d,) = c.diff({("firewall", "nfsClient", "enabled"): False}, s)
    assert d.message == "firewall ruleset 'nfsClient' does not exist on this host"
    (d,) = c.diff({("firewall", "nfsClient", "enabled"): False}, state({}))
    assert (d.path, d.skip) == (("firewall", "nfsClient", "enabled"), Skip.UNSUPPORTED)


def test_firewall_networks_with_host_bits_are_their_network():
    assert normalize_allowed(["10.0.0.5/24", "2001:db8::1/64"]) == frozenset(
        {ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("2001:db8::/64")})
    observed = observed_allowed(ruleset("x", all_ip=False, networks=(("10.0.0.5", 24),)))
    assert observed == frozenset({ipaddress.ip_network("10.0.0.0/24")})


def test_firewall_zone_ends_at_the_first_separator():
    assert str(wire_address("fe80::1%eth0%1")) == "fe80::1"


def test_firewall_ip_list_splits_addresses_and_networks():
    everything = ip_list("all")
    assert everything.allIp is True and list(everything.ipAddress or []) == []
    spec = ip_list(normalize_allowed(["10.0.0.9", "10.0.0.5", "192.168.0.0/16", "2001:db8::1", "2001:db8::/32"]))
    assert spec.allIp is False
    assert list(spec.ipAddress) == ["10.0.0.5", "10.0.0.9", "2001:db8::1"]
    assert sorted((n.network, n.prefixLength) for n in spec.ipNetwork) == [("192.168.0.0", 16), ("2001:db8::", 32)]
    empty = ip_list(frozenset())
    assert (empty.allIp, list(empty.ipAddress), list(empty.ipNetwork)) == (False, [], [])


def test_firewall_disable_refusals_name_who_manages_the_host():
    c = HostFirewall()
    off = FieldDiff(("firewall", "vSphereClient", "enabled"), True, False)
    managed, standalone = fw(ruleset("vSphereClient"), mgmt_ip="10.0.0.9"), fw(ruleset("vSphereClient"))
    assert c.guard(off, {}, managed, DIRECT) == (
        "refusing to disable ruleset vSphereClient: the reconciler and vCenter manage this host through it")
    assert c.guard(off, {}, standalone, DIRECT) == (
        "refusing to disable ruleset vSphereClient: the reconciler manages this host through it")
    assert c.guard(off, {}, managed, VIA_VC) == (
        "refusing to disable ruleset vSphereClient: vCenter manages this host through it")
    hb = FieldDiff(("firewall", "vpxHeartbeats", "enabled"), True, False)
    assert c.guard(hb, {}, managed, VIA_VC) == (
        "refusing to disable ruleset vpxHeartbeats: vCenter's agent (vpxa) sends its heartbeats through it; "
        "without them vCenter loses the host")
    assert c.guard(FieldDiff(("firewall", "vSphereClient", "enabled"), False, True), {}, managed, DIRECT) is None


def test_firewall_restrict_refusals_are_worded_per_ruleset_and_cause():
    c = HostFirewall()
    managed = fw(ruleset("vSphereClient"), ruleset("vpxHeartbeats"), mgmt_ip="10.0.0.9")
    nothing = FieldDiff(("firewall", "vSphereClient", "allowedIPs"), "all", [])
    assert c.guard(nothing, {}, managed, VIA_VC) == (
        "refusing to restrict ruleset vSphereClient to []: it excludes 10.0.0.9, "
        "the address vCenter uses to manage this host")
    assert c.guard(nothing, {}, managed, DIRECT) == (
        "refusing to restrict ruleset vSphereClient to []: it excludes 192.168.10.7, "
        "the address the reconciler uses to manage this host")
    hb = FieldDiff(("firewall", "vpxHeartbeats", "allowedIPs"), "all", ["10.1.0.0/16"])
    assert c.guard(hb, {}, managed, VIA_VC) == (
        "refusing to restrict ruleset vpxHeartbeats to ['10.1.0.0/16']: it excludes 10.0.0.9, "
        "the address of vCenter, to which the host sends its agent heartbeats")
    unknown = fw(ruleset("vSphereClient"))
    assert c.guard(FieldDiff(("firewall", "vSphereClient", "allowedIPs"), "all", ["10.0.0.0/8"]), {}, unknown,
                   VIA_VC) == ("refusing to restrict ruleset vSphereClient: the address vCenter uses to reach this "
                               "host is unknown, so the allow-list could lock it out")
    named = fw(ruleset("vSphereClient"), mgmt_ip="vc.example.com")
    assert c.guard(FieldDiff(("firewall", "vSphereClient", "allowedIPs"), "all", ["10.0.0.0/8"]), {}, named,
                   VIA_VC) == ("refusing to restrict ruleset vSphereClient: vCenter's address 'vc.example.com' is "
                               "not an IP address, so vsr cannot tell whether the allow-list admits it")


def test_firewall_apply_narrows_allow_lists_before_enabling():
    c, system = HostFirewall(), Manager()
    s = state({"configManager.firewallSystem": system})
    c.apply(Conn(), s, [FieldDiff(("firewall", "sshServer", "enabled"), False, True),
                        FieldDiff(("firewall", "nfsClient", "enabled"), True, False),
                        FieldDiff(("firewall", "sshServer", "allowedIPs"), "all", ["10.0.0.0/24", "10.0.0.9"]),
                        FieldDiff(("firewall", "nfsClient", "allowedIPs"), [], "all")], {})
    assert [(m, kw["id"]) for m, kw in system.calls] == [
        ("UpdateRuleset", "sshServer"), ("UpdateRuleset", "nfsClient"),
        ("EnableRuleset", "sshServer"), ("DisableRuleset", "nfsClient")]
    assert [set(kw) for _, kw in system.calls] == [{"id", "spec"}, {"id", "spec"}, {"id"}, {"id"}]
    ssh, nfs = system.calls[0][1]["spec"].allowedHosts, system.calls[1][1]["spec"].allowedHosts
    assert (ssh.allIp, list(ssh.ipAddress), [(n.network, n.prefixLength) for n in ssh.ipNetwork]) == (
        False, ["10.0.0.9"], [("10.0.0.0", 24)])
    assert nfs.allIp is True


# -- lockdown -------------------------------------------------------------------------------------------------

T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


def test_lockdown_observe_reads_the_polled_exceptions_sorted():
    c = HostLockdown()
    s = state()
    c.observe(s)
    assert "exceptions" not in s.own("lockdown"), "not read yet: nothing derived"
    s.polled[EXCEPTIONS] = PolledValue(["svc-b", "root"], T0)
    c.observe(s)
    assert s.own("lockdown")["exceptions"] == ["root", "svc-b"]
    s.polled[EXCEPTIONS] = PolledValue([], T0)
    c.observe(s)
    assert s.own("lockdown")["exceptions"] == []
    s.polled[EXCEPTIONS] = PolledValue(None, T0)
    c.observe(s)
    assert s.own("lockdown")["exceptions"] is None


def locked(users: list[str]) -> ObjectState:
    s = state({"config.lockdownMode": "lockdownNormal"})
    s.own("lockdown")["exceptions"] = users
    return s


def test_lockdown_near_miss_hint_for_names_that_do_not_parse_and_several_entries():
    c = HostLockdown()
    spaced = ConnectionFacts("lab", False, "svc vsr", "192.168.10.7")
    d = FieldDiff(MODE, "disabled", "normal")
    assert c.guard(d, {}, locked(["SVC VSR"]), spaced) == (
        "refusing lockdown mode 'normal': the reconciler connects directly to this host as 'svc vsr', which is not "
        "a lockdown exception user; add it to lockdown.exceptionUsers or connect through vCenter "
        "('SVC VSR' is not the same account: 'svc vsr' is not a name ESXi lists as an exception user)")
    adv = ConnectionFacts("lab", False, "CORP\\adv", "192.168.10.7")
    assert c.guard(d, {}, locked(["OTHER\\ADV", "adv"]), adv) == (
        "refusing lockdown mode 'normal': the reconciler connects directly to this host as 'CORP\\\\adv', which is "
        "not a lockdown exception user; add it to lockdown.exceptionUsers or connect through vCenter "
        "('OTHER\\\\ADV', 'adv' is not the same account: domain accounts must be listed as DOMAIN\\user with the "
        "same domain)")
    assert c.guard(d, {}, locked(["svc-other"]), adv) == (
        "refusing lockdown mode 'normal': the reconciler connects directly to this host as 'CORP\\\\adv', which is "
        "not a lockdown exception user; add it to lockdown.exceptionUsers or connect through vCenter")


def test_lockdown_near_miss_names_a_file_login_by_its_label():
    c = HostLockdown()
    upn = ConnectionFacts("lab", False, "adv@corp.example.com", "192.168.10.7", user_label="the user in vsr.user")
    message = c.guard(FieldDiff(MODE, "disabled", "normal"), {}, locked(["CORP\\adv"]), upn)
    assert message is not None and "adv@corp" not in message
    assert message.endswith("('CORP\\\\adv' is not the same account: the user in vsr.user is a user@domain name; "
                            "ESXi lists domain exception users as DOMAIN\\user and vsr cannot tell which entry is "
                            "that account, so log in as DOMAIN\\user)")


def test_lockdown_apply_calls_the_access_manager():
    c, manager = HostLockdown(), Manager()
    s = state({"configManager.hostAccessManager": manager})
    c.apply(Conn(), s, [FieldDiff(MODE, "disabled", "strict"), FieldDiff(USERS, [], ("root", "svc-vsr"))], {})
    assert manager.calls == [("UpdateLockdownExceptions", {"users": ["root", "svc-vsr"]}),
                             ("ChangeLockdownMode", {"mode": "lockdownStrict"})]
    manager.calls.clear()
    c.apply(Conn(), s, [FieldDiff(USERS, ["root"], []), FieldDiff(MODE, "normal", "disabled")], {})
    assert manager.calls == [("ChangeLockdownMode", {"mode": "lockdownDisabled"}),
                             ("UpdateLockdownExceptions", {"users": []})]
    manager.calls.clear()
    c.apply(Conn(), s, [FieldDiff(MODE, "strict", "normal")], {})
    assert manager.calls == [("ChangeLockdownMode", {"mode": "lockdownNormal"})]


def test_firewall_heartbeat_refusals_name_vcenter_when_its_address_is_unusable():
    c = HostFirewall()
    hb = FieldDiff(("firewall", "vpxHeartbeats", "allowedIPs"), "all", ["10.0.0.0/8"])
    assert c.guard(hb, {}, fw(ruleset("vpxHeartbeats")), VIA_VC) == (
        "refusing to restrict ruleset vpxHeartbeats: the address vCenter uses to reach this host is unknown, "
        "so the allow-list could lock it out")
    assert c.guard(hb, {}, fw(ruleset("vpxHeartbeats"), mgmt_ip="vc.example.com"), DIRECT) == (
        "refusing to restrict ruleset vpxHeartbeats: vCenter's address 'vc.example.com' is not an IP address, "
        "so vsr cannot tell whether the allow-list admits it")
