package main

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A software iSCSI adapter (vmhba65, "iSCSI Software Adapter") on every other host by name (the first, third, …;
// with -esx the host), in host.config.storageDevice.hostBusAdapter and its HostStorageSystem's storageDeviceInfo
// (per host). authenticationProperties start at the ESXi defaults: CHAP off, chapProhibited, mutual CHAP
// chapProhibited. HostStorageSystem.UpdateInternetScsiAuthenticationProperties (adapter level; targetSet is
// refused as NotSupported here) validates as ESXi does: NotFound for a device that is not an iSCSI adapter,
// HostConfigFault for mutual CHAP without CHAP required or for a required CHAP without a name or secret. Secrets
// are kept but, as on ESXi, never returned.

const iscsiDevice = "vmhba65"

type iscsiAdapter struct {
	host             *simulator.HostSystem
	chapSecret       string
	mutualChapSecret string
}

func (s *Sim) installIscsi() {
	s.iscsi = map[string]*iscsiAdapter{}
	for i, h := range hostsSorted() {
		if i%2 != 0 || h.Config == nil || h.Config.StorageDevice == nil {
			continue
		}
		hba := &types.HostInternetScsiHba{
			HostHostBusAdapter: types.HostHostBusAdapter{Key: "key-vim.host.InternetScsiHba-" + iscsiDevice,
				Device: iscsiDevice, Bus: 0, Status: "online", Model: "iSCSI Software Adapter", Driver: "iscsi_vmk"},
			IsSoftwareBased: true, CanBeDisabled: boolPtr(true), NetworkBindingSupport: "optional",
			AuthenticationCapabilities: types.HostInternetScsiHbaAuthenticationCapabilities{ChapAuthSettable: true,
				MutualChapSettable: boolPtr(true), TargetChapSettable: boolPtr(true), TargetMutualChapSettable: boolPtr(true)},
			AuthenticationProperties: types.HostInternetScsiHbaAuthenticationProperties{ChapAuthEnabled: false,
				ChapAuthenticationType: "chapProhibited", ChapInherited: boolPtr(false),
				MutualChapAuthenticationType: "chapProhibited", MutualChapInherited: boolPtr(false)},
			IScsiName: fmt.Sprintf("iqn.1998-01.com.vmware:%s-%08x", strings.ToLower(h.Name), i+1),
		}
		dev := new(types.HostStorageDeviceInfo)
		xmlCopy(h.Config.StorageDevice, dev)
		dev.HostBusAdapter = append(dev.HostBusAdapter, hba)
		h.Config.StorageDevice = dev
		if ss, ok := simulator.Map.Get(*h.ConfigManager.StorageSystem).(*simulator.HostStorageSystem); ok {
			ss.StorageDeviceInfo = dev
		}
		s.iscsi[h.ConfigManager.StorageSystem.Value] = &iscsiAdapter{host: h}
	}
	s.override("HostStorageSystem", func(ref types.ManagedObjectReference) mo.Reference {
		p := &storageProxy{sim: s}
		p.Self = ref
		return p
	}, "UpdateInternetScsiAuthenticationProperties")
}

// storageProxy serves UpdateInternetScsiAuthenticationProperties on the library's HostStorageSystem.
type storageProxy struct {
	mo.ExtensibleManagedObject
	sim *Sim
}

func hostConfigFault(msg string) *soap.Fault {
	return fault(msg, &types.HostConfigFault{})
}

func (p *storageProxy) UpdateInternetScsiAuthenticationProperties(ctx *simulator.Context,
	req *types.UpdateInternetScsiAuthenticationProperties) soap.HasFault {
	body := &methods.UpdateInternetScsiAuthenticationPropertiesBody{}
	ref := realRef(req.This)
	a := p.sim.iscsi[ref.Value]
	if a == nil || req.IScsiHbaDevice != iscsiDevice {
		body.Fault_ = fault(fmt.Sprintf("iSCSI adapter %q not found", req.IScsiHbaDevice), &types.NotFound{})
		return body
	}
	if req.TargetSet != nil {
		body.Fault_ = fault("per-target CHAP is not simulated", &types.NotSupported{})
		return body
	}
	in := req.AuthenticationProperties
	valid := map[string]bool{"chapProhibited": true, "chapDiscouraged": true, "chapPreferred": true, "chapRequired": true}
	if !valid[in.ChapAuthenticationType] || (in.MutualChapAuthenticationType != "" && !valid[in.MutualChapAuthenticationType]) {
		body.Fault_ = invalidArgument("authenticationProperties", "unknown CHAP authentication type")
		return body
	}
	if in.MutualChapAuthenticationType == "chapRequired" && in.ChapAuthenticationType != "chapRequired" {
		body.Fault_ = hostConfigFault("Mutual CHAP requires CHAP authentication type chapRequired")
		return body
	}
	secret, mutual := a.chapSecret, a.mutualChapSecret
	if in.ChapSecret != "" {
		secret = in.ChapSecret
	}
	if in.MutualChapSecret != "" {
		mutual = in.MutualChapSecret
	}
	if in.ChapAuthenticationType == "chapRequired" && (in.ChapName == "" || secret == "") {
		body.Fault_ = hostConfigFault("CHAP requires a name and a secret")
		return body
	}
	if in.MutualChapAuthenticationType == "chapRequired" && (in.MutualChapName == "" || mutual == "") {
		body.Fault_ = hostConfigFault("Mutual CHAP requires a name and a secret")
		return body
	}
	a.chapSecret, a.mutualChapSecret = secret, mutual
	h := a.host
	dev := new(types.HostStorageDeviceInfo)
	var changed bool
	ctx.WithLock(h, func() {
		xmlCopy(h.Config.StorageDevice, dev)
		for _, b := range dev.HostBusAdapter {
			if hba, ok := b.(*types.HostInternetScsiHba); ok && hba.Device == iscsiDevice {
				out := in
				out.ChapSecret, out.MutualChapSecret = "", "" // never returned
				out.ChapInherited, out.MutualChapInherited = boolPtr(false), boolPtr(false)
				if out.MutualChapAuthenticationType == "" {
					out.MutualChapAuthenticationType = "chapProhibited"
				}
				changed = !sameXML(hba.AuthenticationProperties, out)
				hba.AuthenticationProperties = out
			}
		}
	})
	if changed { // h.Config.StorageDevice is also the storage system's storageDeviceInfo: updated in place
		publish(ctx, h, change("config.storageDevice.hostBusAdapter", dev.HostBusAdapter))
	}
	body.Res = &types.UpdateInternetScsiAuthenticationPropertiesResponse{}
	return body
}
