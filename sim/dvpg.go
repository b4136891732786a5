package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// dvpgProxy serves ReconfigureDVPortgroup_Task for the library's DistributedVirtualPortgroup (which must not
// be wrapped): the spec is merged into the current config (unset fields stay as they are), the spec's
// configVersion must match the current one (else ConcurrentAccess) and configVersion is bumped.
type dvpgProxy struct {
	mo.ExtensibleManagedObject
}

func (s *Sim) installDVPGs() {
	normalizeNetwork(nil)
	s.override("DistributedVirtualPortgroup", func(ref types.ManagedObjectReference) mo.Reference {
		p := &dvpgProxy{}
		p.Self = ref
		return p
	}, "ReconfigureDVPortgroup_Task")
	s.override("Folder", func(ref types.ManagedObjectReference) mo.Reference {
		p := &folderProxy{}
		p.Self = ref
		return p
	}, "CreateDVS_Task")
}

// normalizeNetwork gives every distributed switch and DV portgroup what vCenter reports and vcsim leaves out
// (uplink marks, configVersion, the vCenter 8 defaults of the port settings). It runs at start-up and after
// each CreateDVS_Task / AddDVPortgroup_Task, so switches made at run time look like real ones; objects it
// changes after start-up are published (ctx non-nil).
func normalizeNetwork(ctx *simulator.Context) {
	// vCenter lists each switch's uplink portgroups in config.uplinkPortgroup and marks them config.uplink
	// (6.5+); vcsim creates one ("<switch>-DVUplinks<n>") but records neither.
	uplinks := map[types.ManagedObjectReference]bool{}
	for _, e := range simulator.Map.All("DistributedVirtualPortgroup") {
		pg := e.(*simulator.DistributedVirtualPortgroup)
		if pg.Config.DistributedVirtualSwitch == nil {
			continue
		}
		dvs, ok := simulator.Map.Get(*pg.Config.DistributedVirtualSwitch).(*simulator.DistributedVirtualSwitch)
		if !ok || pg.Name != dvs.Name+"-DVUplinks"+strings.TrimPrefix(dvs.Self.Value, "dvs") {
			continue
		}
		uplinks[pg.Self] = true
		if info := dvs.Config.GetDVSConfigInfo(); len(info.UplinkPortgroup) == 0 {
			info.UplinkPortgroup = []types.ManagedObjectReference{pg.Self}
		}
	}
	for _, e := range simulator.Map.All("DistributedVirtualPortgroup") {
		pg := e.(*simulator.DistributedVirtualPortgroup)
		if pg.Config.Uplink != nil && pg.Config.ConfigVersion != "" {
			continue // already normalized
		}
		if pg.Config.ConfigVersion == "" {
			pg.Config.ConfigVersion = "1"
		}
		pg.Config.Uplink = boolPtr(uplinks[pg.Self])
		if ps, ok := pg.Config.DefaultPortConfig.(*types.VMwareDVSPortSetting); ok {
			if ps.SecurityPolicy == nil {
				no := func() *types.BoolPolicy { return &types.BoolPolicy{Value: boolPtr(false)} }
				ps.SecurityPolicy = &types.DVSSecurityPolicy{AllowPromiscuous: no(), MacChanges: no(), ForgedTransmits: no()}
			}
			defaultPortSetting(ps)
		}
		if pol, ok := pg.Config.Policy.(*types.VMwareDVSPortgroupPolicy); ok && pol.MacManagementOverrideAllowed == nil {
			pol.MacManagementOverrideAllowed = boolPtr(false)
		}
		if ctx != nil {
			publish(ctx, pg, change("config", pg.Config))
		}
	}
	// vcsim types its switches DistributedVirtualSwitch (vCenter: VmwareDistributedVirtualSwitch)
	for _, e := range simulator.Map.All("DistributedVirtualSwitch") {
		dvs := e.(*simulator.DistributedVirtualSwitch)
		if info, ok := dvs.Config.(*types.VMwareDVSConfigInfo); ok && defaultSwitchConfig(info) && ctx != nil {
			publish(ctx, dvs, change("config", dvs.Config))
		}
	}
}

// folderProxy serves CreateDVS_Task: the library creates the switch and its uplink portgroup, then the
// new objects are normalized as vCenter would report them.
type folderProxy struct {
	mo.ExtensibleManagedObject
}

func (p *folderProxy) CreateDVSTask(ctx *simulator.Context, req *types.CreateDVS_Task) soap.HasFault {
	f, ref, notFound := proxied[*simulator.Folder](req.This)
	if notFound != nil {
		return &methods.CreateDVS_TaskBody{Fault_: notFound}
	}
	req.This = ref
	return thenNormalize(ctx, f, func() soap.HasFault { return f.CreateDVSTask(ctx, req) })
}

// thenNormalize runs the library's call on obj, then brings the switches and portgroups it created to the state
// vCenter reports for new ones.
func thenNormalize(ctx *simulator.Context, obj mo.Reference, call func() soap.HasFault) soap.HasFault {
	var body soap.HasFault
	onObject(ctx, obj, func() { body = call() })
	normalizeNetwork(ctx)
	return body
}

// mergeStruct copies every set field of src (non-nil pointer/interface/slice, non-empty string, non-zero
// number, true) into dst, recursing into embedded structs and into pointer fields whose targets are both set
// and of the same type, except for leaf policies (types embedding InheritablePolicy), which are replaced.
func mergeStruct(dst, src reflect.Value) {
	for i := 0; i < src.NumField(); i++ {
		sf, df := src.Field(i), dst.Field(i)
		if src.Type().Field(i).Anonymous && sf.Kind() == reflect.Struct {
			mergeStruct(df, sf)
			continue
		}
		mergeField(df, sf)
	}
}

func mergeField(df, sf reflect.Value) {
	switch sf.Kind() {
	case reflect.Ptr, reflect.Interface:
		if sf.IsNil() {
			return
		}
		if !df.IsNil() && sf.Elem().Type() == df.Elem().Type() {
			se, de := sf.Elem(), df.Elem()
			if se.Kind() == reflect.Ptr {
				se, de = se.Elem(), de.Elem()
			}
			if se.Kind() == reflect.Struct && !isLeafPolicy(se.Type()) && de.CanSet() {
				mergeStruct(de, se)
				return
			}
		}
		df.Set(sf)
	case reflect.Slice, reflect.Map:
		if !sf.IsNil() {
			df.Set(sf)
		}
	case reflect.String:
		if sf.Len() > 0 {
			df.Set(sf)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if sf.Int() != 0 {
			df.Set(sf)
		}
	case reflect.Bool:
		if sf.Bool() {
			df.Set(sf)
		}
	case reflect.Struct:
		mergeStruct(df, sf)
	}
}

var inheritable = reflect.TypeOf(types.InheritablePolicy{})

func isLeafPolicy(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	f, ok := t.FieldByName("InheritablePolicy")
	if !ok || !f.Anonymous || f.Type != inheritable {
		return false
	}
	// containers of policies (e.g. DVSSecurityPolicy, VmwareUplinkPortTeamingPolicy) are merged field by field
	for i := 0; i < t.NumField(); i++ {
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Ptr && ft.Elem().Kind() == reflect.Struct {
			if _, ok := ft.Elem().FieldByName("InheritablePolicy"); ok {
				return false
			}
		}
	}
	return true
}

func (p *dvpgProxy) ReconfigureDVPortgroupTask(ctx *simulator.Context, req *types.ReconfigureDVPortgroup_Task) soap.HasFault {
	pg, _, notFound := proxied[*simulator.DistributedVirtualPortgroup](req.This)
	if notFound != nil {
		return &methods.ReconfigureDVPortgroup_TaskBody{Fault_: notFound}
	}
	var taskRef types.ManagedObjectReference
	onObject(ctx, pg, func() {
		var msg string
		task := simulator.CreateTask(pg, "reconfigureDvPortgroup", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			spec := req.Spec
			cur := pg.Config.ConfigVersion
			if cur != "" && spec.ConfigVersion == "" {
				msg = "A specified parameter was not correct: spec.configVersion is required"
				return nil, &types.InvalidArgument{InvalidProperty: "spec.configVersion"}
			}
			if spec.ConfigVersion != cur {
				msg = fmt.Sprintf("Cannot complete operation due to concurrent modification by another operation "+
					"(configVersion %s, current %s).", spec.ConfigVersion, cur)
				return nil, &types.ConcurrentAccess{}
			}
			if spec.Name != "" && spec.Name != pg.Name {
				if obj := simulator.Map.FindByName(spec.Name, folderChildren(pg)); obj != nil {
					msg = "The name '" + spec.Name + "' already exists."
					return nil, &types.DuplicateName{Name: spec.Name, Object: obj.Reference()}
				}
			}
			if prop, text := checkPortSetting(spec.DefaultPortConfig, "spec.defaultPortConfig"); prop != "" {
				msg = text // vcenter.go
				return nil, &types.InvalidArgument{InvalidProperty: prop}
			}
			var cfg types.DVPortgroupConfigInfo
			xmlCopy(&pg.Config, &cfg)
			// the spec and the config info share field names; merge field by field
			merged := reflect.ValueOf(&cfg).Elem()
			sv := reflect.ValueOf(spec)
			for i := 0; i < sv.NumField(); i++ {
				name := sv.Type().Field(i).Name
				if name == "ConfigVersion" || name == "DynamicData" {
					continue
				}
				df := merged.FieldByName(name)
				if df.IsValid() && df.Type() == sv.Field(i).Type() {
					mergeField(df, sv.Field(i))
				}
			}
			if spec.Policy != nil { // a portgroup policy's flags are all required: the policy is replaced whole
				cfg.Policy = spec.Policy
			}
			n, _ := strconv.Atoi(cur)
			cfg.ConfigVersion = strconv.Itoa(n + 1)

			var changes []types.PropertyChange
			bv, av := reflect.ValueOf(pg.Config), reflect.ValueOf(cfg) // cfg is a deep copy
			for i := 0; i < av.NumField(); i++ {
				f := av.Type().Field(i)
				if f.Anonymous || reflect.DeepEqual(bv.Field(i).Interface(), av.Field(i).Interface()) {
					continue
				}
				v := av.Field(i)
				if (v.Kind() == reflect.Ptr || v.Kind() == reflect.Interface || v.Kind() == reflect.Slice) && v.IsNil() {
					continue
				}
				changes = append(changes, change("config."+lcFirst(f.Name), v.Interface()))
			}
			if cfg.Name != pg.Name {
				changes = append(changes, change("name", cfg.Name))
			}
			publish(nil, pg, changes...)
			return nil, nil
		})
		taskRef = task.Run()
		setTaskMessage(task, msg)
	})
	return &methods.ReconfigureDVPortgroup_TaskBody{Res: &types.ReconfigureDVPortgroup_TaskResponse{Returnval: taskRef}}
}

func lcFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

func folderChildren(e mo.Entity) []types.ManagedObjectReference {
	if p := e.Entity().Parent; p != nil {
		if f, ok := simulator.Map.Get(*p).(*simulator.Folder); ok {
			return f.ChildEntity
		}
	}
	return nil
}
