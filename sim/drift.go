package main

import (
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// applyDrift starts part of the estate insecure (documented in docs/simulator.md):
//   - the first half of the hosts by name (at least one): SSH (TSM-SSH) and the ESXi Shell (TSM) running
//     with policy "on", vSwitch0 accepting promiscuous mode, MAC changes and forged transmits,
//     Mem.ShareForceSalting=0, the managed object browser enabled, UserVars.SuppressShellWarning=1, SNMP
//     enabled with community "public", the firewall accepting incoming traffic by default, acceptance level
//     CommunitySupported (hostapi.go);
//   - every host's first VM (<host>_VM0): no isolation.* extraConfig settings;
//   - each datacenter's first DV portgroup: promiscuous mode and forged transmits accepted;
//   - vCenter level (not with -esx, vcenter.go): on that portgroup MAC learning and IPFIX on, no port reset at
//     disconnect, VLAN and security policy overridable per port; on the first distributed switch by name CDP
//     "both", a port mirroring session and an IPFIX collector; vCenter settings config.log.level=verbose and
//     vpxd.event.syslog.enabled=false.
func (s *Sim) applyDrift() {
	s.applyVnicDrift()    // vnicmgr.go
	s.applySSHKeysDrift() // sshkeys.go
	names := make([]string, 0, len(s.hosts))
	for n := range s.hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names[:(len(names)+1)/2] {
		x := s.hosts[n]
		for _, key := range []string{"TSM-SSH", "TSM"} {
			if svc := x.svc.find(key); svc != nil {
				svc.Running = true
				svc.Policy = string(types.HostServicePolicyOn)
			}
		}
		if rs := x.fw.find("sshServer"); rs != nil {
			rs.Enabled = true
		}
		if vs := x.net.vswitch("vSwitch0"); vs != nil && vs.Spec.Policy != nil {
			vs.Spec.Policy.Security = &types.HostNetworkSecurityPolicy{AllowPromiscuous: boolPtr(true),
				MacChanges: boolPtr(true), ForgedTransmits: boolPtr(true)}
		}
		x.net.normalize()
		x.applyPublicAPIDrift()
		x.opt.set(nil, []types.BaseOptionValue{
			&types.OptionValue{Key: "Mem.ShareForceSalting", Value: int64(0)},
			&types.OptionValue{Key: "Config.HostAgent.plugins.solo.enableMob", Value: true},
			&types.OptionValue{Key: "UserVars.SuppressShellWarning", Value: int64(1)},
		})
		x.mirror()
	}
	s.driftEsxcli(names[:(len(names)+1)/2])

	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		if !strings.HasSuffix(vm.Name, "_VM0") {
			continue
		}
		var keep []types.BaseOptionValue
		for _, o := range vm.Config.ExtraConfig {
			if !strings.HasPrefix(o.GetOptionValue().Key, "isolation.") {
				keep = append(keep, o)
			}
		}
		vm.Config.ExtraConfig = keep
	}

	seen := map[string]bool{}
	for _, h := range hostsSorted() {
		dc := datacenterOf(h)
		if dc == nil || seen[dc.Name] {
			continue
		}
		seen[dc.Name] = true
		if pg := firstDVPG(dc); pg != nil {
			if ps, ok := pg.Config.DefaultPortConfig.(*types.VMwareDVSPortSetting); ok && ps.SecurityPolicy != nil {
				ps.SecurityPolicy.AllowPromiscuous = &types.BoolPolicy{Value: boolPtr(true)}
				ps.SecurityPolicy.ForgedTransmits = &types.BoolPolicy{Value: boolPtr(true)}
			}
			if !s.cfg.esx {
				driftPortgroup(&pg.Config)
			}
		}
	}
	if !s.cfg.esx {
		s.applyVCenterDrift()
	}
}

// applyVCenterDrift: the first distributed switch by name (DVS0) and the vCenter's advanced settings (run after
// install, so normalizeNetwork and installVCenter have filled them already).
func (s *Sim) applyVCenterDrift() {
	var switches []*simulator.DistributedVirtualSwitch
	for _, e := range simulator.Map.All("DistributedVirtualSwitch") {
		switches = append(switches, e.(*simulator.DistributedVirtualSwitch))
	}
	sort.Slice(switches, func(i, j int) bool {
		a, b := switches[i], switches[j]
		return a.Name < b.Name || a.Name == b.Name && a.Self.Value < b.Self.Value
	})
	if len(switches) > 0 {
		if info, ok := switches[0].Config.(*types.VMwareDVSConfigInfo); ok {
			driftSwitch(info)
		}
	}
	driftVCOptions(simulator.Map.OptionManager().Setting)
}
