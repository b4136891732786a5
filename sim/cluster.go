package main

// Cluster DRS and HA settings, and what they mean for maintenance mode (maintenance.go):
//   - ReconfigureComputeResource_Task on a cluster: the library applies rules, groups and overrides; this
//     proxy also applies spec.drsConfig and spec.dasConfig (vcsim ignores both), merged field by field when
//     `modify` is true; when false both become exactly what the spec says, unset when it omits them (the API
//     reference: "any unset portions of the specification will result in unset or default portions").
//     A defaultVmBehavior other than manual/partiallyAutomated/fullyAutomated, or a failover level below 1,
//     is InvalidArgument.
//   - vcsim's clusters start with DRS enabled (defaultVmBehavior unset: fullyAutomated, vCenter's default)
//     and HA off.

import (
	"fmt"
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type clusterProxy struct {
	mo.ExtensibleManagedObject
}

func (s *Sim) installClusters() {
	s.override("ClusterComputeResource", func(ref types.ManagedObjectReference) mo.Reference {
		p := &clusterProxy{}
		p.Self = ref
		return p
	}, "ReconfigureComputeResource_Task")
}

func (p *clusterProxy) ReconfigureComputeResourceTask(ctx *simulator.Context, req *types.ReconfigureComputeResource_Task) soap.HasFault {
	cl, ref, notFound := proxied[*simulator.ClusterComputeResource](req.This)
	if notFound != nil {
		return &methods.ReconfigureComputeResource_TaskBody{Fault_: notFound}
	}
	req.This = ref
	spec, _ := req.Spec.(*types.ClusterConfigSpecEx)
	if spec != nil {
		if prop, msg := checkClusterSpec(spec); prop != "" {
			task := taskFailure(cl, "reconfigureCluster", &types.InvalidArgument{InvalidProperty: prop}, msg)
			return &methods.ReconfigureComputeResource_TaskBody{Res: &types.ReconfigureComputeResource_TaskResponse{Returnval: task}}
		}
	}
	var body soap.HasFault
	onObject(ctx, cl, func() {
		body = cl.ReconfigureComputeResourceTask(req)
		cfg, ok := cl.ConfigurationEx.(*types.ClusterConfigInfoEx)
		if spec == nil || !ok || !taskSucceeded(body) {
			return
		}
		next := *cfg
		if !req.Modify { // "the configuration matches the specification exactly": unset portions become unset
			next.DrsConfig, next.DasConfig = types.ClusterDrsConfigInfo{}, types.ClusterDasConfigInfo{}
		}
		if spec.DrsConfig != nil {
			mergeStruct(reflect.ValueOf(&next.DrsConfig).Elem(), reflect.ValueOf(spec.DrsConfig).Elem())
		}
		if spec.DasConfig != nil {
			mergeStruct(reflect.ValueOf(&next.DasConfig).Elem(), reflect.ValueOf(spec.DasConfig).Elem())
		}
		simulator.Map.Update(cl, []types.PropertyChange{change("configurationEx", &next)})
	})
	return body
}

func taskSucceeded(body soap.HasFault) bool {
	b, ok := body.(*methods.ReconfigureComputeResource_TaskBody)
	if !ok || b.Res == nil {
		return false
	}
	task, ok := simulator.Map.Get(b.Res.Returnval).(*simulator.Task)
	return ok && task.Info.State == types.TaskInfoStateSuccess
}

func checkClusterSpec(spec *types.ClusterConfigSpecEx) (string, string) {
	if drs := spec.DrsConfig; drs != nil {
		switch drs.DefaultVmBehavior {
		case "", types.DrsBehaviorManual, types.DrsBehaviorPartiallyAutomated, types.DrsBehaviorFullyAutomated:
		default:
			return "spec.drsConfig.defaultVmBehavior", fmt.Sprintf("A specified parameter was not correct: "+
				"spec.drsConfig.defaultVmBehavior (%q)", drs.DefaultVmBehavior)
		}
	}
	if das := spec.DasConfig; das != nil {
		if pol, ok := das.AdmissionControlPolicy.(*types.ClusterFailoverLevelAdmissionControlPolicy); ok && pol.FailoverLevel < 1 {
			return "spec.dasConfig.admissionControlPolicy.failoverLevel", fmt.Sprintf("A specified parameter was "+
				"not correct: spec.dasConfig.admissionControlPolicy.failoverLevel (%d)", pol.FailoverLevel)
		}
	}
	return "", ""
}

// clusterOf is the host's cluster and its configuration, or nil for a standalone host.
func clusterOf(h *simulator.HostSystem) (*simulator.ClusterComputeResource, *types.ClusterConfigInfoEx) {
	if h.Parent == nil || h.Parent.Type != "ClusterComputeResource" {
		return nil, nil
	}
	cl, ok := simulator.Map.Get(*h.Parent).(*simulator.ClusterComputeResource)
	if !ok {
		return nil, nil
	}
	cfg, _ := cl.ConfigurationEx.(*types.ClusterConfigInfoEx)
	return cl, cfg
}

// drsRefusal says why vCenter would not move the host's powered-on VMs itself: DRS off, or not fully
// automated (vCenter then waits for someone to migrate them; the simulator fails the task instead).
func drsRefusal(cl *simulator.ClusterComputeResource, cfg *types.ClusterConfigInfoEx, vms int) string {
	if cfg == nil || vms == 0 {
		return ""
	}
	drs := cfg.DrsConfig
	if drs.Enabled == nil || !*drs.Enabled {
		return fmt.Sprintf("DRS is disabled on cluster %s: %d powered-on virtual machines would have to be "+
			"migrated by hand", cl.Name, vms)
	}
	if b := drs.DefaultVmBehavior; b != "" && b != types.DrsBehaviorFullyAutomated {
		return fmt.Sprintf("DRS on cluster %s is %s: %d powered-on virtual machines would have to be migrated "+
			"by hand", cl.Name, b, vms)
	}
	return ""
}

// haRefusal says why HA admission control refuses the host entering maintenance mode: with the
// failover-level policy, the hosts left (connected, not in maintenance mode) must be more than the number of
// host failures the cluster tolerates while the cluster runs powered-on VMs. (vCenter counts slots; the
// simulator counts hosts, which is the same on a cluster of equal hosts.) Other admission-control policies
// are not judged.
func haRefusal(cl *simulator.ClusterComputeResource, cfg *types.ClusterConfigInfoEx, left int, clusterVMs int) string {
	if cfg == nil || clusterVMs == 0 {
		return ""
	}
	das := cfg.DasConfig
	if das.Enabled == nil || !*das.Enabled || das.AdmissionControlEnabled == nil || !*das.AdmissionControlEnabled {
		return ""
	}
	pol, ok := das.AdmissionControlPolicy.(*types.ClusterFailoverLevelAdmissionControlPolicy)
	if !ok || int(pol.FailoverLevel) < left {
		return ""
	}
	return fmt.Sprintf("Insufficient resources to satisfy vSphere HA failover level %d on cluster %s: %d host(s) "+
		"would be left", pol.FailoverLevel, cl.Name, left)
}

// clusterPoweredOn counts the powered-on VMs of every host of the cluster.
func clusterPoweredOn(cl *simulator.ClusterComputeResource) int {
	n := 0
	for _, ref := range cl.Host {
		if o, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
			n += len(poweredOnVMs(o))
		}
	}
	return n
}
