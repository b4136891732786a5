"""Pure diff and guard logic of the host controllers, on pyVmomi data objects (no server)."""

from pyVmomi import vim

from reconciler.controllers.contract import ConnectionFacts, ObjectState, Skip
from reconciler.controllers.host_advanced import HostAdvancedSettings, OptionType, coerce
from reconciler.controllers.host_firewall import HostFirewall
from reconciler.controllers.host_lockdown import HostLockdown
from reconciler.controllers.host_network import HostNetworkSecurity
from reconciler.controllers.host_services import HostServices
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
DIRECT = ConnectionFacts("lab", False, "root", "192.168.10.7")
VIA_VC = ConnectionFacts("lab", True, "svc-vsr", "10.0.0.2")


def state(props=None, extras=None):
    """A host's state; `extras` by controller name (what its `observe` would have derived)."""
    return ObjectState(REF, props or {}, extras=extras or {})


def services(*items):
    return {"config.service": vim.host.ServiceInfo(service=[
        vim.host.Service(key=k, label=k, running=r, policy=p, required=False, uninstallable=False) for k, r, p in items])}


def test_services_fields_and_diff():
    c = HostServices()
    desired = c.fields({"TSM-SSH": {"running": False, "policy": "off"}, "ntpd": {"running": True}})
    assert desired == {("services", "TSM-SSH", "running"): False, ("services", "TSM-SSH", "policy"): "off",
                       ("services", "ntpd", "running"): True}
    s = state(services(("TSM-SSH", True, "on"), ("ntpd", True, "on")))
    diffs = c.diff(desired, s)
    assert [(d.path[1:], d.current, d.desired) for d in diffs] == [
        (("TSM-SSH", "policy"), "on", "off"), (("TSM-SSH", "running"), True, False)]


def test_services_converged_and_unknown_key():
    c = HostServices()
    s = state(services(("TSM-SSH", False, "OFF")))
    assert c.diff({("services", "TSM-SSH", "policy"): "off", ("services", "TSM-SSH", "running"): False}, s) == []
    (d,) = c.diff({("services", "nope", "running"): False}, s)
    assert d.skip is Skip.UNSUPPORTED and "'nope' does not exist" in d.message


def test_services_guard_vpxa_only_through_vcenter():
    c = HostServices()
    s = state(services(("vpxa", True, "on")))
    (d,) = c.diff({("services", "vpxa", "running"): False}, s)
    assert "vCenter manages this host" in c.guard(d, {}, s, VIA_VC)
    assert c.guard(d, {}, s, DIRECT) is None


def ruleset(key, enabled=True, all_ip=True, addresses=(), networks=()):
    return vim.host.Ruleset(key=key, label=key, enabled=enabled, required=False, rule=[vim.host.Ruleset.Rule(port=22, direction="inbound", protocol="tcp")],
                            allowedHosts=vim.host.Ruleset.IpList(
                                allIp=all_ip, ipAddress=list(addresses),
                                ipNetwork=[vim.host.Ruleset.IpNetwork(network=n, prefixLength=p) for n, p in networks]))


def fw(*rulesets, mgmt_ip=None):
    return {"config.firewall": vim.host.FirewallInfo(ruleset=list(rulesets)), "summary.managementServerIp": mgmt_ip}


def test_firewall_allowed_ips_compared_as_sets_of_networks():
    c = HostFirewall()
    s = state(fw(ruleset("sshServer", all_ip=False, addresses=["10.0.0.5"], networks=[("192.168.10.0", 24)])))
    same = {("firewall", "sshServer", "allowedIPs"): ["192.168.10.0/24", "10.0.0.5/32"]}
    assert c.diff(same, s) == []
    (d,) = c.diff({("firewall", "sshServer", "allowedIPs"): ["192.168.10.0/24"]}, s)
    assert d.current == ["10.0.0.5", "192.168.10.0/24"] and d.desired == ["192.168.10.0/24"]
    (d,) = c.diff({("firewall", "sshServer", "allowedIPs"): "all"}, s)
    assert d.desired == "all"


def test_firewall_guard_direct_and_via_vcenter():
    c = HostFirewall()
    s = state(fw(ruleset("vSphereClient"), ruleset("sshServer"), mgmt_ip="10.0.0.9"))
    (d,) = c.diff({("firewall", "vSphereClient", "allowedIPs"): ["10.0.0.0/24"]}, s)
    assert "excludes 192.168.10.7" in c.guard(d, {}, s, DIRECT)
    assert c.guard(d, {}, s, VIA_VC) is None, "vCenter at 10.0.0.9 stays inside 10.0.0.0/24"
    (d2,) = c.diff({("firewall", "vSphereClient", "allowedIPs"): ["192.168.10.0/24"]}, s)
    assert "excludes 10.0.0.9, the address vCenter uses" in c.guard(d2, {}, s, DIRECT), \
        "a direct connection must not cut off the vCenter that manages the host either"
    assert "excludes 10.0.0.9" in c.guard(d2, {}, s, VIA_VC)
    (both,) = c.diff({("firewall", "vSphereClient", "allowedIPs"): ["192.168.10.0/24", "10.0.0.9"]}, s)
    assert c.guard(both, {}, s, DIRECT) is None
    (d3,) = c.diff({("firewall", "sshServer", "allowedIPs"): ["172.16.0.0/16"]}, s)
    assert c.guard(d3, {}, s, DIRECT) is None, "SSH is not the reconciler's path"
    (d4,) = c.diff({("firewall", "vSphereClient", "enabled"): False}, s)
    assert "refusing to disable" in c.guard(d4, {}, s, DIRECT)


def test_firewall_guard_unknown_vcenter_address_refuses():
    c = HostFirewall()
    s = state(fw(ruleset("vSphereClient"), mgmt_ip=None))
    (d,) = c.diff({("firewall", "vSphereClient", "allowedIPs"): ["10.0.0.0/24"]}, s)
    assert "unknown" in c.guard(d, {}, s, VIA_VC)


def test_advanced_coerce_and_diff_typed():
    long_t = OptionType("long", 0, 2)
    assert coerce("2", long_t) == 2 and coerce(2, long_t) == 2
    for bad in (True, "two", 3):
        try:
            coerce(bad, long_t)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")
    assert coerce("TRUE", OptionType("bool")) is True
    assert coerce(False, OptionType("string")) == "false"
    c = HostAdvancedSettings()
    s = state(extras={"advancedSettings": {
        "options": {"Mem.ShareForceSalting": 0, "Syslog.global.logHost": ""},
        "option_types": {"Mem.ShareForceSalting": long_t, "Syslog.global.logHost": OptionType("string")}}})
    desired = c.fields({"Mem.ShareForceSalting": 2, "Syslog.global.logHost": "udp://10.0.0.5:514", "No.Such": 1})
    diffs = {d.path[1]: d for d in c.diff(desired, s)}
    assert diffs["Mem.ShareForceSalting"].current == 0 and diffs["Mem.ShareForceSalting"].desired == 2
    assert diffs["No.Such"].skip is Skip.UNSUPPORTED and "esx-01" in diffs["No.Such"].message
    s.own("advancedSettings")["options"]["Mem.ShareForceSalting"] = 2
    assert "Mem.ShareForceSalting" not in {d.path[1] for d in c.diff(desired, s)}
    (bad,) = c.diff({("advancedSettings", "Mem.ShareForceSalting"): 7}, s)
    assert bad.skip is Skip.INVALID and "out of range" in bad.message


def test_lockdown_guard_on_direct_connection():
    c = HostLockdown()
    s = state({"config.lockdownMode": "lockdownDisabled"}, {"lockdown": {"exceptions": []}})
    desired = {("lockdown", "mode"): "normal"}
    (d,) = c.diff(desired, s)
    assert "connects directly" in c.guard(d, desired, s, DIRECT)
    assert c.guard(d, desired, s, VIA_VC) is None
    with_exception = {("lockdown", "mode"): "normal", ("lockdown", "exceptionUsers"): ["root"]}
    assert c.guard(d, with_exception, s, DIRECT) is None


def test_lockdown_users_as_set():
    c = HostLockdown()
    s = state({"config.lockdownMode": "lockdownNormal"}, {"lockdown": {"exceptions": ["b", "a"]}})
    assert c.diff({("lockdown", "exceptionUsers"): ["a", "b"], ("lockdown", "mode"): "normal"}, s) == []


def network(vswitch_sec, pg_overrides):
    sec = vim.host.NetworkPolicy.SecurityPolicy(**vswitch_sec)
    vswitch = vim.host.VirtualSwitch(name="vSwitch0", key="k", numPorts=128, numPortsAvailable=120, mtu=1500,
                                     spec=vim.host.VirtualSwitch.Specification(numPorts=128,
                                                                              policy=vim.host.NetworkPolicy(security=sec)))
    pgs = [vim.host.PortGroup(key=f"key-{n}", spec=vim.host.PortGroup.Specification(
        name=n, vlanId=0, vswitchName="vSwitch0",
        policy=vim.host.NetworkPolicy(security=vim.host.NetworkPolicy.SecurityPolicy(**o)))) for n, o in pg_overrides]
    return {"config.network.vswitch": [vswitch], "config.network.portgroup": pgs}


def test_network_vswitch_and_portgroup_overrides():
    c = HostNetworkSecurity()
    s = state(network({"allowPromiscuous": True, "macChanges": False, "forgedTransmits": False},
                      [("VM Network", {}), ("Capture-1", {"allowPromiscuous": True}), ("Lab", {"macChanges": True})]))
    desired = c.fields({"allowPromiscuous": False, "macChanges": False, "excludePortgroups": ["Capture-*"]})
    got = sorted((d.subject, d.path[1]) for d in c.diff(desired, s))
    assert got == [("portgroup Lab", "macChanges"), ("vSwitch vSwitch0", "allowPromiscuous")]


def test_option_type_from_wire_value_when_no_definition():
    from pyVmomi import VmomiSupport

    from reconciler.controllers.host_advanced import type_of_value
    assert type_of_value(VmomiSupport.vmodlTypes["long"](2)).kind == "long"
    assert type_of_value(2).kind == "int"
    assert type_of_value(True).kind == "bool"
    assert type_of_value("x").kind == "string"


# -- lock-out guards: the bypasses of issue 12 ------------------------------------------------------------------

def test_lockdown_apply_order():
    from reconciler.controllers.host_lockdown import apply_order
    from reconciler.controllers.contract import FieldDiff
    mode = lambda m: FieldDiff(("lockdown", "mode"), "x", m)  # noqa: E731
    users = FieldDiff(("lockdown", "exceptionUsers"), [], ["root"])
    assert [d.path[1] for d in apply_order([mode("normal"), users])] == ["exceptionUsers", "mode"]
    assert [d.path[1] for d in apply_order([mode("strict"), users])] == ["exceptionUsers", "mode"]
    assert [d.path[1] for d in apply_order([users, mode("disabled")])] == ["mode", "exceptionUsers"]
    assert [d.path[1] for d in apply_order([users])] == ["exceptionUsers"]


def test_lockdown_guard_matches_accounts_like_esxi():
    c = HostLockdown()
    s = state({"config.lockdownMode": "lockdownDisabled"}, {"lockdown": {"exceptions": []}})
    adv = ConnectionFacts("lab", False, "adv-user", "192.168.10.7")
    (d,) = c.diff({("lockdown", "mode"): "normal"}, s)
    for entry in ("OTHERDOMAIN\\ADV-USER", "ADV-USER", "adv-user@corp.example.com"):
        message = c.guard(d, {("lockdown", "exceptionUsers"): [entry]}, s, adv)
        assert message and f"({entry!r} is not the same account: " in message, entry
    assert c.guard(d, {("lockdown", "exceptionUsers"): ["adv-user"]}, s, adv) is None


def test_firewall_wire_address_and_allows():
    from reconciler.controllers.host_firewall import allows, normalize_allowed, wire_address
    assert str(wire_address("::ffff:10.0.0.5")) == "10.0.0.5" and str(wire_address("fe80::1%eth0")) == "fe80::1"
    cases = [
        (["10.0.0.0/8"], "::ffff:10.0.0.5", True),   # mapped source: IPv4 on the wire
        (["::/0"], "10.0.0.5", False),               # IPv6 entries never admit IPv4
        (["::/0"], "::ffff:10.0.0.5", False),
        (["::ffff:10.0.0.5"], "10.0.0.5", False),     # mapped entries: not known how the host treats them
        (["::ffff:10.0.0.5"], "::ffff:10.0.0.5", False),
        (["0.0.0.0/0"], "::1", False),
        (["::1"], "::1", True),
        (["fe80::/10"], "fe80::1%eth0", True),
        ([], "10.0.0.5", False),
        ("all", "anything-at-all", True),
    ]
    for allowed, source, expected in cases:
        assert allows(normalize_allowed(allowed), source) is expected, (allowed, source)
    try:
        allows(normalize_allowed(["10.0.0.0/8"]), "vc.example.com")
    except ValueError:
        pass
    else:
        raise AssertionError("a host name is not an address")


def test_firewall_guard_refuses_unparsable_source_and_guards_heartbeats():
    c = HostFirewall()
    s = state(fw(ruleset("vSphereClient"), ruleset("vpxHeartbeats"), mgmt_ip="vc.example.com"))
    (d,) = c.diff({("firewall", "vSphereClient", "allowedIPs"): ["10.0.0.0/24"]}, s)
    assert "'vc.example.com' is not an IP address" in c.guard(d, {}, s, VIA_VC)
    s = state(fw(ruleset("vSphereClient"), ruleset("vpxHeartbeats"), mgmt_ip="10.0.0.9"))
    (hb,) = c.diff({("firewall", "vpxHeartbeats", "enabled"): False}, s)
    assert "vpxHeartbeats" in c.guard(hb, {}, s, VIA_VC)
    assert "vpxHeartbeats" in c.guard(hb, {}, s, DIRECT), "the host is managed by vCenter at 10.0.0.9"
    standalone = state(fw(ruleset("vpxHeartbeats")))
    (hb,) = c.diff({("firewall", "vpxHeartbeats", "enabled"): False}, standalone)
    assert c.guard(hb, {}, standalone, DIRECT) is None, "no vCenter: heartbeats are nobody's access"
    (keep,) = c.diff({("firewall", "vpxHeartbeats", "allowedIPs"): ["10.0.0.9"]}, s)
    assert c.guard(keep, {}, s, VIA_VC) is None
    (case,) = c.diff({("firewall", "vSphereClient", "enabled"): False}, s)
    from reconciler.controllers.contract import FieldDiff
    upper = FieldDiff(("firewall", "VSPHERECLIENT", "enabled"), True, False)
    assert c.guard(upper, {}, s, VIA_VC) == c.guard(case, {}, s, VIA_VC).replace("vSphereClient", "VSPHERECLIENT")


def test_firewall_all_ip_with_leftover_list_is_all():
    c = HostFirewall()
    s = state(fw(ruleset("sshServer", all_ip=True, addresses=["192.0.2.1"], networks=[("10.0.0.0", 8)])))
    assert c.diff({("firewall", "sshServer", "allowedIPs"): "all"}, s) == []
    (d,) = c.diff({("firewall", "sshServer", "allowedIPs"): ["192.0.2.1", "10.0.0.0/8"]}, s)
    assert d.current == "all" and d.desired == ["10.0.0.0/8", "192.0.2.1"]


def test_firewall_unknown_key_hints_at_case():
    c = HostFirewall()
    s = state(fw(ruleset("vSphereClient")))
    (d,) = c.diff({("firewall", "VSPHERECLIENT", "enabled"): False}, s)
    assert d.skip is Skip.UNSUPPORTED and "did you mean 'vSphereClient'?" in d.message


def test_services_guard_vpxa_on_a_vcenter_managed_host_and_key_case():
    c = HostServices()
    s = state({**services(("vpxa", True, "on")), "summary.managementServerIp": "10.0.0.9"})
    (d,) = c.diff({("services", "vpxa", "policy"): "off"}, s)
    assert "vCenter manages this host" in c.guard(d, {}, s, DIRECT), "directly, but vCenter manages the host"
    from reconciler.controllers.contract import FieldDiff
    assert "vCenter manages this host" in c.guard(FieldDiff(("services", "VPXA", "running"), True, False), {}, s,
                                                  VIA_VC)
