package main

import (
	"fmt"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Maintenance mode and host reboot (served by the host proxy, host.go):
//   - EnterMaintenanceMode_Task moves the host's powered-on VMs round-robin to the other hosts of its cluster
//     that are connected and not in maintenance mode (as DRS in fully automated mode does), then sets
//     runtime.inMaintenanceMode. When no such host exists it fails with InvalidState (real vCenter without DRS
//     waits until the VMs are moved or the timeout expires; failing is what a caller sees with a timeout).
//     A standalone host (no cluster) with powered-on VMs fails the same way, and so does a host with powered-on
//     VMs in a cluster whose DRS is disabled or not fully automated. HA admission control (failover-level
//     policy) refuses with InsufficientFailoverResourcesFault when the hosts left would not exceed the failover
//     level while the cluster runs powered-on VMs (cluster.go).
//   - ExitMaintenanceMode_Task clears runtime.inMaintenanceMode.
//   - RebootHost_Task needs maintenance mode unless force; the host is notResponding for -reboot-seconds, then
//     connected again with a new runtime.bootTime; esxcli settings pending until reboot (TLS profile, kernel
//     settings' runtime values) take effect then. Maintenance mode survives the reboot, as on ESXi.
// Property collectors see every change (publish).

func (s *Sim) installMaintenance() {
	s.override("HostSystem", s.proxies["HostSystem"], "EnterMaintenanceMode_Task", "ExitMaintenanceMode_Task", "RebootHost_Task")
}

func (p *hostProxy) hostOf(this types.ManagedObjectReference) (*simulator.HostSystem, *soap.Fault) {
	ref := realRef(this)
	h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
	if !ok {
		return nil, fault("", &types.ManagedObjectNotFound{Obj: ref})
	}
	return h, nil
}

func notConnected(h *simulator.HostSystem) (types.BaseMethodFault, string) {
	return &types.HostNotConnected{}, fmt.Sprintf("The host %s is not connected (%s).", h.Name, h.Runtime.ConnectionState)
}

// evacuationTargets are the cluster's other hosts that can run VMs, in inventory order.
func evacuationTargets(h *simulator.HostSystem) []*simulator.HostSystem {
	if h.Parent == nil || h.Parent.Type != "ClusterComputeResource" {
		return nil
	}
	cl, ok := simulator.Map.Get(*h.Parent).(*simulator.ClusterComputeResource)
	if !ok {
		return nil
	}
	var out []*simulator.HostSystem
	for _, ref := range cl.Host {
		o, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if !ok || o.Self == h.Self || o.Runtime.InMaintenanceMode ||
			o.Runtime.ConnectionState != types.HostSystemConnectionStateConnected {
			continue
		}
		out = append(out, o)
	}
	return out
}

func poweredOnVMs(h *simulator.HostSystem) []*simulator.VirtualMachine {
	var out []*simulator.VirtualMachine
	for _, ref := range h.Vm {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok &&
			vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			out = append(out, vm)
		}
	}
	return out
}

func withoutRef(refs []types.ManagedObjectReference, r types.ManagedObjectReference) []types.ManagedObjectReference {
	out := make([]types.ManagedObjectReference, 0, len(refs))
	for _, x := range refs {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

// migrate moves vm from one host to another (the host's vm list and the VM's runtime.host).
func migrate(ctx *simulator.Context, vm *simulator.VirtualMachine, from, to *simulator.HostSystem) {
	publish(ctx, from, change("vm", withoutRef(from.Vm, vm.Self)))
	publish(ctx, to, change("vm", append(withoutRef(to.Vm, vm.Self), vm.Self)))
	dst := to.Self
	publish(ctx, vm, change("runtime.host", &dst), change("summary.runtime.host", &dst))
}

func (p *hostProxy) EnterMaintenanceModeTask(ctx *simulator.Context, req *types.EnterMaintenanceMode_Task) soap.HasFault {
	h, f := p.hostOf(req.This)
	if f != nil {
		return &methods.EnterMaintenanceMode_TaskBody{Fault_: f}
	}
	ref := connectedHostTask(h, "enterMaintenanceMode", func() (types.BaseMethodFault, string) {
		if h.Runtime.InMaintenanceMode {
			return nil, ""
		}
		vms := poweredOnVMs(h)
		targets := evacuationTargets(h)
		if len(vms) > 0 && len(targets) == 0 {
			return &types.InvalidState{}, fmt.Sprintf("The host %s cannot enter maintenance mode: %d powered-on "+
				"virtual machines and no other connected host in the cluster that is not in maintenance mode",
				h.Name, len(vms))
		}
		if cl, cfg := clusterOf(h); cl != nil { // cluster.go
			if msg := drsRefusal(cl, cfg, len(vms)); msg != "" {
				return &types.InvalidState{}, fmt.Sprintf("The host %s cannot enter maintenance mode: %s", h.Name, msg)
			}
			if msg := haRefusal(cl, cfg, len(targets), clusterPoweredOn(cl)); msg != "" {
				return &types.InsufficientFailoverResourcesFault{}, msg
			}
		}
		for i, vm := range vms {
			migrate(ctx, vm, h, targets[i%len(targets)])
		}
		publish(ctx, h, change("runtime.inMaintenanceMode", true))
		return nil, ""
	})
	return &methods.EnterMaintenanceMode_TaskBody{Res: &types.EnterMaintenanceMode_TaskResponse{Returnval: ref}}
}

func (p *hostProxy) ExitMaintenanceModeTask(ctx *simulator.Context, req *types.ExitMaintenanceMode_Task) soap.HasFault {
	h, f := p.hostOf(req.This)
	if f != nil {
		return &methods.ExitMaintenanceMode_TaskBody{Fault_: f}
	}
	ref := connectedHostTask(h, "exitMaintenanceMode", func() (types.BaseMethodFault, string) {
		if h.Runtime.InMaintenanceMode {
			publish(ctx, h, change("runtime.inMaintenanceMode", false))
		}
		return nil, ""
	})
	return &methods.ExitMaintenanceMode_TaskBody{Res: &types.ExitMaintenanceMode_TaskResponse{Returnval: ref}}
}

func (p *hostProxy) RebootHostTask(ctx *simulator.Context, req *types.RebootHost_Task) soap.HasFault {
	h, f := p.hostOf(req.This)
	if f != nil {
		return &methods.RebootHost_TaskBody{Fault_: f}
	}
	ref := connectedHostTask(h, "rebootHost", func() (types.BaseMethodFault, string) {
		if !req.Force && !h.Runtime.InMaintenanceMode {
			return &types.InvalidState{}, fmt.Sprintf("The host %s is not in maintenance mode; reboot it with "+
				"force or enter maintenance mode first", h.Name)
		}
		publish(ctx, h, change("runtime.connectionState", types.HostSystemConnectionStateNotResponding))
		go p.sim.finishReboot(h)
		return nil, ""
	})
	return &methods.RebootHost_TaskBody{Res: &types.RebootHost_TaskResponse{Returnval: ref}}
}

// connectedHostTask runs step as a task of host h, refused with HostNotConnected while h is not connected; a
// fault step returns carries the message it returns with it.
func connectedHostTask(h *simulator.HostSystem, name string, step func() (types.BaseMethodFault, string)) types.ManagedObjectReference {
	var msg string
	task := simulator.CreateTask(h, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		var fault types.BaseMethodFault
		if h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected {
			fault, msg = notConnected(h)
		} else {
			fault, msg = step()
		}
		return nil, fault
	})
	ref := task.Run()
	setTaskMessage(task, msg)
	return ref
}

// finishReboot brings the host back after -reboot-seconds with its pending settings in effect.
func (s *Sim) finishReboot(h *simulator.HostSystem) {
	time.Sleep(time.Duration(s.cfg.rebootSeconds * float64(time.Second)))
	if s.cli != nil {
		if e := s.cli.byRef[h.Self.Value]; e != nil {
			e.mu.Lock()
			e.tlsBootProfile = e.tlsProfile
			for _, k := range e.kernel {
				k.runtime = k.configured
			}
			e.mu.Unlock()
		}
	}
	now := time.Now()
	simulator.Map.WithLock(h, func() {
		simulator.Map.Update(h, []types.PropertyChange{change("runtime.bootTime", &now),
			change("runtime.connectionState", types.HostSystemConnectionStateConnected)})
	})
}
