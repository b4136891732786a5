package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// NetworkSystem replaces the library's HostNetworkSystem: per-host networkInfo taken from the host's
// config.network, vSwitch and portgroup security policies, computedPolicy kept right.
type NetworkSystem struct {
	mo.HostNetworkSystem
	host *simulator.HostSystem
	lib  *simulator.HostNetworkSystem // the library object, for the methods delegated to it
}

const (
	pgKeyPrefix = "key-vim.host.PortGroup-"
	vsKeyPrefix = "key-vim.host.VirtualSwitch-"
)

func newNetworkSystem(h *simulator.HostSystem) *NetworkSystem {
	info := new(types.HostNetworkInfo)
	xmlCopy(h.Config.Network, info)
	n := &NetworkSystem{host: h}
	if lib, ok := simulator.Map.Get(*h.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem); ok {
		n.lib = lib
		n.HostNetworkSystem = lib.HostNetworkSystem
	}
	n.NetworkInfo = info
	if n.lib != nil {
		n.lib.NetworkInfo = info
	}
	// Secure vSwitch defaults (as ESXi 8 and hardened host profiles): reject all three.
	for i := range info.Vswitch {
		p := info.Vswitch[i].Spec.Policy
		if p == nil {
			p = &types.HostNetworkPolicy{}
			info.Vswitch[i].Spec.Policy = p
		}
		p.Security = &types.HostNetworkSecurityPolicy{AllowPromiscuous: boolPtr(false), MacChanges: boolPtr(false),
			ForgedTransmits: boolPtr(false)}
	}
	n.normalize()
	return n
}

// mutable: copy-on-write of networkInfo (see ServiceSystem.mutable); the library object shares the pointer.
func (n *NetworkSystem) mutable() {
	cp := new(types.HostNetworkInfo)
	xmlCopy(n.NetworkInfo, cp)
	n.NetworkInfo = cp
	if n.lib != nil {
		n.lib.NetworkInfo = cp
	}
}

func (n *NetworkSystem) vswitch(name string) *types.HostVirtualSwitch {
	for i := range n.NetworkInfo.Vswitch {
		if n.NetworkInfo.Vswitch[i].Name == name {
			return &n.NetworkInfo.Vswitch[i]
		}
	}
	return nil
}

func (n *NetworkSystem) portgroup(name string) *types.HostPortGroup {
	for i := range n.NetworkInfo.Portgroup {
		if n.NetworkInfo.Portgroup[i].Spec.Name == name {
			return &n.NetworkInfo.Portgroup[i]
		}
	}
	return nil
}

func pick(override, base *bool) *bool {
	if override != nil {
		return boolPtr(*override)
	}
	if base != nil {
		return boolPtr(*base)
	}
	return nil
}

// computePolicy is the vSwitch policy with the portgroup's overrides (non-nil fields) applied.
func computePolicy(pg types.HostNetworkPolicy, vs *types.HostNetworkPolicy) types.HostNetworkPolicy {
	var base types.HostNetworkPolicy
	if vs != nil {
		xmlCopy(vs, &base)
	}
	out := base
	sec := &types.HostNetworkSecurityPolicy{}
	bs := base.Security
	if bs == nil {
		bs = &types.HostNetworkSecurityPolicy{}
	}
	os := pg.Security
	if os == nil {
		os = &types.HostNetworkSecurityPolicy{}
	}
	sec.AllowPromiscuous = pick(os.AllowPromiscuous, bs.AllowPromiscuous)
	sec.MacChanges = pick(os.MacChanges, bs.MacChanges)
	sec.ForgedTransmits = pick(os.ForgedTransmits, bs.ForgedTransmits)
	out.Security = sec

	if t := pg.NicTeaming; t != nil && base.NicTeaming != nil {
		nt := *base.NicTeaming
		if t.Policy != "" {
			nt.Policy = t.Policy
		}
		nt.ReversePolicy = pick(t.ReversePolicy, nt.ReversePolicy)
		nt.NotifySwitches = pick(t.NotifySwitches, nt.NotifySwitches)
		nt.RollingOrder = pick(t.RollingOrder, nt.RollingOrder)
		if t.FailureCriteria != nil && t.FailureCriteria.CheckSpeed != "" {
			fc := *t.FailureCriteria
			nt.FailureCriteria = &fc
		}
		if t.NicOrder != nil {
			no := *t.NicOrder
			nt.NicOrder = &no
		}
		out.NicTeaming = &nt
	}
	if o := pg.OffloadPolicy; o != nil && base.OffloadPolicy != nil {
		op := *base.OffloadPolicy
		op.CsumOffload = pick(o.CsumOffload, op.CsumOffload)
		op.TcpSegmentation = pick(o.TcpSegmentation, op.TcpSegmentation)
		op.ZeroCopyXmit = pick(o.ZeroCopyXmit, op.ZeroCopyXmit)
		out.OffloadPolicy = &op
	}
	if s := pg.ShapingPolicy; s != nil && s.Enabled != nil {
		sp := *s
		out.ShapingPolicy = &sp
	}
	return out
}

// normalize recomputes keys, the vSwitch portgroup lists and every portgroup's computedPolicy.
func (n *NetworkSystem) normalize() {
	info := n.NetworkInfo
	for i := range info.Vswitch {
		vs := &info.Vswitch[i]
		vs.Key = vsKeyPrefix + vs.Name
		vs.Portgroup = nil
	}
	for i := range info.Portgroup {
		pg := &info.Portgroup[i]
		pg.Key = pgKeyPrefix + pg.Spec.Name
		pg.Vswitch = vsKeyPrefix + pg.Spec.VswitchName
		vs := n.vswitch(pg.Spec.VswitchName)
		if vs == nil {
			pg.ComputedPolicy = computePolicy(pg.Spec.Policy, nil)
			continue
		}
		vs.Portgroup = append(vs.Portgroup, pg.Key)
		pg.ComputedPolicy = computePolicy(pg.Spec.Policy, vs.Spec.Policy)
	}
}

func (n *NetworkSystem) publish(ctx *simulator.Context) {
	n.normalize()
	cur := n.host.Config.Network
	if cur != nil && sameXML(&types.HostNetworkInfo{Vswitch: n.NetworkInfo.Vswitch, Portgroup: n.NetworkInfo.Portgroup},
		&types.HostNetworkInfo{Vswitch: cur.Vswitch, Portgroup: cur.Portgroup}) {
		return // nothing changed
	}
	publish(ctx, n,
		change("networkInfo.vswitch", n.NetworkInfo.Vswitch),
		change("networkInfo.portgroup", n.NetworkInfo.Portgroup))
	var cp types.HostNetworkInfo
	xmlCopy(n.NetworkInfo, &cp)
	h := n.host
	var changes []types.PropertyChange
	changes = append(changes, change("config.network.vswitch", cp.Vswitch), change("config.network.portgroup", cp.Portgroup))
	// keep the rest of config.network (vnic, pnic...) as it was
	publish(ctx, h, changes...)
}

func mergeSecurity(dst **types.HostNetworkSecurityPolicy, src *types.HostNetworkSecurityPolicy) {
	if src == nil {
		return
	}
	if *dst == nil {
		*dst = &types.HostNetworkSecurityPolicy{}
	}
	d := *dst
	d.AllowPromiscuous = pick(src.AllowPromiscuous, d.AllowPromiscuous)
	d.MacChanges = pick(src.MacChanges, d.MacChanges)
	d.ForgedTransmits = pick(src.ForgedTransmits, d.ForgedTransmits)
}

// UpdateVirtualSwitch applies the spec; policy parts left unset keep their current values.
func (n *NetworkSystem) UpdateVirtualSwitch(ctx *simulator.Context, req *types.UpdateVirtualSwitch) soap.HasFault {
	vs := n.vswitch(req.VswitchName)
	if vs == nil {
		return &methods.UpdateVirtualSwitchBody{Fault_: notFound(req.VswitchName)}
	}
	spec := req.Spec
	if spec.NumPorts != 0 && (spec.NumPorts < 1 || spec.NumPorts > 4096) {
		return &methods.UpdateVirtualSwitchBody{Fault_: invalidArgument("spec.numPorts",
			fmt.Sprintf("numPorts %d is out of range 1..4096", spec.NumPorts))}
	}
	if spec.Mtu != 0 && (spec.Mtu < 1280 || spec.Mtu > 9000) {
		return &methods.UpdateVirtualSwitchBody{Fault_: invalidArgument("spec.mtu",
			fmt.Sprintf("mtu %d is out of range 1280..9000", spec.Mtu))}
	}
	n.mutable()
	vs = n.vswitch(req.VswitchName)
	if spec.NumPorts != 0 {
		vs.Spec.NumPorts = spec.NumPorts
	}
	if spec.Mtu != 0 {
		vs.Spec.Mtu = spec.Mtu
		vs.Mtu = spec.Mtu
	}
	if spec.Bridge != nil {
		vs.Spec.Bridge = spec.Bridge
	}
	if p := spec.Policy; p != nil {
		if vs.Spec.Policy == nil {
			vs.Spec.Policy = &types.HostNetworkPolicy{}
		}
		cur := vs.Spec.Policy
		mergeSecurity(&cur.Security, p.Security)
		if p.NicTeaming != nil {
			cur.NicTeaming = p.NicTeaming
		}
		if p.OffloadPolicy != nil {
			cur.OffloadPolicy = p.OffloadPolicy
		}
		if p.ShapingPolicy != nil {
			cur.ShapingPolicy = p.ShapingPolicy
		}
	}
	n.publish(ctx)
	return &methods.UpdateVirtualSwitchBody{Res: &types.UpdateVirtualSwitchResponse{}}
}

// UpdatePortGroup replaces the portgroup's spec; its policy holds only overrides (unset = inherit).
func (n *NetworkSystem) UpdatePortGroup(ctx *simulator.Context, req *types.UpdatePortGroup) soap.HasFault {
	pg := n.portgroup(req.PgName)
	if pg == nil {
		return &methods.UpdatePortGroupBody{Fault_: notFound(req.PgName)}
	}
	spec := req.Portgrp
	if spec.VlanId < 0 || spec.VlanId > 4095 {
		return &methods.UpdatePortGroupBody{Fault_: invalidArgument("portgrp.vlanId",
			fmt.Sprintf("VLAN ID %d is out of range 0..4095", spec.VlanId))}
	}
	if spec.VswitchName == "" {
		spec.VswitchName = pg.Spec.VswitchName
	}
	if n.vswitch(spec.VswitchName) == nil {
		return &methods.UpdatePortGroupBody{Fault_: notFound(spec.VswitchName)}
	}
	if spec.Name == "" {
		spec.Name = pg.Spec.Name
	}
	if spec.Name != req.PgName && n.portgroup(spec.Name) != nil {
		return &methods.UpdatePortGroupBody{Fault_: fault("The specified key, name, or identifier '"+spec.Name+
			"' already exists.", &types.AlreadyExists{Name: spec.Name})}
	}
	n.mutable()
	n.portgroup(req.PgName).Spec = spec
	n.publish(ctx)
	return &methods.UpdatePortGroupBody{Res: &types.UpdatePortGroupResponse{}}
}

// The following are delegated to the library (which works on the same networkInfo), then re-normalized.

func (n *NetworkSystem) AddVirtualSwitch(ctx *simulator.Context, req *types.AddVirtualSwitch) soap.HasFault {
	n.mutable()
	res := n.lib.AddVirtualSwitch(req)
	if res.Fault() == nil {
		if vs := n.vswitch(req.VswitchName); vs != nil && req.Spec != nil {
			vs.Spec = *req.Spec
		}
		n.publish(ctx)
	}
	return res
}

func (n *NetworkSystem) AddPortGroup(ctx *simulator.Context, req *types.AddPortGroup) soap.HasFault {
	n.mutable()
	res := n.lib.AddPortGroup(ctx, req)
	if res.Fault() == nil {
		n.publish(ctx)
	}
	return res
}

func (n *NetworkSystem) RemovePortGroup(ctx *simulator.Context, req *types.RemovePortGroup) soap.HasFault {
	// Per-host only: the datacenter's Network entity is shared by other hosts and stays.
	for i := range n.NetworkInfo.Portgroup {
		if n.NetworkInfo.Portgroup[i].Spec.Name == req.PgName {
			n.mutable()
			pgs := n.NetworkInfo.Portgroup
			n.NetworkInfo.Portgroup = append(pgs[:i:i], pgs[i+1:]...)
			n.publish(ctx)
			return &methods.RemovePortGroupBody{Res: &types.RemovePortGroupResponse{}}
		}
	}
	return &methods.RemovePortGroupBody{Fault_: notFound(req.PgName)}
}

func (n *NetworkSystem) UpdateNetworkConfig(ctx *simulator.Context, req *types.UpdateNetworkConfig) soap.HasFault {
	return n.lib.UpdateNetworkConfig(req)
}

func (n *NetworkSystem) QueryNetworkHint(ctx *simulator.Context, req *types.QueryNetworkHint) soap.HasFault {
	return n.lib.QueryNetworkHint(req)
}

func (n *NetworkSystem) RefreshNetworkSystem(ctx *simulator.Context, req *types.RefreshNetworkSystem) soap.HasFault {
	n.publish(ctx)
	return &methods.RefreshNetworkSystemBody{Res: &types.RefreshNetworkSystemResponse{}}
}
