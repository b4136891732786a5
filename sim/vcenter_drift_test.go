package main

import (
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

// A switch as normalizeNetwork leaves it, then -drift's vCenter-level changes: what the baselines look for, a
// configVersion that stays a number, and nothing the start-up defaults would fill again.
func TestDriftSwitch(t *testing.T) {
	info := &types.VMwareDVSConfigInfo{}
	info.DefaultPortConfig = &types.VMwareDVSPortSetting{}
	defaultSwitchConfig(info)
	driftSwitch(info)
	if l := info.LinkDiscoveryProtocolConfig; l.Protocol != "cdp" || l.Operation != "both" {
		t.Errorf("link discovery %+v, want cdp/both", l)
	}
	if c := info.IpfixConfig; c.CollectorIpAddress != "192.0.2.10" || c.CollectorPort != 4739 || c.ActiveFlowTimeout != 60 {
		t.Errorf("ipfix %+v, want collector 192.0.2.10:4739 with the default timeouts", c)
	}
	if len(info.VspanSession) != 1 || info.VspanSession[0].Name != "legacy-span" || !info.VspanSession[0].Enabled ||
		info.VspanSession[0].Key != driftSpanKey {
		t.Fatalf("vspan sessions %+v, want one enabled legacy-span", info.VspanSession)
	}
	if info.ConfigVersion != "2" {
		t.Errorf("configVersion %q, want 2", info.ConfigVersion)
	}
	if defaultSwitchConfig(info) || info.LinkDiscoveryProtocolConfig.Operation != "both" {
		t.Error("the start-up defaults fill the drifted switch again")
	}
	// the session is removable by its key (what vsr apply sends), and a new one gets another key
	left, prop := applyVspan(info.VspanSession, []types.VMwareDVSVspanConfigSpec{
		{Operation: "add", VspanSession: types.VMwareVspanSession{Name: "approved"}},
		{Operation: "remove", VspanSession: types.VMwareVspanSession{Key: driftSpanKey}}})
	if prop != "" || len(left) != 1 || left[0].Name != "approved" || left[0].Key == driftSpanKey {
		t.Errorf("applyVspan: %q %+v", prop, left)
	}
}

func TestDriftPortgroup(t *testing.T) {
	shared := &types.VMwareDVSPortgroupPolicy{DVPortgroupPolicy: types.DVPortgroupPolicy{BlockOverrideAllowed: true,
		PortConfigResetAtDisconnect: true}}
	cfg := &types.DVPortgroupConfigInfo{ConfigVersion: "1", Policy: shared, DefaultPortConfig: &types.VMwareDVSPortSetting{}}
	defaultPortSetting(cfg.DefaultPortConfig.(*types.VMwareDVSPortSetting))
	driftPortgroup(cfg)
	ps := cfg.DefaultPortConfig.(*types.VMwareDVSPortSetting)
	if !ps.MacManagementPolicy.MacLearningPolicy.Enabled || !isTrue(ps.IpfixEnabled.Value) {
		t.Errorf("MAC learning %+v, IPFIX %+v: want both on", ps.MacManagementPolicy.MacLearningPolicy, ps.IpfixEnabled)
	}
	if isTrue(ps.MacManagementPolicy.AllowPromiscuous) || isTrue(ps.MacManagementPolicy.ForgedTransmits) {
		t.Error("MAC learning drift changed the MAC management security flags")
	}
	pol := cfg.Policy.(*types.VMwareDVSPortgroupPolicy)
	if pol.PortConfigResetAtDisconnect || !pol.VlanOverrideAllowed || !pol.SecurityPolicyOverrideAllowed ||
		!pol.BlockOverrideAllowed || pol.UplinkTeamingOverrideAllowed {
		t.Errorf("policy %+v", pol)
	}
	if !shared.PortConfigResetAtDisconnect || shared.VlanOverrideAllowed {
		t.Error("the drift changed a policy value it was not given (shared pointer)")
	}
	if cfg.ConfigVersion != "2" {
		t.Errorf("configVersion %q, want 2", cfg.ConfigVersion)
	}
	before := *ps.MacManagementPolicy.MacLearningPolicy
	defaultPortSetting(ps)
	if *ps.MacManagementPolicy.MacLearningPolicy != before || !isTrue(ps.IpfixEnabled.Value) {
		t.Error("the start-up defaults fill the drifted portgroup again")
	}
}

// The drifted vCenter settings keep their types: each passes the check UpdateOptions applies to its key.
func TestDriftVCOptions(t *testing.T) {
	var setting []types.BaseOptionValue
	for i := range vcOptionTable {
		setting = append(setting, &types.OptionValue{Key: vcOptionTable[i].key, Value: vcOptionTable[i].def})
	}
	driftVCOptions(setting)
	got := map[string]interface{}{}
	for _, o := range setting {
		got[o.GetOptionValue().Key] = o.GetOptionValue().Value
	}
	if got["config.log.level"] != "verbose" || got["vpxd.event.syslog.enabled"] != false {
		t.Errorf("settings %v", got)
	}
	if got["VirtualCenter.VimPasswordExpirationInDays"] != int64(30) || len(got) != len(vcOptionTable) {
		t.Errorf("other settings changed: %v", got)
	}
	for i := range vcOptionTable {
		if f := vcOptionTable[i].check(got[vcOptionTable[i].key]); f != nil {
			t.Errorf("%s = %v: %s", vcOptionTable[i].key, got[vcOptionTable[i].key], f.String)
		}
	}
}
