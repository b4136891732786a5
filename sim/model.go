package main

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// productVersion turns an API version such as 7.0.3.0 into the product version 7.0.3.
func productVersion(api string) string {
	parts := strings.Split(api, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	return strings.Join(parts[:3], ".")
}

func buildModel(cfg *config) (*simulator.Model, error) {
	var m *simulator.Model
	if cfg.esx {
		m = simulator.ESX()
	} else {
		m = simulator.VPX()
		m.Datacenter = cfg.dc
		m.Cluster = cfg.cluster
		m.ClusterHost = cfg.host
		m.Host = cfg.standalone
		m.Portgroup = cfg.portgroup
	}
	m.Machine = 0 // VMs are created per host below
	m.Autostart = true

	about := &m.ServiceContent.About
	pv := productVersion(cfg.apiVersion)
	about.ApiVersion = cfg.apiVersion
	about.Version = pv
	if cfg.esx {
		about.Build = "21424296"
		about.FullName = fmt.Sprintf("VMware ESXi %s build-%s", pv, about.Build)
		about.LicenseProductVersion = strings.Split(pv, ".")[0] + ".0"
	} else {
		about.Build = "21477706"
		about.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s", pv, about.Build)
		about.LicenseProductVersion = strings.Split(pv, ".")[0] + ".0"
	}

	if err := m.Create(); err != nil {
		return nil, err
	}
	if err := createVMs(m, cfg); err != nil {
		m.Remove()
		return nil, err
	}
	return m, nil
}

// hostsSorted returns all HostSystems ordered by name (deterministic inventory order).
func hostsSorted() []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, e := range simulator.Map.All("HostSystem") {
		hosts = append(hosts, e.(*simulator.HostSystem))
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

// createVMs creates cfg.vmPerHost VMs on every host, named <host>_VM<n> (ESX mode: ha-host_VM<n>).
func createVMs(m *simulator.Model, cfg *config) error {
	if cfg.vmPerHost == 0 {
		return nil
	}
	ctx := context.Background()
	c, err := vim25.NewClient(ctx, m.Service)
	if err != nil {
		return err
	}

	dvpgs := map[types.ManagedObjectReference]*simulator.DistributedVirtualPortgroup{}  // per datacenter
	members := map[*simulator.DistributedVirtualSwitch][]types.ManagedObjectReference{} // original order
	front := map[*simulator.DistributedVirtualSwitch]types.ManagedObjectReference{}     // whose hosts lead
	defer func() {
		for dvs, order := range members {
			dvs.Summary.HostMember = order
		}
	}()
	for _, h := range hostsSorted() {
		dc := datacenterOf(h)
		if dc == nil {
			return fmt.Errorf("host %s has no datacenter", h.Name)
		}
		pg, seen := dvpgs[dc.Self]
		if !seen { // firstDVPG scans the whole registry: once per datacenter, not per host
			pg = firstDVPG(dc)
			dvpgs[dc.Self] = pg
		}
		folders := object.NewDatacenter(c, dc.Self)
		f, err := folders.Folders(ctx)
		if err != nil {
			return err
		}
		cr := simulator.Map.Get(*h.Parent)
		var poolRef types.ManagedObjectReference
		var siblings []types.ManagedObjectReference
		switch p := cr.(type) {
		case *simulator.ClusterComputeResource:
			poolRef, siblings = *p.ResourcePool, p.Host
		case *mo.ComputeResource:
			poolRef, siblings = *p.ResourcePool, p.Host
		default:
			return fmt.Errorf("host %s: unexpected parent %T", h.Name, cr)
		}
		if pg != nil && pg.Config.DistributedVirtualSwitch != nil {
			if dvs, ok := simulator.Map.Get(*pg.Config.DistributedVirtualSwitch).(*simulator.DistributedVirtualSwitch); ok {
				if _, saved := members[dvs]; !saved {
					members[dvs] = dvs.Summary.HostMember
				}
				if front[dvs] != *h.Parent {
					dvs.Summary.HostMember = membersFirst(members[dvs], siblings)
					front[dvs] = *h.Parent
				}
			}
		}
		pool := object.NewResourcePool(c, poolRef)
		host := object.NewHostSystem(c, h.Self)

		nic := esx.EthernetCard
		if pg != nil {
			backing, err := object.NewDistributedVirtualPortgroup(c, pg.Self).EthernetCardBackingInfo(ctx)
			if err != nil {
				return err
			}
			nic.Backing = backing
		}

		prefix := h.Name
		if cfg.esx {
			prefix = "ha-host"
		}
		ds := dsName(h)
		for i := 0; i < cfg.vmPerHost; i++ {
			name := fmt.Sprintf("%s_VM%d", prefix, i)
			spec := types.VirtualMachineConfigSpec{
				Name:    name,
				GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
				Files:   &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"},
			}
			var devices object.VirtualDeviceList
			scsi, _ := devices.CreateSCSIController("pvscsi")
			ide, _ := devices.CreateIDEController()
			cdrom, _ := devices.CreateCdrom(ide.(*types.VirtualIDEController))
			disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{},
				spec.Files.VmPathName+" "+path.Join(name, "disk1.vmdk"))
			disk.CapacityInKB = 1024
			card := nic
			devices = append(devices, scsi, cdrom, disk, &card)
			spec.DeviceChange, _ = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)

			task, err := f.VmFolder.CreateVM(ctx, spec, pool, host)
			if err != nil {
				return err
			}
			info, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return fmt.Errorf("create %s: %s", name, err)
			}
			vm := object.NewVirtualMachine(c, info.Result.(types.ManagedObjectReference))
			if _, err := vm.PowerOn(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// membersFirst returns all with the refs in first moved to the front. Creating a VM on a DV portgroup makes
// the library check, for every host of the VM's cluster, that it is in the switch's hostMember list by a
// linear scan: O(cluster hosts × all hosts) per VM, 2.5·10⁹ comparisons for 40,000 VMs on 2,500 hosts. With
// the cluster's hosts first each scan is short; createVMs restores the original order when done.
func membersFirst(all, first []types.ManagedObjectReference) []types.ManagedObjectReference {
	in := make(map[types.ManagedObjectReference]bool, len(first))
	out := make([]types.ManagedObjectReference, 0, len(all))
	for _, r := range first {
		in[r] = true
	}
	for _, r := range all {
		if in[r] {
			out = append(out, r)
		}
	}
	for _, r := range all {
		if !in[r] {
			out = append(out, r)
		}
	}
	return out
}

func datacenterOf(e mo.Entity) *simulator.Datacenter {
	for p := e.Entity().Parent; p != nil; {
		obj := simulator.Map.Get(*p)
		if obj == nil {
			return nil
		}
		if dc, ok := obj.(*simulator.Datacenter); ok {
			return dc
		}
		ent, ok := obj.(mo.Entity)
		if !ok {
			return nil
		}
		p = ent.Entity().Parent
	}
	return nil
}

func firstDVPG(dc *simulator.Datacenter) *simulator.DistributedVirtualPortgroup {
	var pgs []*simulator.DistributedVirtualPortgroup
	for _, e := range simulator.Map.All("DistributedVirtualPortgroup") {
		pg := e.(*simulator.DistributedVirtualPortgroup)
		if d := datacenterOf(pg); d != nil && d.Self == dc.Self && pg.Config.LogicalSwitchUuid == "" &&
			!strings.HasSuffix(pg.Name, "-DVUplinks") && !strings.Contains(pg.Name, "DVUplinks") {
			pgs = append(pgs, pg)
		}
	}
	if len(pgs) == 0 {
		return nil
	}
	sort.Slice(pgs, func(i, j int) bool { return pgs[i].Name < pgs[j].Name })
	return pgs[0]
}

func dsName(h *simulator.HostSystem) string {
	for _, ref := range h.Datastore {
		if ds, ok := simulator.Map.Get(ref).(*simulator.Datastore); ok {
			return ds.Name
		}
	}
	return "LocalDS_0"
}
