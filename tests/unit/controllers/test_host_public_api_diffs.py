"""Pure diff and guard logic of the host public-API controllers (issue 16), on pyVmomi data objects."""

import datetime as dt

import pytest
from pydantic import ValidationError
from pyVmomi import vim

from reconciler.api.models import HostSecurityPolicySpec
from reconciler.controllers.contract import ConnectionFacts, ObjectState, PolledValue, RelatedState, Skip
from reconciler.controllers.host_acceptance import HostAcceptanceLevel
from reconciler.controllers.host_ad import HostActiveDirectory
from reconciler.controllers.host_certificate import issuer_allowed
from reconciler.controllers.host_firewall_policy import INCOMING, OUTGOING, HostFirewallDefaultPolicy
from reconciler.controllers.host_ntp import SERVERS, HostNtp
from reconciler.controllers.host_snmp import COMMUNITIES, SNMP, HostSnmp
from reconciler.controllers.host_vgt import ALLOWED, EXCEPT, REPLACEMENT, HostVgt
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
DIRECT = ConnectionFacts("lab", False, "root", "192.168.10.7")
VIA_VC = ConnectionFacts("lab", True, "svc-vsr", "10.0.0.2")


def test_ntp_servers_compare_as_a_set_ignoring_case():
    c = HostNtp()
    s = ObjectState(REF, {}, related={"configManager.dateTimeSystem": RelatedState("dt-1", {
        "dateTimeInfo": vim.host.DateTimeInfo(ntpConfig=vim.host.NtpConfig(server=["NTP2.lab", "ntp1.lab"]))})})
    c.observe(s)
    assert c.diff({SERVERS: ["ntp1.lab", "ntp2.lab"]}, s) == []
    (d,) = c.diff({SERVERS: ["ntp1.lab", "ntp3.lab"]}, s)
    assert (d.current, d.desired) == (["NTP2.lab", "ntp1.lab"], ["ntp1.lab", "ntp3.lab"])


def test_ntp_servers_are_validated_with_their_position():
    with pytest.raises(ValidationError) as err:
        HostSecurityPolicySpec.model_validate({"ntp": {"servers": ["ntp1.lab", "udp://x"]}})
    assert err.value.errors()[0]["loc"] == ("ntp", "servers", 1)


def _fw(incoming, client_enabled=True, client_ips=None, heartbeats=True):
    allowed = (vim.host.Ruleset.IpList(allIp=True) if client_ips is None
               else vim.host.Ruleset.IpList(allIp=False, ipAddress=client_ips))
    rulesets = [vim.host.Ruleset(key="vSphereClient", enabled=client_enabled, allowedHosts=allowed),
                vim.host.Ruleset(key="vpxHeartbeats", enabled=heartbeats,
                                 allowedHosts=vim.host.Ruleset.IpList(allIp=True))]
    info = vim.host.FirewallInfo(defaultPolicy=vim.host.FirewallInfo.DefaultPolicy(
        incomingBlocked=incoming, outgoingBlocked=True), ruleset=rulesets)
    return ObjectState(REF, {"config.firewall": info, "summary.managementServerIp": "10.0.0.1"})


def test_firewall_default_policy_guard_needs_the_management_rulesets_open():
    c = HostFirewallDefaultPolicy()
    (d,) = c.diff({INCOMING: True, OUTGOING: True}, _fw(False))
    assert (d.path, d.current, d.desired) == (INCOMING, False, True)
    assert c.guard(d, {}, _fw(False), VIA_VC) is None
    refused = c.guard(d, {}, _fw(False, client_ips=["10.0.0.1"]), DIRECT)
    assert refused and "does not admit 192.168.10.7, the address of the reconciler" in refused
    assert "is disabled" in (c.guard(d, {}, _fw(False, client_enabled=False), VIA_VC) or "")
    outgoing = c.diff({OUTGOING: True}, _fw(True))
    assert outgoing == []
    state = _fw(True, heartbeats=False)
    state.props["config.firewall"].defaultPolicy.outgoingBlocked = False
    (o,) = c.diff({OUTGOING: True}, state)
    assert "vpxHeartbeats is disabled" in (c.guard(o, {}, state, VIA_VC) or "")
    assert c.guard(o.__class__(OUTGOING, True, False), {}, state, VIA_VC) is None  # unblocking is always safe


@pytest.mark.parametrize("level,minimum,drift", [
    ("community", "PartnerSupported", True), ("partner", "PartnerSupported", False),
    ("vmware_certified", "PartnerSupported", False), ("vmware_accepted", "VMwareCertified", True),
    ("partner", "CommunitySupported", False)])
def test_acceptance_level_is_ordered(level, minimum, drift):
    c = HostAcceptanceLevel()
    s = ObjectState(REF, {}, polled={"imageAcceptanceLevel": PolledValue(level, dt.datetime.now(dt.timezone.utc))})
    c.observe(s)
    diffs = c.diff({("acceptanceLevel", "minimum"): minimum}, s)
    assert bool(diffs) is drift
    if drift:
        assert diffs[0].desired == minimum and diffs[0].skip is None


def test_certificate_issuer_matches_when_every_listed_attribute_is_in_it():
    issuer = "CN=CA, DC=vsphere, DC=local, C=US, O=vcsa.lab, OU=VMware Engineering"
    assert issuer_allowed(issuer, ["OU=VMware Engineering, CN=ca"])
    assert not issuer_allowed(issuer, ["O=Example Corp"])
    assert issuer_allowed("CN=Issuing CA,O=Example\\, Inc.", ["O=Example\\, Inc."])
    HostSecurityPolicySpec.model_validate({"certificate": {"allowedIssuers": ["O=Example\\, Inc."]}})
    with pytest.raises(ValidationError):
        HostSecurityPolicySpec.model_validate({"certificate": {"allowedIssuers": ["Example Corp"]}})


def test_active_directory_not_joined_is_audit_only():
    info = vim.host.AuthenticationManagerInfo(authConfig=[
        vim.host.LocalAuthenticationInfo(enabled=True), vim.host.ActiveDirectoryInfo(enabled=False)])
    s = ObjectState(REF, {"config.authenticationManagerInfo": info,
                          "configManager.authenticationManager": vim.host.AuthenticationManager("auth-1")})
    domain = ("activeDirectory", "domain")
    (d,) = HostActiveDirectory().diff({domain: "corp.lab"}, s)
    assert (d.current, d.skip) == (None, Skip.AUDIT)
    files = {("activeDirectory", "joinUsernameFile"): "/nonexistent/u", ("activeDirectory", "joinPasswordFile"): "/p"}
    (bad,) = HostActiveDirectory().diff({domain: "corp.lab", **files}, s)
    assert bad.skip is Skip.INVALID and "/nonexistent/u: file not found" in bad.message
    info.authConfig[1].joinedDomain = "CORP.lab"
    assert HostActiveDirectory().diff({domain: "corp.lab"}, s) == []
    (other,) = HostActiveDirectory().diff({domain: "other.lab", **files}, s)
    assert other.skip is Skip.AUDIT and "never leaves a domain" in other.message


def test_vgt_portgroups_are_audited_unless_excepted():
    pgs = [vim.host.PortGroup(spec=vim.host.PortGroup.Specification(name=n, vlanId=v, vswitchName="vSwitch0"))
           for n, v in (("Trunk", 4095), ("VM Network", 0))]
    s = ObjectState(REF, {"config.network.portgroup": pgs})
    (d,) = HostVgt().diff({ALLOWED: False}, s)
    assert (d.subject, d.skip) == ("portgroup Trunk", Skip.AUDIT)
    assert HostVgt().diff({ALLOWED: False, EXCEPT: ["Tr*"]}, s) == []
    assert HostVgt().diff({ALLOWED: True}, s) == []


def test_vgt_never_moves_a_portgroup_that_carries_a_vmkernel_nic():
    pgs = [vim.host.PortGroup(spec=vim.host.PortGroup.Specification(name=n, vlanId=4095, vswitchName="vSwitch0"))
           for n in ("Trunk", "Mgmt Trunk")]
    vnics = [vim.host.VirtualNic(device="vmk0", portgroup="Mgmt Trunk")]
    s = ObjectState(REF, {"config.network.portgroup": pgs, "config.network.vnic": vnics})
    desired = {ALLOWED: False, REPLACEMENT: 20}
    trunk, mgmt = sorted(HostVgt().diff(desired, s), key=lambda d: d.subject, reverse=True)
    assert HostVgt().guard(trunk, desired, s, VIA_VC) is None
    reason = HostVgt().guard(mgmt, desired, s, VIA_VC)
    assert reason is not None and "refusing to move port group 'Mgmt Trunk' to VLAN 20" in reason and "vmk0" in reason


def test_snmp_communities_never_appear_in_the_diff(tmp_path):
    secret = tmp_path / "c"
    secret.write_text("s3cr3t-one\ns3cr3t-two\n")
    s = ObjectState(REF, {}, related={SNMP: RelatedState("snmp-1", {"configuration": vim.host.SnmpSystem.SnmpConfigSpec(
        enabled=True, readOnlyCommunities=["public"])})})
    (d,) = HostSnmp().diff({COMMUNITIES: str(secret)}, s)
    assert (d.current, d.desired) == ("<secret>", f"<secret in {secret}>")
    assert "s3cr3t" not in repr(d) and "public" not in repr(d)
    s.related[SNMP].props["configuration"].readOnlyCommunities = ["s3cr3t-two", "s3cr3t-one"]
    assert HostSnmp().diff({COMMUNITIES: str(secret)}, s) == []
