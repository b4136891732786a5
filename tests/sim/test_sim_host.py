"""Host security API of the simulator, through pyVmomi over TLS: services, firewall, lockdown, vSwitch and
portgroup security, typed advanced options. Each change must reach a WaitForUpdatesEx filter within 1 s."""

from __future__ import annotations

import pytest
from pyVmomi import VmomiSupport, vim

from simulator import PropertyWatch, start_simulator

pytestmark = pytest.mark.integration

LONG = VmomiSupport.vmodlTypes["long"]


@pytest.fixture(scope="module")
def si():
    handle = start_simulator()
    yield handle.connect()
    handle.stop()


def host(si, name):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    try:
        return next(h for h in view.view if h.name == name)
    finally:
        view.DestroyView()


def service(h, key):
    return next(s for s in h.configManager.serviceSystem.serviceInfo.service if s.key == key)


def config_service(h, key):
    return next(s for s in h.config.service.service if s.key == key)


def ruleset(info, key):
    return next(r for r in info.ruleset if r.key == key)


# ---------------------------------------------------------------- services

def test_service_info_is_realistic_and_linked_to_rulesets(si):
    h = host(si, "DC0_C0_H0")
    keys = {s.key for s in h.configManager.serviceSystem.serviceInfo.service}
    assert {"DCUI", "TSM", "TSM-SSH", "lbtd", "lwsmd", "ntpd", "pcscd", "sfcbd-watchdog", "slpd", "snmpd",
            "vmsyslogd", "vpxa", "xorg"} <= keys
    assert service(h, "TSM-SSH").ruleset == ["sshServer"]
    assert service(h, "slpd").ruleset == ["CIMSLP"]
    assert service(h, "ntpd").ruleset == ["ntpClient"]
    assert ruleset(h.configManager.firewallSystem.firewallInfo, "sshServer").service == "TSM-SSH"
    assert {s.key for s in h.config.service.service} == keys


def test_start_stop_restart_service_are_per_host_and_published(si):
    h0, h1 = host(si, "DC0_C0_H0"), host(si, "DC0_C0_H1")
    ss = h0.configManager.serviceSystem
    assert h0.configManager.serviceSystem != h1.configManager.serviceSystem
    with PropertyWatch(si, h0, ["config.service"]) as watch_host, \
            PropertyWatch(si, ss, ["serviceInfo"]) as watch_svc:
        ss.StartService(id="TSM-SSH")
        changes, seconds = watch_host.wait(1)
        assert "config.service" in changes and seconds < 1.0
        assert next(s for s in changes["config.service"].service if s.key == "TSM-SSH").running is True
        changes, seconds = watch_svc.wait(1)
        assert "serviceInfo" in changes and seconds < 1.0
    assert service(h0, "TSM-SSH").running is True
    assert config_service(h0, "TSM-SSH").running is True
    assert service(h1, "TSM-SSH").running is False  # never shared between hosts
    ss.RestartService(id="TSM-SSH")
    assert service(h0, "TSM-SSH").running is True
    with PropertyWatch(si, h0, ["config.service.service"]) as watch:
        ss.StopService(id="TSM-SSH")
        changes, seconds = watch.wait(1)
        assert "config.service.service" in changes and seconds < 1.0
    assert config_service(h0, "TSM-SSH").running is False


@pytest.mark.parametrize("call", ["StartService", "StopService", "RestartService"])
def test_unknown_service_is_not_found(si, call):
    ss = host(si, "DC0_C0_H0").configManager.serviceSystem
    with pytest.raises(vim.fault.NotFound):
        getattr(ss, call)(id="no-such-service")


def test_update_service_policy(si):
    h = host(si, "DC0_C0_H2")
    ss = h.configManager.serviceSystem
    with PropertyWatch(si, h, ["config.service"]) as watch:
        ss.UpdateServicePolicy(id="TSM", policy="on")
        changes, seconds = watch.wait(1)
        assert seconds < 1.0
        assert next(s for s in changes["config.service"].service if s.key == "TSM").policy == "on"
    ss.UpdateServicePolicy(id="TSM", policy="automatic")
    assert config_service(h, "TSM").policy == "automatic"
    ss.UpdateServicePolicy(id="TSM", policy="off")
    assert service(h, "TSM").policy == "off"
    with pytest.raises(vmodl_invalid_argument()):
        ss.UpdateServicePolicy(id="TSM", policy="sometimes")
    with pytest.raises(vim.fault.NotFound):
        ss.UpdateServicePolicy(id="nope", policy="on")
    ss.RefreshServices()
    assert service(h, "TSM").policy == "off"


def vmodl_invalid_argument():
    from pyVmomi import vmodl
    return vmodl.fault.InvalidArgument


# ---------------------------------------------------------------- firewall

def test_update_ruleset_allowed_hosts(si):
    h, other = host(si, "DC0_C0_H0"), host(si, "DC0_H0")
    fw = h.configManager.firewallSystem
    spec = vim.host.Ruleset.RulesetSpec(allowedHosts=vim.host.Ruleset.IpList(
        allIp=False, ipAddress=["192.168.10.5"],
        ipNetwork=[vim.host.Ruleset.IpNetwork(network="192.168.10.0", prefixLength=24),
                   vim.host.Ruleset.IpNetwork(network="fd00::", prefixLength=64)]))
    with PropertyWatch(si, h, ["config.firewall"]) as watch:
        fw.UpdateRuleset(id="sshServer", spec=spec)
        changes, seconds = watch.wait(1)
        assert "config.firewall" in changes and seconds < 1.0
    for info in (fw.firewallInfo, h.config.firewall):
        allowed = ruleset(info, "sshServer").allowedHosts
        assert allowed.allIp is False
        assert allowed.ipAddress == ["192.168.10.5"]
        assert [(n.network, n.prefixLength) for n in allowed.ipNetwork] == [("192.168.10.0", 24), ("fd00::", 64)]
    assert ruleset(other.config.firewall, "sshServer").allowedHosts.allIp is True  # per host
    fw.UpdateRuleset(id="sshServer", spec=vim.host.Ruleset.RulesetSpec(
        allowedHosts=vim.host.Ruleset.IpList(allIp=True)))
    assert ruleset(h.config.firewall, "sshServer").allowedHosts.allIp is True
    assert not ruleset(h.config.firewall, "sshServer").allowedHosts.ipAddress


@pytest.mark.parametrize("ip_list", [
    vim.host.Ruleset.IpList(allIp=False, ipAddress=["192.168.1.300"]),
    vim.host.Ruleset.IpList(allIp=False, ipAddress=["not-an-ip"]),
    vim.host.Ruleset.IpList(allIp=False, ipNetwork=[vim.host.Ruleset.IpNetwork(network="10.0.0.0", prefixLength=33)]),
    vim.host.Ruleset.IpList(allIp=False, ipNetwork=[vim.host.Ruleset.IpNetwork(network="10.0.0", prefixLength=8)]),
    vim.host.Ruleset.IpList(allIp=False, ipNetwork=[vim.host.Ruleset.IpNetwork(network="fd00::", prefixLength=129)]),
])
def test_update_ruleset_rejects_bad_addresses(si, ip_list):
    h = host(si, "DC0_C0_H1")
    fw = h.configManager.firewallSystem
    before = ruleset(fw.firewallInfo, "webAccess").allowedHosts
    with pytest.raises(vmodl_invalid_argument()):
        fw.UpdateRuleset(id="webAccess", spec=vim.host.Ruleset.RulesetSpec(allowedHosts=ip_list))
    after = ruleset(fw.firewallInfo, "webAccess").allowedHosts
    assert (after.allIp, after.ipAddress, after.ipNetwork) == (before.allIp, before.ipAddress, before.ipNetwork)


def test_rulesets_enable_disable_and_not_found(si):
    h = host(si, "DC0_C0_H1")
    fw = h.configManager.firewallSystem
    assert {"sshServer", "vSphereClient", "webAccess", "ntpClient", "syslog", "CIMSLP", "snmp"} <= {
        r.key for r in fw.firewallInfo.ruleset}
    with PropertyWatch(si, h, ["config.firewall.ruleset"]) as watch:
        fw.EnableRuleset(id="syslog")
        changes, seconds = watch.wait(1)
        assert seconds < 1.0
        assert next(r for r in changes["config.firewall.ruleset"] if r.key == "syslog").enabled is True
    assert ruleset(h.config.firewall, "syslog").enabled is True
    assert ruleset(host(si, "DC0_C0_H2").config.firewall, "syslog").enabled is False
    fw.DisableRuleset(id="syslog")
    assert ruleset(h.config.firewall, "syslog").enabled is False
    for call in (fw.EnableRuleset, fw.DisableRuleset):
        with pytest.raises(vim.fault.NotFound):
            call(id="noSuchRuleset")
    with pytest.raises(vim.fault.NotFound):
        fw.UpdateRuleset(id="noSuchRuleset", spec=vim.host.Ruleset.RulesetSpec(
            allowedHosts=vim.host.Ruleset.IpList(allIp=True)))
    fw.RefreshFirewall()


def test_update_default_policy(si):
    h = host(si, "DC0_C0_H2")
    fw = h.configManager.firewallSystem
    with PropertyWatch(si, h, ["config.firewall.defaultPolicy"]) as watch:
        fw.UpdateDefaultPolicy(defaultPolicy=vim.host.FirewallInfo.DefaultPolicy(outgoingBlocked=False))
        changes, seconds = watch.wait(1)
        assert seconds < 1.0 and changes["config.firewall.defaultPolicy"].outgoingBlocked is False
    assert h.config.firewall.defaultPolicy.incomingBlocked is True
    fw.UpdateDefaultPolicy(defaultPolicy=vim.host.FirewallInfo.DefaultPolicy(outgoingBlocked=True))
    assert fw.firewallInfo.defaultPolicy.outgoingBlocked is True


# ---------------------------------------------------------------- lockdown

def test_change_lockdown_mode(si):
    h = host(si, "DC0_C0_H1")
    am = h.configManager.hostAccessManager
    assert am.lockdownMode == "lockdownDisabled" and h.config.adminDisabled is False
    with PropertyWatch(si, h, ["config.lockdownMode", "config.adminDisabled"]) as watch:
        am.ChangeLockdownMode(mode="lockdownNormal")
        changes, seconds = watch.wait(1)
        assert seconds < 1.0
        assert changes == {"config.lockdownMode": "lockdownNormal", "config.adminDisabled": True}
    with PropertyWatch(si, am, ["lockdownMode"]) as watch:
        am.ChangeLockdownMode(mode="lockdownStrict")
        changes, seconds = watch.wait(1)
        assert changes == {"lockdownMode": "lockdownStrict"} and seconds < 1.0
    assert h.config.lockdownMode == "lockdownStrict"
    assert config_service(h, "DCUI").running is False  # strict lockdown stops the DCUI
    assert host(si, "DC0_C0_H0").config.lockdownMode == "lockdownDisabled"
    with pytest.raises(vmodl_invalid_argument()):
        am.ChangeLockdownMode(mode="lockdownTotal")
    with PropertyWatch(si, am, ["lockdownMode"]) as watch:
        am.ChangeLockdownMode(mode="lockdownStrict")  # the same mode: silently nothing
        assert watch.wait(1)[0] == {}
    am.ChangeLockdownMode(mode="lockdownDisabled")
    assert h.config.lockdownMode == "lockdownDisabled" and h.config.adminDisabled is False
    assert config_service(h, "DCUI").running is True  # leaving lockdown starts the DCUI again


def test_lockdown_exceptions_and_system_users(si):
    h = host(si, "DC0_C0_H2")
    am = h.configManager.hostAccessManager
    assert am.QueryLockdownExceptions() == []
    am.UpdateLockdownExceptions(users=["svc-vsr", "root", "svc-vsr"])
    assert am.QueryLockdownExceptions() == ["svc-vsr", "root"]
    assert host(si, "DC0_C0_H0").configManager.hostAccessManager.QueryLockdownExceptions() == []
    with pytest.raises(vmodl_invalid_argument()):
        am.UpdateLockdownExceptions(users=["bad user"])
    assert am.QueryLockdownExceptions() == ["svc-vsr", "root"]
    am.UpdateLockdownExceptions(users=[])
    assert am.QueryLockdownExceptions() == []
    assert "vpxuser" in am.QuerySystemUsers()
    am.UpdateSystemUsers(users=["vpxuser", "svc-backup"])
    assert am.QuerySystemUsers() == ["vpxuser", "svc-backup"]


# ---------------------------------------------------------------- vSwitch / portgroup security

def pg(h, name, info=None):
    info = info or h.config.network
    return next(p for p in info.portgroup if p.spec.name == name)


def vswitch(h, name="vSwitch0"):
    return next(v for v in h.config.network.vswitch if v.name == name)


def test_vswitch_security_and_computed_policy(si):
    h = host(si, "DC0_C0_H0")
    ns = h.configManager.networkSystem
    vs = vswitch(h)
    sec = vs.spec.policy.security
    assert (sec.allowPromiscuous, sec.macChanges, sec.forgedTransmits) == (False, False, False)
    assert vs.portgroup == ["key-vim.host.PortGroup-VM Network", "key-vim.host.PortGroup-Management Network",
                            "key-vim.host.PortGroup-vMotion"]  # vmk1 (sim/vnicmgr.go)
    spec = vs.spec
    spec.policy.security = vim.host.NetworkPolicy.SecurityPolicy(allowPromiscuous=True)
    with PropertyWatch(si, h, ["config.network"]) as watch:
        ns.UpdateVirtualSwitch(vswitchName="vSwitch0", spec=spec)
        changes, seconds = watch.wait(1)
        assert "config.network" in changes and seconds < 1.0
    sec = vswitch(h).spec.policy.security
    assert (sec.allowPromiscuous, sec.macChanges, sec.forgedTransmits) == (True, False, False)  # unset kept
    assert pg(h, "VM Network").computedPolicy.security.allowPromiscuous is True
    assert pg(h, "VM Network", ns.networkInfo).computedPolicy.security.allowPromiscuous is True
    assert vswitch(host(si, "DC0_C0_H1")).spec.policy.security.allowPromiscuous is False  # per host

    # a portgroup override wins over the vSwitch; removing it inherits again
    pspec = pg(h, "VM Network").spec
    pspec.policy.security = vim.host.NetworkPolicy.SecurityPolicy(allowPromiscuous=False, forgedTransmits=True)
    with PropertyWatch(si, ns, ["networkInfo.portgroup"]) as watch:
        ns.UpdatePortGroup(pgName="VM Network", portgrp=pspec)
        changes, seconds = watch.wait(1)
        assert seconds < 1.0 and "networkInfo.portgroup" in changes
    computed = pg(h, "VM Network").computedPolicy.security
    assert (computed.allowPromiscuous, computed.macChanges, computed.forgedTransmits) == (False, False, True)
    assert pg(h, "Management Network").computedPolicy.security.allowPromiscuous is True
    pspec.policy.security = vim.host.NetworkPolicy.SecurityPolicy()
    ns.UpdatePortGroup(pgName="VM Network", portgrp=pspec)
    computed = pg(h, "VM Network").computedPolicy.security
    assert (computed.allowPromiscuous, computed.forgedTransmits) == (True, False)
    spec.policy.security = vim.host.NetworkPolicy.SecurityPolicy(allowPromiscuous=False)
    ns.UpdateVirtualSwitch(vswitchName="vSwitch0", spec=spec)
    assert pg(h, "VM Network").computedPolicy.security.allowPromiscuous is False


def test_network_faults(si):
    h = host(si, "DC0_C0_H1")
    ns = h.configManager.networkSystem
    spec = vswitch(h).spec
    with pytest.raises(vim.fault.NotFound):
        ns.UpdateVirtualSwitch(vswitchName="vSwitch9", spec=spec)
    spec.mtu = 100
    with pytest.raises(vmodl_invalid_argument()):
        ns.UpdateVirtualSwitch(vswitchName="vSwitch0", spec=spec)
    pspec = pg(h, "VM Network").spec
    with pytest.raises(vim.fault.NotFound):
        ns.UpdatePortGroup(pgName="No Such PG", portgrp=pspec)
    pspec.vlanId = 5000
    with pytest.raises(vmodl_invalid_argument()):
        ns.UpdatePortGroup(pgName="VM Network", portgrp=pspec)
    assert pg(h, "VM Network").spec.vlanId == 0


# ---------------------------------------------------------------- advanced options

def option(h, key):
    return h.configManager.advancedOption.QueryOptions(name=key)[0].value


def test_supported_options_are_typed(si):
    h = host(si, "DC0_C0_H0")
    defs = {d.key: d.optionType for d in h.configManager.advancedOption.supportedOption}
    assert len(defs) >= 25
    t = defs["Security.AccountLockFailures"]
    assert isinstance(t, vim.option.LongOption) and (t.min, t.max, t.defaultValue) == (0, 99, 5)
    assert isinstance(defs["Config.HostAgent.plugins.solo.enableMob"], vim.option.BoolOption)
    assert isinstance(defs["Syslog.global.logHost"], vim.option.StringOption)
    assert isinstance(defs["Syslog.global.logLevel"], vim.option.ChoiceOption)
    assert {d.key for d in h.config.optionDef} == set(defs)
    assert option(h, "Mem.ShareForceSalting") == 2
    assert isinstance(option(h, "Mem.ShareForceSalting"), LONG)


def test_update_options_typed_per_host_and_published(si):
    h, other = host(si, "DC0_C0_H0"), host(si, "DC0_C0_H1")
    om = h.configManager.advancedOption
    with PropertyWatch(si, om, ["setting"]) as watch_om, PropertyWatch(si, h, ["config.option"]) as watch_host:
        om.UpdateOptions(changedValue=[
            vim.option.OptionValue(key="Security.AccountUnlockTime", value=LONG(1800)),
            vim.option.OptionValue(key="Syslog.global.logHost", value="udp://192.168.10.5:514"),
            vim.option.OptionValue(key="Config.HostAgent.plugins.solo.enableMob", value=True)])
        changes, seconds = watch_om.wait(1)
        assert seconds < 1.0
        assert {o.key: o.value for o in changes["setting"]}["Security.AccountUnlockTime"] == 1800
        changes, seconds = watch_host.wait(1)
        assert seconds < 1.0
        assert {o.key: o.value for o in changes["config.option"]}["Syslog.global.logHost"] == "udp://192.168.10.5:514"
    assert option(h, "Security.AccountUnlockTime") == 1800
    assert option(h, "Config.HostAgent.plugins.solo.enableMob") is True
    assert option(other, "Security.AccountUnlockTime") == 900  # never shared between hosts
    assert {o.key: o.value for o in h.config.option}["Security.AccountUnlockTime"] == 1800


@pytest.mark.parametrize("key, value, fault", [
    ("No.Such.Option", "x", vim.fault.InvalidName),
    ("Security.AccountLockFailures", 3, "InvalidArgument"),             # pyVmomi int is xsd:int, not xsd:long
    ("Security.AccountLockFailures", LONG(100), "InvalidArgument"),     # out of range 0..99
    ("Mem.ShareForceSalting", LONG(-1), "InvalidArgument"),
    ("Config.HostAgent.plugins.solo.enableMob", "false", "InvalidArgument"),
    ("Syslog.global.logHost", LONG(1), "InvalidArgument"),
    ("Syslog.global.logLevel", "chatty", "InvalidArgument"),
])
def test_update_options_faults(si, key, value, fault):
    om = host(si, "DC0_C0_H2").configManager.advancedOption
    expected = vmodl_invalid_argument() if fault == "InvalidArgument" else fault
    with pytest.raises(expected):
        om.UpdateOptions(changedValue=[vim.option.OptionValue(key=key, value=value)])


def test_update_options_is_all_or_nothing(si):
    h = host(si, "DC0_H0")
    om = h.configManager.advancedOption
    with pytest.raises(vim.fault.InvalidName):
        om.UpdateOptions(changedValue=[vim.option.OptionValue(key="UserVars.DcuiTimeOut", value=LONG(300)),
                                       vim.option.OptionValue(key="Bogus.Key", value="1")])
    assert option(h, "UserVars.DcuiTimeOut") == 600


def test_query_options(si):
    om = host(si, "DC0_H0").configManager.advancedOption
    assert [o.key for o in om.QueryOptions(name="DCUI.Access")] == ["DCUI.Access"]
    keys = [o.key for o in om.QueryOptions(name="Security.")]
    assert "Security.AccountUnlockTime" in keys and all(k.startswith("Security.") for k in keys)
    assert len(om.QueryOptions()) >= 25
    with pytest.raises(vim.fault.InvalidName):
        om.QueryOptions(name="Nope.Nothing")


def test_required_ruleset_cannot_be_disabled(si):
    fw = host(si, "DC0_C0_H0").configManager.firewallSystem
    assert ruleset(fw.firewallInfo, "sshServer").required is True
    with pytest.raises(vim.fault.HostConfigFault):
        fw.DisableRuleset(id="sshServer")
    assert ruleset(fw.firewallInfo, "sshServer").enabled is True


def test_add_and_remove_portgroups_and_vswitches(si):
    h = host(si, "DC0_H0")
    ns = h.configManager.networkSystem
    ns.AddVirtualSwitch(vswitchName="vSwitch1", spec=vim.host.VirtualSwitch.Specification(
        numPorts=64, policy=vim.host.NetworkPolicy(security=vim.host.NetworkPolicy.SecurityPolicy(
            allowPromiscuous=True, macChanges=False, forgedTransmits=False))))
    with PropertyWatch(si, h, ["config.network.portgroup"]) as watch:
        ns.AddPortGroup(portgrp=vim.host.PortGroup.Specification(
            name="Capture", vlanId=42, vswitchName="vSwitch1", policy=vim.host.NetworkPolicy()))
        changes, seconds = watch.wait(1)
        assert seconds < 1.0 and "Capture" in {p.spec.name for p in changes["config.network.portgroup"]}
    capture = pg(h, "Capture")
    assert capture.key == "key-vim.host.PortGroup-Capture" and capture.vswitch == "key-vim.host.VirtualSwitch-vSwitch1"
    assert capture.computedPolicy.security.allowPromiscuous is True and capture.spec.vlanId == 42
    assert vswitch(h, "vSwitch1").portgroup == ["key-vim.host.PortGroup-Capture"]
    with pytest.raises(vim.fault.AlreadyExists):
        ns.AddVirtualSwitch(vswitchName="vSwitch1")
    ns.RemovePortGroup(pgName="Capture")
    assert "Capture" not in {p.spec.name for p in h.config.network.portgroup}
    assert not vswitch(h, "vSwitch1").portgroup
    with pytest.raises(vim.fault.NotFound):
        ns.RemovePortGroup(pgName="Capture")
    assert "Capture" not in {p.spec.name for p in host(si, "DC0_C0_H0").config.network.portgroup}


def test_no_op_writes_publish_nothing(si):
    h = host(si, "DC0_C0_H2")
    cm = h.configManager
    paths = ["config.option", "config.lockdownMode", "config.service", "config.firewall", "config.network"]
    salting = option(h, "Mem.ShareForceSalting")
    with PropertyWatch(si, h, paths) as watch:
        cm.advancedOption.UpdateOptions(changedValue=[vim.option.OptionValue(key="Mem.ShareForceSalting",
                                                                             value=LONG(salting))])
        cm.hostAccessManager.ChangeLockdownMode(mode=h.config.lockdownMode)
        cm.serviceSystem.StartService(id="DCUI")          # already running
        cm.serviceSystem.RefreshServices()
        cm.firewallSystem.EnableRuleset(id="sshServer")   # already enabled
        cm.firewallSystem.RefreshFirewall()
        cm.networkSystem.UpdatePortGroup(pgName="VM Network", portgrp=pg(h, "VM Network").spec)
        changes, _ = watch.wait(1)
        assert changes == {}
        cm.serviceSystem.StartService(id="ntpd")
        changes, seconds = watch.wait(1)
        assert list(changes) == ["config.service"] and seconds < 1.0
    cm.serviceSystem.StopService(id="ntpd")


def test_legacy_enter_and_exit_lockdown_mode(si):
    h = host(si, "DC0_H0")
    with PropertyWatch(si, h, ["config.lockdownMode"]) as watch:
        h.EnterLockdownMode()
        changes, seconds = watch.wait(1)
        assert changes == {"config.lockdownMode": "lockdownNormal"} and seconds < 1.0
    assert h.configManager.hostAccessManager.lockdownMode == "lockdownNormal" and h.config.adminDisabled is True
    with pytest.raises(vim.fault.AdminDisabled):
        h.EnterLockdownMode()
    h.ExitLockdownMode()
    assert h.config.lockdownMode == "lockdownDisabled" and h.config.adminDisabled is False
    with pytest.raises(vim.fault.AdminNotDisabled):
        h.ExitLockdownMode()


def test_ntp_servers(si):
    h = host(si, "DC0_C0_H1")
    dts = h.configManager.dateTimeSystem
    assert dts.dateTimeInfo.timeZone.key == "UTC" and not dts.dateTimeInfo.ntpConfig.server
    with PropertyWatch(si, h, ["config.dateTimeInfo"]) as watch:
        dts.UpdateDateTimeConfig(config=vim.host.DateTimeConfig(ntpConfig=vim.host.NtpConfig(
            server=["0.pool.ntp.org", "192.168.10.1"])))
        changes, seconds = watch.wait(1)
        assert seconds < 1.0 and "config.dateTimeInfo" in changes
    assert h.config.dateTimeInfo.ntpConfig.server == ["0.pool.ntp.org", "192.168.10.1"]
    assert dts.dateTimeInfo.ntpConfig.server == ["0.pool.ntp.org", "192.168.10.1"]
    assert not host(si, "DC0_C0_H0").config.dateTimeInfo.ntpConfig.server
    with pytest.raises(vmodl_invalid_argument()):
        dts.UpdateDateTimeConfig(config=vim.host.DateTimeConfig(ntpConfig=vim.host.NtpConfig(server=["bad host!"])))
    with pytest.raises(vmodl_invalid_argument()):
        dts.UpdateDateTimeConfig(config=vim.host.DateTimeConfig(timeZone="Europe/Berlin"))
    assert dts.QueryDateTime() is not None
