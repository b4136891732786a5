package main

// vCenter-level security state (VCenterSecurityPolicy): distributed switch settings (link discovery protocol,
// NetFlow/IPFIX collector, port mirroring sessions; ReconfigureDvs_Task with configVersion), the extra DV
// portgroup fields (MAC learning, IPFIX, VLAN trunks, port-level override flags; see dvpg.go) and the vCenter's
// own typed advanced settings (OptionManager "VpxSettings": supportedOption, UpdateOptions validated by type).

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// vCenter 8 advanced settings the SCG names, with their types and install defaults.
var vcOptionTable = []optSpec{
	{key: "VirtualCenter.VimPasswordExpirationInDays", summary: "Days before vCenter rotates the vpxuser password", kind: "long", def: int64(30), min: 0, max: 9999},
	{key: "config.vpxd.hostPasswordLength", summary: "Length of the vpxuser password", kind: "long", def: int64(32), min: 8, max: 128},
	{key: "config.log.level", summary: "vpxd log level", kind: "choice", def: "info",
		choices: []string{"none", "error", "warning", "info", "verbose", "trivia"}},
	{key: "vpxd.event.syslog.enabled", summary: "Send vCenter events to syslog", kind: "bool", def: true},
	{key: "mail.smtp.port", summary: "SMTP server port", kind: "long", def: int64(25), min: 0, max: 65535},
}

// vcOptionSpec: the typed options of the vCenter's OptionManager, by key (set by installVCenter)
var vcOptionSpec map[string]*optSpec

type vcOptionProxy struct {
	mo.ExtensibleManagedObject
}

type dvsProxy struct {
	mo.ExtensibleManagedObject
}

func (s *Sim) installVCenter() {
	if s.cfg.esx {
		return
	}
	om := simulator.Map.OptionManager()
	spec := map[string]*optSpec{}
	for i := range vcOptionTable {
		o := &vcOptionTable[i]
		spec[o.key] = o
		om.SupportedOption = append(om.SupportedOption, o.def_())
		om.Setting = append(om.Setting, &types.OptionValue{Key: o.key, Value: o.def})
	}
	vcOptionSpec = spec
	s.override("OptionManager", func(ref types.ManagedObjectReference) mo.Reference {
		p := &vcOptionProxy{}
		p.Self = ref
		return p
	}, "UpdateOptions")

	s.override("DistributedVirtualSwitch", func(ref types.ManagedObjectReference) mo.Reference {
		p := &dvsProxy{}
		p.Self = ref
		return p
	}, "ReconfigureDvs_Task", "AddDVPortgroup_Task")
}

// defaultSwitchConfig fills what vCenter 8 reports for a new switch and says whether anything was missing.
func defaultSwitchConfig(info *types.VMwareDVSConfigInfo) bool {
	missing := info.ConfigVersion == "" || info.LinkDiscoveryProtocolConfig == nil || info.IpfixConfig == nil ||
		info.MaxMtu == 0
	if info.ConfigVersion == "" {
		info.ConfigVersion = "1"
	}
	if info.LinkDiscoveryProtocolConfig == nil { // vCenter's default for a new switch
		info.LinkDiscoveryProtocolConfig = &types.LinkDiscoveryProtocolConfig{Protocol: "cdp", Operation: "listen"}
	}
	if info.IpfixConfig == nil {
		info.IpfixConfig = &types.VMwareIpfixConfig{ActiveFlowTimeout: 60, IdleFlowTimeout: 15, SamplingRate: 4096}
	}
	if info.MaxMtu == 0 {
		info.MaxMtu = 1500
	}
	if ps, ok := info.DefaultPortConfig.(*types.VMwareDVSPortSetting); ok {
		missing = missing || ps.MacManagementPolicy == nil || ps.IpfixEnabled == nil || ps.Vlan == nil
		defaultPortSetting(ps)
	}
	return missing
}

// AddDVPortgroupTask: the library adds the portgroups, then they are normalized as vCenter reports them.
func (p *dvsProxy) AddDVPortgroupTask(ctx *simulator.Context, req *types.AddDVPortgroup_Task) soap.HasFault {
	dvs, ref, notFound := proxied[*simulator.DistributedVirtualSwitch](req.This)
	if notFound != nil {
		return &methods.AddDVPortgroup_TaskBody{Fault_: notFound}
	}
	req.This = ref
	return thenNormalize(ctx, dvs, func() soap.HasFault { return dvs.AddDVPortgroupTask(ctx, req) }) // dvpg.go
}

// defaultPortSetting fills what vCenter 8 reports for a new switch or portgroup: MAC management as the
// security policy says with MAC learning off, IPFIX off, VLAN none.
func defaultPortSetting(ps *types.VMwareDVSPortSetting) {
	if ps.MacManagementPolicy == nil {
		ps.MacManagementPolicy = &types.DVSMacManagementPolicy{AllowPromiscuous: boolPtr(false), MacChanges: boolPtr(false),
			ForgedTransmits: boolPtr(false), MacLearningPolicy: &types.DVSMacLearningPolicy{Enabled: false}}
	}
	if ps.IpfixEnabled == nil {
		ps.IpfixEnabled = &types.BoolPolicy{Value: boolPtr(false)}
	}
	if ps.Vlan == nil {
		ps.Vlan = &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: 0}
	}
}

// checkPortSetting validates the parts of a port setting vCenter checks: VLAN IDs and trunk ranges (0..4094,
// start <= end). It returns the invalid property and a message.
func checkPortSetting(setting types.BaseDVPortSetting, prefix string) (string, string) {
	ps, ok := setting.(*types.VMwareDVSPortSetting)
	if !ok || ps == nil {
		return "", ""
	}
	switch v := ps.Vlan.(type) {
	case *types.VmwareDistributedVirtualSwitchTrunkVlanSpec:
		for i, r := range v.VlanId {
			if r.Start < 0 || r.End > 4094 || r.Start > r.End {
				p := fmt.Sprintf("%s.vlan.vlanId[%d]", prefix, i)
				return p, fmt.Sprintf("A specified parameter was not correct: %s (VLAN range %d-%d)", p, r.Start, r.End)
			}
		}
	case *types.VmwareDistributedVirtualSwitchVlanIdSpec:
		if v.VlanId < 0 || v.VlanId > 4094 {
			p := prefix + ".vlan.vlanId"
			return p, fmt.Sprintf("A specified parameter was not correct: %s (VLAN %d)", p, v.VlanId)
		}
	}
	return "", ""
}

// UpdateOptions on the vCenter's OptionManager validates typed options (unknown key without the "config."
// prefix: InvalidName; wrong type or range: InvalidArgument) before applying any; host option managers and
// other option managers keep their own implementation.
func (p *vcOptionProxy) UpdateOptions(ctx *simulator.Context, req *types.UpdateOptions) soap.HasFault {
	real := simulator.Map.Get(realRef(req.This))
	switch m := real.(type) {
	case *HostOptionManager:
		return m.UpdateOptions(ctx, req)
	case *simulator.OptionManager:
		if m != simulator.Map.OptionManager() {
			return m.UpdateOptions(req)
		}
		return updateVCOptions(ctx, m, req)
	}
	return &methods.UpdateOptionsBody{Fault_: fault("", &types.ManagedObjectNotFound{Obj: req.This})}
}

func updateVCOptions(ctx *simulator.Context, m *simulator.OptionManager, req *types.UpdateOptions) soap.HasFault {
	known := map[string]int{}
	for i, o := range m.Setting {
		known[o.GetOptionValue().Key] = i
	}
	for _, c := range req.ChangedValue {
		ov := c.GetOptionValue()
		if o, ok := vcOptionSpec[ov.Key]; ok {
			if f := o.check(ov.Value); f != nil {
				return &methods.UpdateOptionsBody{Fault_: f}
			}
		} else if _, ok := known[ov.Key]; !ok && !strings.HasPrefix(ov.Key, "config.") {
			return &methods.UpdateOptionsBody{Fault_: fault("A specified parameter was not correct: "+ov.Key,
				&types.InvalidName{Name: ov.Key})}
		}
	}
	setting := make([]types.BaseOptionValue, len(m.Setting))
	for i, o := range m.Setting {
		ov := *o.GetOptionValue()
		setting[i] = &ov
	}
	for _, c := range req.ChangedValue {
		ov := c.GetOptionValue()
		if i, ok := known[ov.Key]; ok {
			setting[i] = &types.OptionValue{Key: ov.Key, Value: ov.Value}
		} else {
			known[ov.Key] = len(setting)
			setting = append(setting, &types.OptionValue{Key: ov.Key, Value: ov.Value})
		}
	}
	publish(ctx, m, change("setting", setting))
	return &methods.UpdateOptionsBody{Res: &types.UpdateOptionsResponse{}}
}

// ReconfigureDvsTask: the spec's configVersion must be the current one (else ConcurrentAccess); the switch's
// configuration is merged with the spec (unset fields stay); linkDiscoveryProtocolConfig and ipfixConfig are
// replaced and validated; vspanConfigSpec adds, edits and removes sessions by key. Host membership changes go
// to the library's implementation.
func (p *dvsProxy) ReconfigureDvsTask(ctx *simulator.Context, req *types.ReconfigureDvs_Task) soap.HasFault {
	dvs, _, notFound := proxied[*simulator.DistributedVirtualSwitch](req.This)
	if notFound != nil {
		return &methods.ReconfigureDvs_TaskBody{Fault_: notFound}
	}
	spec := req.Spec.GetDVSConfigSpec()
	if len(spec.Host) > 0 {
		var body soap.HasFault
		ctx.Map.WithLock(dvs, func() { body = dvs.ReconfigureDvsTask(req) })
		return body
	}
	var taskRef types.ManagedObjectReference
	onObject(ctx, dvs, func() {
		var msg string
		task := simulator.CreateTask(dvs, "reconfigureDvs", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			cur, ok := dvs.Config.(*types.VMwareDVSConfigInfo)
			if !ok {
				return nil, &types.NotSupported{}
			}
			if spec.ConfigVersion == "" {
				msg = "A specified parameter was not correct: spec.configVersion is required"
				return nil, &types.InvalidArgument{InvalidProperty: "spec.configVersion"}
			}
			if spec.ConfigVersion != cur.ConfigVersion {
				msg = fmt.Sprintf("Cannot complete operation due to concurrent modification by another operation "+
					"(configVersion %s, current %s).", spec.ConfigVersion, cur.ConfigVersion)
				return nil, &types.ConcurrentAccess{}
			}
			var cfg types.VMwareDVSConfigInfo
			xmlCopy(cur, &cfg)
			invalid := func(prop, text string) (types.AnyType, types.BaseMethodFault) {
				msg = "A specified parameter was not correct: " + prop + text
				return nil, &types.InvalidArgument{InvalidProperty: prop}
			}
			if prop, text := checkPortSetting(spec.DefaultPortConfig, "spec.defaultPortConfig"); prop != "" {
				msg = text
				return nil, &types.InvalidArgument{InvalidProperty: prop}
			}
			if spec.DefaultPortConfig != nil {
				mergeField(reflect.ValueOf(&cfg.DefaultPortConfig).Elem(), reflect.ValueOf(&spec.DefaultPortConfig).Elem())
			}
			if spec.Name != "" {
				cfg.Name = spec.Name
			}
			if spec.Description != "" {
				cfg.Description = spec.Description
			}
			if vs, ok := req.Spec.(*types.VMwareDVSConfigSpec); ok {
				if l := vs.LinkDiscoveryProtocolConfig; l != nil {
					if l.Protocol != "cdp" && l.Protocol != "lldp" {
						return invalid("spec.linkDiscoveryProtocolConfig.protocol", " ("+l.Protocol+")")
					}
					switch l.Operation {
					case "none", "listen", "advertise", "both":
					default:
						return invalid("spec.linkDiscoveryProtocolConfig.operation", " ("+l.Operation+")")
					}
					cfg.LinkDiscoveryProtocolConfig = l
				}
				if c := vs.IpfixConfig; c != nil {
					if c.CollectorIpAddress != "" && net.ParseIP(c.CollectorIpAddress) == nil {
						return invalid("spec.ipfixConfig.collectorIpAddress", " ("+c.CollectorIpAddress+")")
					}
					if c.CollectorPort < 0 || c.CollectorPort > 65535 {
						return invalid("spec.ipfixConfig.collectorPort", "")
					}
					cfg.IpfixConfig = c
				}
				if vs.MaxMtu != 0 {
					cfg.MaxMtu = vs.MaxMtu
				}
				sessions, prop := applyVspan(cfg.VspanSession, vs.VspanConfigSpec)
				if prop != "" {
					return invalid(prop, "")
				}
				cfg.VspanSession = sessions
			}
			n, _ := strconv.Atoi(cur.ConfigVersion)
			cfg.ConfigVersion = strconv.Itoa(n + 1)
			changes := dvsConfigChanges(cur, &cfg)
			if cfg.Name != dvs.Name {
				changes = append(changes, change("name", cfg.Name))
			}
			publish(nil, dvs, changes...)
			return nil, nil
		})
		taskRef = task.Run()
		setTaskMessage(task, msg)
	})
	return &methods.ReconfigureDvs_TaskBody{Res: &types.ReconfigureDvs_TaskResponse{Returnval: taskRef}}
}

// applyVspan applies vspanConfigSpec operations (add: a new key; edit/remove: an existing key, else the
// invalid property is returned). Session names must stay unique.
func applyVspan(sessions []types.VMwareVspanSession, specs []types.VMwareDVSVspanConfigSpec) ([]types.VMwareVspanSession, string) {
	out := append([]types.VMwareVspanSession(nil), sessions...)
	find := func(key string) int {
		for i := range out {
			if out[i].Key == key {
				return i
			}
		}
		return -1
	}
	for i, sp := range specs {
		prop := fmt.Sprintf("spec.vspanConfigSpec[%d].vspanSession", i)
		switch sp.Operation {
		case string(types.ConfigSpecOperationAdd):
			if sp.VspanSession.Name == "" {
				return nil, prop + ".name"
			}
			for _, s := range out {
				if s.Name == sp.VspanSession.Name {
					return nil, prop + ".name"
				}
			}
			sess := sp.VspanSession
			sess.Key = fmt.Sprintf("%d", 1000+len(out)+i)
			for find(sess.Key) >= 0 {
				n, _ := strconv.Atoi(sess.Key)
				sess.Key = strconv.Itoa(n + 1)
			}
			out = append(out, sess)
		case string(types.ConfigSpecOperationEdit):
			j := find(sp.VspanSession.Key)
			if j < 0 {
				return nil, prop + ".key"
			}
			out[j] = sp.VspanSession
		case string(types.ConfigSpecOperationRemove):
			j := find(sp.VspanSession.Key)
			if j < 0 {
				return nil, prop + ".key"
			}
			out = append(out[:j], out[j+1:]...)
		default:
			return nil, fmt.Sprintf("spec.vspanConfigSpec[%d].operation", i)
		}
	}
	return out, ""
}

// dvsConfigChanges lists "config.<field>" for each field of the switch config that changed (the property
// collector reports nested paths such as config.linkDiscoveryProtocolConfig only from such changes), then
// "config" itself for whole-config readers.
func dvsConfigChanges(before, after *types.VMwareDVSConfigInfo) []types.PropertyChange {
	var changes []types.PropertyChange
	var walk func(b, a reflect.Value)
	walk = func(b, a reflect.Value) {
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if f.Anonymous {
				if a.Field(i).Kind() == reflect.Struct && f.Name != "DynamicData" {
					walk(b.Field(i), a.Field(i))
				}
				continue
			}
			if sameXML(b.Field(i).Interface(), a.Field(i).Interface()) {
				continue
			}
			changes = append(changes, change("config."+lcFirst(f.Name), a.Field(i).Interface()))
		}
	}
	walk(reflect.ValueOf(before).Elem(), reflect.ValueOf(after).Elem())
	return append(changes, change("config", after))
}

// -drift at vCenter level (drift.go, documented in docs/simulator.md): what a neglected vCenter shows. Each
// helper changes an object that start-up normalization has already filled (normalizeNetwork,
// installVCenter), so nothing overwrites it later; each changed switch or portgroup gets the next
// configVersion, as the edits that left it so would have.

// driftSpanKey is the key of the port mirroring session -drift leaves on the first switch.
const driftSpanKey = "1000"

// driftSwitch: CDP listening and advertising, a port mirroring session left over from troubleshooting (the
// inventory's portgroups have no ports, so it names none) and NetFlow/IPFIX export to an old collector.
func driftSwitch(info *types.VMwareDVSConfigInfo) {
	defaultSwitchConfig(info)
	info.LinkDiscoveryProtocolConfig = &types.LinkDiscoveryProtocolConfig{Protocol: "cdp", Operation: "both"}
	ipfix := *info.IpfixConfig
	ipfix.CollectorIpAddress, ipfix.CollectorPort = "192.0.2.10", 4739
	info.IpfixConfig = &ipfix
	info.VspanSession = append(info.VspanSession, types.VMwareVspanSession{Key: driftSpanKey, Name: "legacy-span",
		Description: "troubleshooting capture", Enabled: true, SessionType: "dvPortMirror", SamplingRate: 1})
	info.ConfigVersion = nextConfigVersion(info.ConfigVersion)
}

// driftPortgroup: MAC learning and IPFIX on, ports keeping their per-port settings at disconnect, VLAN and
// security policy overridable per port.
func driftPortgroup(cfg *types.DVPortgroupConfigInfo) {
	if ps, ok := cfg.DefaultPortConfig.(*types.VMwareDVSPortSetting); ok {
		defaultPortSetting(ps)
		mac := *ps.MacManagementPolicy
		limit := int32(4096)
		mac.MacLearningPolicy = &types.DVSMacLearningPolicy{Enabled: true, AllowUnicastFlooding: boolPtr(true),
			Limit: &limit, LimitPolicy: "DROP"}
		ps.MacManagementPolicy = &mac
		ps.IpfixEnabled = &types.BoolPolicy{Value: boolPtr(true)}
	}
	if pol, ok := cfg.Policy.(*types.VMwareDVSPortgroupPolicy); ok {
		p := *pol
		p.PortConfigResetAtDisconnect = false
		p.VlanOverrideAllowed = true
		p.SecurityPolicyOverrideAllowed = true
		cfg.Policy = &p
	}
	cfg.ConfigVersion = nextConfigVersion(cfg.ConfigVersion)
}

// driftVCOptions: vpxd logging at verbose, vCenter events not sent to syslog (typed values, as UpdateOptions
// would store them).
func driftVCOptions(setting []types.BaseOptionValue) {
	want := map[string]interface{}{"config.log.level": "verbose", "vpxd.event.syslog.enabled": false}
	for i, o := range setting {
		key := o.GetOptionValue().Key
		if v, ok := want[key]; ok {
			setting[i] = &types.OptionValue{Key: key, Value: v}
		}
	}
}

func nextConfigVersion(v string) string {
	n, _ := strconv.Atoi(v)
	return strconv.Itoa(n + 1)
}
