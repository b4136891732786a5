package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Key providers that are not KMIP clusters (vSphere API 7.0+): RegisterKmsCluster registers a provider with a
// management type (trustAuthority by default; nativeProvider stands in for the vSphere Native Key Provider,
// which vCenter creates through its REST API), ListKmsClusters lists every provider (ListKmipServers keeps
// listing the KMIP clusters only), UnregisterKmsCluster removes one that is not KMIP-managed. A native provider
// has no servers; vCenter generates its keys (GenerateKey works as for a KMIP cluster).

var kmsManagementTypes = map[string]bool{"vCenter": true, "trustAuthority": true, "nativeProvider": true}

func (m *CryptoManagerKmip) RegisterKmsCluster(ctx *simulator.Context, req *types.RegisterKmsCluster) soap.HasFault {
	mt := req.ManagementType
	if mt == "" {
		mt = "trustAuthority"
	}
	if req.ClusterId.Id == "" || !kmsManagementTypes[mt] {
		return &methods.RegisterKmsClusterBody{Fault_: invalidArgument("managementType",
			"clusterId.id is required and managementType one of vCenter, trustAuthority, nativeProvider")}
	}
	if m.cluster(req.ClusterId.Id) != nil {
		return &methods.RegisterKmsClusterBody{Fault_: fault("The specified key, name, or identifier '"+
			req.ClusterId.Id+"' already exists.", &types.AlreadyExists{Name: req.ClusterId.Id})}
	}
	m.mutable()
	m.KmipServers = append(m.KmipServers, types.KmipClusterInfo{ClusterId: req.ClusterId, ManagementType: mt,
		UseAsDefault: len(m.KmipServers) == 0})
	m.publish(ctx)
	return &methods.RegisterKmsClusterBody{Res: &types.RegisterKmsClusterResponse{}}
}

func (m *CryptoManagerKmip) UnregisterKmsCluster(ctx *simulator.Context, req *types.UnregisterKmsCluster) soap.HasFault {
	c := m.cluster(req.ClusterId.Id)
	if c == nil {
		return &methods.UnregisterKmsClusterBody{Fault_: notFound(req.ClusterId.Id)}
	}
	if c.ManagementType == "vCenter" {
		return &methods.UnregisterKmsClusterBody{Fault_: invalidArgument("clusterId",
			"a KMIP cluster is removed with RemoveKmipServer")}
	}
	m.mutable()
	for i := range m.KmipServers {
		if m.KmipServers[i].ClusterId.Id == req.ClusterId.Id {
			m.KmipServers = append(m.KmipServers[:i:i], m.KmipServers[i+1:]...)
			break
		}
	}
	m.publish(ctx)
	return &methods.UnregisterKmsClusterBody{Res: &types.UnregisterKmsClusterResponse{}}
}

func (m *CryptoManagerKmip) ListKmsClusters(ctx *simulator.Context, req *types.ListKmsClusters) soap.HasFault {
	var out []types.KmipClusterInfo
	for _, c := range m.KmipServers {
		if req.IncludeKmsServers == nil || !*req.IncludeKmsServers {
			c.Servers = nil
		}
		out = append(out, c)
	}
	return &methods.ListKmsClustersBody{Res: &types.ListKmsClustersResponse{Returnval: out}}
}

// kmipOnly is the KMIP clusters among the providers (what ListKmipServers lists).
func kmipOnly(all []types.KmipClusterInfo) []types.KmipClusterInfo {
	var out []types.KmipClusterInfo
	for _, c := range all {
		if c.ManagementType == "" || c.ManagementType == "vCenter" {
			out = append(out, c)
		}
	}
	return out
}
