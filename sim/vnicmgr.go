package main

import (
	"fmt"
	"sort"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// VMkernel NIC services per host (HostVirtualNicManager, configManager.virtualNicManager): info.netConfig per
// nicType with every vmk of the host as a candidate (key "<nicType>.key-vim.host.VirtualNic-vmkN") and the selected
// ones, mirrored into host.config.virtualNicManagerInfo; SelectVnicForNicType / DeselectVnicForNicType with
// InvalidArgument for an unknown nicType or device, as the API reference describes.
//
// Every host gets a second VMkernel NIC, vmk1 on port group "vMotion" (vSwitch0, VLAN 20). Defaults: management
// on vmk0, vmotion on vmk1. -drift: on the first half of the hosts vMotion also runs on vmk0 (shared with
// management).

var nicTypes = []struct {
	name  string
	multi bool
}{
	{"faultToleranceLogging", true}, {"management", true}, {"nvmeRdma", true}, {"nvmeTcp", true},
	{"vSphereBackupNFC", true}, {"vSphereProvisioning", true}, {"vSphereReplication", true},
	{"vSphereReplicationNFC", true}, {"vmotion", true}, {"vsan", true}, {"vsanWitness", true},
}

// VirtualNicManager is a per-host HostVirtualNicManager.
type VirtualNicManager struct {
	mo.HostVirtualNicManager
	host     *simulator.HostSystem
	selected map[string][]string // nicType -> devices
}

func (s *Sim) installVnics() {
	s.vnics = map[string]*VirtualNicManager{}
	for i, h := range hostsSorted() {
		x := s.hosts[h.Name]
		if x == nil {
			continue
		}
		x.net.mutable()
		info := x.net.NetworkInfo
		info.Portgroup = append(info.Portgroup, types.HostPortGroup{Spec: types.HostPortGroupSpec{
			Name: "vMotion", VlanId: 20, VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{}}})
		ip := fmt.Sprintf("10.20.%d.%d", i/250, i%250+1)
		info.Vnic = append(info.Vnic, types.HostVirtualNic{Device: "vmk1", Key: "key-vim.host.VirtualNic-vmk1",
			Portgroup: "vMotion", Spec: types.HostVirtualNicSpec{Portgroup: "vMotion", Mtu: 1500,
				Ip:                  &types.HostIpConfig{IpAddress: ip, SubnetMask: "255.255.255.0"},
				Mac:                 fmt.Sprintf("00:50:56:6a:%02x:%02x", i/256%256, i%256),
				NetStackInstanceKey: "defaultTcpipStack"}})
		x.net.normalize()
		x.mirror()
		m := &VirtualNicManager{host: h, selected: map[string][]string{"management": {"vmk0"}, "vmotion": {"vmk1"}}}
		m.Self.Type = "HostVirtualNicManager"
		ref := simulator.Map.Put(m).Reference()
		h.ConfigManager.VirtualNicManager = &ref
		m.refresh(nil)
		s.vnics[h.Name] = m
	}
}

// applyVnicDrift: vMotion also on vmk0 (with management) on the first half of the hosts by name.
func (s *Sim) applyVnicDrift() {
	names := make([]string, 0, len(s.vnics))
	for n := range s.vnics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names[:(len(names)+1)/2] {
		m := s.vnics[n]
		m.selected["vmotion"] = []string{"vmk0", "vmk1"}
		m.refresh(nil)
	}
}

func (m *VirtualNicManager) vnics() []types.HostVirtualNic {
	if m.host.Config == nil || m.host.Config.Network == nil {
		return nil
	}
	return m.host.Config.Network.Vnic
}

// refresh rebuilds info from the host's vmks and the selection, and publishes it (also on the host).
func (m *VirtualNicManager) refresh(ctx *simulator.Context) {
	info := types.HostVirtualNicManagerInfo{}
	for _, t := range nicTypes {
		cfg := types.VirtualNicManagerNetConfig{NicType: t.name, MultiSelectAllowed: t.multi}
		for _, v := range m.vnics() {
			c := v
			c.Key = t.name + "." + v.Key
			cfg.CandidateVnic = append(cfg.CandidateVnic, c)
			for _, d := range m.selected[t.name] {
				if d == v.Device {
					cfg.SelectedVnic = append(cfg.SelectedVnic, c.Key)
				}
			}
		}
		info.NetConfig = append(info.NetConfig, cfg)
	}
	if ctx == nil {
		m.Info = info
		cp := info
		m.host.Config.VirtualNicManagerInfo = &cp
		return
	}
	publish(ctx, m, change("info", info))
	cp := info
	publish(ctx, m.host, change("config.virtualNicManagerInfo", cp))
}

func (m *VirtualNicManager) check(nicType, device string) *soap.Fault {
	known := false
	for _, t := range nicTypes {
		known = known || t.name == nicType
	}
	if !known {
		return invalidArgument("nicType", fmt.Sprintf("%q is not a VMkernel NIC type", nicType))
	}
	for _, v := range m.vnics() {
		if v.Device == device {
			return nil
		}
	}
	return invalidArgument("device", fmt.Sprintf("%q is not a VMkernel NIC of the host", device))
}

func (m *VirtualNicManager) SelectVnicForNicType(ctx *simulator.Context, req *types.SelectVnicForNicType) soap.HasFault {
	if f := m.check(req.NicType, req.Device); f != nil {
		return &methods.SelectVnicForNicTypeBody{Fault_: f}
	}
	for _, d := range m.selected[req.NicType] {
		if d == req.Device {
			return &methods.SelectVnicForNicTypeBody{Res: &types.SelectVnicForNicTypeResponse{}}
		}
	}
	m.selected[req.NicType] = append(m.selected[req.NicType], req.Device)
	sort.Strings(m.selected[req.NicType])
	m.refresh(ctx)
	return &methods.SelectVnicForNicTypeBody{Res: &types.SelectVnicForNicTypeResponse{}}
}

func (m *VirtualNicManager) DeselectVnicForNicType(ctx *simulator.Context, req *types.DeselectVnicForNicType) soap.HasFault {
	if f := m.check(req.NicType, req.Device); f != nil {
		return &methods.DeselectVnicForNicTypeBody{Fault_: f}
	}
	var keep []string
	for _, d := range m.selected[req.NicType] {
		if d != req.Device {
			keep = append(keep, d)
		}
	}
	m.selected[req.NicType] = keep
	m.refresh(ctx)
	return &methods.DeselectVnicForNicTypeBody{Res: &types.DeselectVnicForNicTypeResponse{}}
}

func (m *VirtualNicManager) QueryNetConfig(ctx *simulator.Context, req *types.QueryNetConfig) soap.HasFault {
	for _, c := range m.Info.NetConfig {
		if c.NicType == req.NicType {
			cp := c
			return &methods.QueryNetConfigBody{Res: &types.QueryNetConfigResponse{Returnval: &cp}}
		}
	}
	return &methods.QueryNetConfigBody{Fault_: invalidArgument("nicType", fmt.Sprintf("%q is not a VMkernel NIC type", req.NicType))}
}
