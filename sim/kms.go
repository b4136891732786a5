package main

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// CryptoManagerKmip is vCenter's key-provider manager (vSphere 7 API subset): standard key providers
// (KMIP clusters) with servers, a global default and per-entity defaults, key generation and listing.
// No KMS is contacted: keys are random UUIDs remembered per provider.
type CryptoManagerKmip struct {
	mo.CryptoManagerKmip
	keys map[string]string // key id -> provider id
}

func (s *Sim) installKMS() {
	content := simulator.Map.Get(vimServiceInstance()).(*simulator.ServiceInstance).Content
	if content.CryptoManager == nil || content.CryptoManager.Type != "CryptoManagerKmip" {
		return // ESXi: no key providers (encryption is managed by vCenter)
	}
	m := &CryptoManagerKmip{keys: map[string]string{}}
	m.Self = *content.CryptoManager
	simulator.Map.Put(m)
	s.kms = m
}

func vimServiceInstance() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "ServiceInstance", Value: "ServiceInstance"}
}

type kmipList struct {
	Clusters []types.KmipClusterInfo
}

// mutable: copy-on-write of kmipServers (see ServiceSystem.mutable).
func (m *CryptoManagerKmip) mutable() {
	var cp kmipList
	xmlCopy(&kmipList{m.KmipServers}, &cp)
	m.KmipServers = cp.Clusters
}

func (m *CryptoManagerKmip) cluster(id string) *types.KmipClusterInfo {
	for i := range m.KmipServers {
		if m.KmipServers[i].ClusterId.Id == id {
			return &m.KmipServers[i]
		}
	}
	return nil
}

func (m *CryptoManagerKmip) publish(ctx *simulator.Context) {
	publish(ctx, m, change("kmipServers", m.KmipServers), change("enabled", len(m.KmipServers) > 0))
}

func (m *CryptoManagerKmip) RegisterKmipServer(ctx *simulator.Context, req *types.RegisterKmipServer) soap.HasFault {
	m.mutable()
	srv := req.Server
	if srv.ClusterId.Id == "" || srv.Info.Name == "" || srv.Info.Address == "" {
		return &methods.RegisterKmipServerBody{Fault_: invalidArgument("server",
			"clusterId.id, info.name and info.address are required")}
	}
	if srv.Info.Port < 0 || srv.Info.Port > 65535 {
		return &methods.RegisterKmipServerBody{Fault_: invalidArgument("server.info.port", fmt.Sprintf("port %d", srv.Info.Port))}
	}
	c := m.cluster(srv.ClusterId.Id)
	if c == nil {
		m.KmipServers = append(m.KmipServers, types.KmipClusterInfo{ClusterId: srv.ClusterId,
			ManagementType: "vCenter", UseAsDefault: len(m.KmipServers) == 0})
		c = &m.KmipServers[len(m.KmipServers)-1]
	}
	for _, s := range c.Servers {
		if s.Name == srv.Info.Name {
			return &methods.RegisterKmipServerBody{Fault_: fault("The specified key, name, or identifier '"+s.Name+
				"' already exists.", &types.AlreadyExists{Name: s.Name})}
		}
	}
	info := srv.Info
	c.Servers = append(c.Servers, info)
	m.publish(ctx)
	return &methods.RegisterKmipServerBody{Res: &types.RegisterKmipServerResponse{}}
}

func (m *CryptoManagerKmip) UpdateKmipServer(ctx *simulator.Context, req *types.UpdateKmipServer) soap.HasFault {
	m.mutable()
	c := m.cluster(req.Server.ClusterId.Id)
	if c != nil {
		for i := range c.Servers {
			if c.Servers[i].Name == req.Server.Info.Name {
				c.Servers[i] = req.Server.Info
				m.publish(ctx)
				return &methods.UpdateKmipServerBody{Res: &types.UpdateKmipServerResponse{}}
			}
		}
	}
	return &methods.UpdateKmipServerBody{Fault_: notFound(req.Server.Info.Name)}
}

func (m *CryptoManagerKmip) RemoveKmipServer(ctx *simulator.Context, req *types.RemoveKmipServer) soap.HasFault {
	m.mutable()
	for ci := range m.KmipServers {
		c := &m.KmipServers[ci]
		if c.ClusterId.Id != req.ClusterId.Id {
			continue
		}
		for i := range c.Servers {
			if c.Servers[i].Name == req.ServerName {
				c.Servers = append(c.Servers[:i:i], c.Servers[i+1:]...)
				if len(c.Servers) == 0 {
					m.KmipServers = append(m.KmipServers[:ci:ci], m.KmipServers[ci+1:]...)
				}
				m.publish(ctx)
				return &methods.RemoveKmipServerBody{Res: &types.RemoveKmipServerResponse{}}
			}
		}
	}
	return &methods.RemoveKmipServerBody{Fault_: notFound(req.ServerName)}
}

func (m *CryptoManagerKmip) ListKmipServers(ctx *simulator.Context, req *types.ListKmipServers) soap.HasFault {
	out := kmipOnly(m.KmipServers) // kms_native.go: other providers are listed by ListKmsClusters
	if req.Limit != nil && int(*req.Limit) < len(out) {
		out = out[:*req.Limit]
	}
	return &methods.ListKmipServersBody{Res: &types.ListKmipServersResponse{Returnval: out}}
}

func (m *CryptoManagerKmip) MarkDefault(ctx *simulator.Context, req *types.MarkDefault) soap.HasFault {
	m.mutable()
	if m.cluster(req.ClusterId.Id) == nil {
		return &methods.MarkDefaultBody{Fault_: notFound(req.ClusterId.Id)}
	}
	for i := range m.KmipServers {
		m.KmipServers[i].UseAsDefault = m.KmipServers[i].ClusterId.Id == req.ClusterId.Id
	}
	m.publish(ctx)
	return &methods.MarkDefaultBody{Res: &types.MarkDefaultResponse{}}
}

func (m *CryptoManagerKmip) SetDefaultKmsCluster(ctx *simulator.Context, req *types.SetDefaultKmsCluster) soap.HasFault {
	m.mutable()
	if req.ClusterId != nil && m.cluster(req.ClusterId.Id) == nil {
		return &methods.SetDefaultKmsClusterBody{Fault_: notFound(req.ClusterId.Id)}
	}
	if req.Entity == nil {
		for i := range m.KmipServers {
			m.KmipServers[i].UseAsDefault = req.ClusterId != nil && m.KmipServers[i].ClusterId.Id == req.ClusterId.Id
		}
	} else {
		for i := range m.KmipServers {
			c := &m.KmipServers[i]
			var keep []types.ManagedObjectReference
			for _, e := range c.UseAsEntityDefault {
				if e != *req.Entity {
					keep = append(keep, e)
				}
			}
			if req.ClusterId != nil && c.ClusterId.Id == req.ClusterId.Id {
				keep = append(keep, *req.Entity)
			}
			c.UseAsEntityDefault = keep
		}
	}
	m.publish(ctx)
	return &methods.SetDefaultKmsClusterBody{Res: &types.SetDefaultKmsClusterResponse{}}
}

// defaultFor returns the key provider for an entity: its own default, a parent's (when asked), else the global one.
func (m *CryptoManagerKmip) defaultFor(entity *types.ManagedObjectReference, toParent bool) *types.KeyProviderId {
	for e := entity; e != nil; {
		for i := range m.KmipServers {
			for _, d := range m.KmipServers[i].UseAsEntityDefault {
				if d == *e {
					id := m.KmipServers[i].ClusterId
					return &id
				}
			}
		}
		if !toParent {
			break
		}
		obj := simulator.Map.Get(*e)
		if vm, ok := obj.(*simulator.VirtualMachine); ok { // a VM inherits from its host, then the cluster
			e = vm.Runtime.Host
			continue
		}
		me, ok := obj.(mo.Entity)
		if !ok {
			break
		}
		e = me.Entity().Parent
	}
	for i := range m.KmipServers {
		if m.KmipServers[i].UseAsDefault {
			id := m.KmipServers[i].ClusterId
			return &id
		}
	}
	return nil
}

func (m *CryptoManagerKmip) GetDefaultKmsCluster(ctx *simulator.Context, req *types.GetDefaultKmsCluster) soap.HasFault {
	return &methods.GetDefaultKmsClusterBody{Res: &types.GetDefaultKmsClusterResponse{
		Returnval: m.defaultFor(req.Entity, isTrue(req.DefaultsToParent))}}
}

func (m *CryptoManagerKmip) IsKmsClusterActive(ctx *simulator.Context, req *types.IsKmsClusterActive) soap.HasFault {
	var id *types.KeyProviderId
	if req.Cluster != nil {
		id = req.Cluster
	} else {
		id = m.defaultFor(nil, false)
	}
	active := id != nil && m.cluster(id.Id) != nil && len(m.cluster(id.Id).Servers) > 0
	return &methods.IsKmsClusterActiveBody{Res: &types.IsKmsClusterActiveResponse{Returnval: active}}
}

func (m *CryptoManagerKmip) generate(provider *types.KeyProviderId) (types.CryptoKeyId, types.BaseMethodFault, string) {
	if provider == nil || provider.Id == "" {
		provider = m.defaultFor(nil, false)
		if provider == nil {
			return types.CryptoKeyId{}, &types.InvalidState{}, "No default key provider is configured."
		}
	}
	if m.cluster(provider.Id) == nil {
		return types.CryptoKeyId{}, &types.InvalidArgument{InvalidProperty: "keyProvider"},
			"A specified parameter was not correct: unknown key provider " + provider.Id
	}
	id := uuid.New().String()
	m.keys[id] = provider.Id
	return types.CryptoKeyId{KeyId: id, ProviderId: &types.KeyProviderId{Id: provider.Id}}, nil, ""
}

func (m *CryptoManagerKmip) GenerateKey(ctx *simulator.Context, req *types.GenerateKey) soap.HasFault {
	key, flt, msg := m.generate(req.KeyProvider)
	if flt != nil {
		return &methods.GenerateKeyBody{Fault_: fault(msg, flt)}
	}
	return &methods.GenerateKeyBody{Res: &types.GenerateKeyResponse{Returnval: types.CryptoKeyResult{KeyId: key, Success: true}}}
}

func (m *CryptoManagerKmip) ListKeys(ctx *simulator.Context, req *types.ListKeys) soap.HasFault {
	var out []types.CryptoKeyId
	for id, p := range m.keys {
		out = append(out, types.CryptoKeyId{KeyId: id, ProviderId: &types.KeyProviderId{Id: p}})
	}
	if req.Limit != nil && int(*req.Limit) < len(out) {
		out = out[:*req.Limit]
	}
	return &methods.ListKeysBody{Res: &types.ListKeysResponse{Returnval: out}}
}

// checkCrypto validates spec.crypto for a VM reconfigure and returns the change to apply on success.
// Encrypt and decrypt need the VM powered off; the key must come from a registered key provider (an empty
// keyId generates one from the given or default provider).
func (s *Sim) checkCrypto(vm *simulator.VirtualMachine, spec types.BaseCryptoSpec) (func(), types.BaseMethodFault, string) {
	if spec == nil {
		return nil, nil, ""
	}
	switch c := spec.(type) {
	case *types.CryptoSpecNoOp:
		return nil, nil, ""
	case *types.CryptoSpecEncrypt, *types.CryptoSpecDecrypt, *types.CryptoSpecShallowRecrypt, *types.CryptoSpecDeepRecrypt:
		if s.kms == nil {
			return nil, &types.NotSupported{}, "The operation is not supported on the object: VM encryption needs vCenter."
		}
		encrypted := vm.Config.KeyId != nil
		var key *types.CryptoKeyId
		needOff := true
		switch c := c.(type) {
		case *types.CryptoSpecEncrypt:
			if encrypted {
				return nil, &types.InvalidState{}, "The virtual machine is already encrypted."
			}
			key = &c.CryptoKeyId
		case *types.CryptoSpecDecrypt:
			if !encrypted {
				return nil, &types.InvalidState{}, "The virtual machine is not encrypted."
			}
		case *types.CryptoSpecShallowRecrypt:
			needOff = false
			key = &c.NewKeyId
		case *types.CryptoSpecDeepRecrypt:
			key = &c.NewKeyId
		}
		if _, isEnc := c.(*types.CryptoSpecEncrypt); !isEnc && key != nil && !encrypted {
			return nil, &types.InvalidState{}, "The virtual machine is not encrypted."
		}
		if needOff && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			f, m := powerOffRequired(vm)
			return nil, f, m
		}
		var newKey *types.CryptoKeyId
		if key != nil {
			k := *key
			if k.KeyId == "" {
				gen, flt, msg := s.kms.generate(k.ProviderId)
				if flt != nil {
					return nil, flt, msg
				}
				k = gen
			} else if p, ok := s.kms.keys[k.KeyId]; !ok || (k.ProviderId != nil && k.ProviderId.Id != p) {
				return nil, &types.InvalidArgument{InvalidProperty: "spec.crypto"},
					"A specified parameter was not correct: key " + k.KeyId + " is not known to a registered key provider"
			} else if k.ProviderId == nil {
				k.ProviderId = &types.KeyProviderId{Id: p}
			}
			newKey = &k
		}
		return func() {
			devices := diskKeys(vm, newKey)
			if newKey == nil {
				publish(nil, vm, change("config.keyId", nil), change("runtime.cryptoState", ""),
					change("config.hardware.device", devices))
			} else {
				publish(nil, vm, change("config.keyId", *newKey), change("runtime.cryptoState", "unlocked"),
					change("config.hardware.device", devices))
			}
		}, nil, ""
	default:
		return nil, &types.NotSupported{}, fmt.Sprintf("The operation is not supported on the object: %T", spec)
	}
}

// diskKeys returns the VM's device list with every flat virtual disk's backing.keyId set to key (nil: removed).
func diskKeys(vm *simulator.VirtualMachine, key *types.CryptoKeyId) []types.BaseVirtualDevice {
	out := make([]types.BaseVirtualDevice, len(vm.Config.Hardware.Device))
	copy(out, vm.Config.Hardware.Device)
	for i, d := range out {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok {
			continue
		}
		nd, nb := *disk, *backing
		nb.KeyId = nil
		if key != nil {
			k := *key
			nb.KeyId = &k
		}
		nd.Backing = &nb
		out[i] = &nd
	}
	return out
}
