package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// hostExt holds the per-host managed objects the launcher adds or replaces.
type hostExt struct {
	host *simulator.HostSystem
	svc  *ServiceSystem
	fw   *FirewallSystem
	am   *AccessManager
	net  *NetworkSystem
	opt  *HostOptionManager
	dt   *DateTimeSystem
	pub  *hostPublicAPI // hostapi.go
}

func (s *Sim) installHosts() {
	s.hosts = map[string]*hostExt{}
	for _, h := range hostsSorted() {
		x := &hostExt{host: h}
		managedByVC := !s.cfg.esx
		if managedByVC {
			// the address of the vCenter managing the host, as the host sees it
			h.Summary.ManagementServerIp = s.managementAddress()
		}

		x.svc = newServiceSystem(h, managedByVC)
		x.svc.Self.Type = "HostServiceSystem"
		svcRef := simulator.Map.Put(x.svc).Reference()
		h.ConfigManager.ServiceSystem = &svcRef

		x.dt = newDateTimeSystem(h)
		dtRef := simulator.Map.Put(x.dt).Reference()
		h.ConfigManager.DateTimeSystem = &dtRef

		x.am = &AccessManager{host: h, svc: x.svc}
		x.am.Self.Type = "HostAccessManager"
		x.am.LockdownMode = types.HostLockdownModeLockdownDisabled
		x.am.SystemUsers = []string{"da-user", "mux_user", "vpxuser"}
		if !managedByVC {
			x.am.SystemUsers = []string{"da-user", "mux_user"}
		}
		amRef := simulator.Map.Put(x.am).Reference()
		h.ConfigManager.HostAccessManager = &amRef

		// Replace the library's firewall, network system and option manager (same moref) with per-host,
		// typed objects; nothing in the library type-asserts these.
		x.fw = newFirewallSystem(h, x.svc)
		x.fw.Self = *h.ConfigManager.FirewallSystem
		simulator.Map.Put(x.fw)

		x.net = newNetworkSystem(h)
		x.net.Self = *h.ConfigManager.NetworkSystem
		simulator.Map.Put(x.net)

		x.opt = newHostOptionManager(h)
		x.opt.Self = *h.ConfigManager.AdvancedOption
		simulator.Map.Put(x.opt)

		x.installPublicAPI(managedByVC)
		x.mirror()
		s.hosts[h.Name] = x
	}
	s.override("HostSystem", func(ref types.ManagedObjectReference) mo.Reference {
		p := &hostProxy{sim: s}
		p.Self = ref
		return p
	}, "EnterLockdownMode", "ExitLockdownMode")
}

// managementAddress is the simulated vCenter's address as its hosts see it: the listen host, or loopback when
// listening on every address.
func (s *Sim) managementAddress() string {
	host, _, err := net.SplitHostPort(s.cfg.listen)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return "127.0.0.1"
	}
	return host
}

// hostProxy serves the pre-6.0 lockdown methods of HostSystem (which must not be wrapped) through the
// host's HostAccessManager: EnterLockdownMode = lockdownNormal, ExitLockdownMode = lockdownDisabled.
type hostProxy struct {
	mo.ExtensibleManagedObject
	sim *Sim
}

func (p *hostProxy) lockdown(ctx *simulator.Context, this types.ManagedObjectReference, mode types.HostLockdownMode) *soap.Fault {
	ref := realRef(this)
	h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
	if !ok || p.sim.hosts[h.Name] == nil {
		return fault("", &types.ManagedObjectNotFound{Obj: ref})
	}
	am := p.sim.hosts[h.Name].am
	var res soap.HasFault
	onObject(ctx, am, func() {
		res = am.ChangeLockdownMode(ctx, &types.ChangeLockdownMode{This: am.Self, Mode: mode})
	})
	return res.Fault()
}

func (p *hostProxy) current(this types.ManagedObjectReference) types.HostLockdownMode {
	if h, ok := simulator.Map.Get(realRef(this)).(*simulator.HostSystem); ok && p.sim.hosts[h.Name] != nil {
		return p.sim.hosts[h.Name].am.LockdownMode
	}
	return ""
}

func (p *hostProxy) EnterLockdownMode(ctx *simulator.Context, req *types.EnterLockdownMode) soap.HasFault {
	if m := p.current(req.This); m != "" && m != types.HostLockdownModeLockdownDisabled {
		return &methods.EnterLockdownModeBody{Fault_: fault("The administrator permission has already been disabled on the host.",
			&types.AdminDisabled{})}
	}
	if f := p.lockdown(ctx, req.This, types.HostLockdownModeLockdownNormal); f != nil {
		return &methods.EnterLockdownModeBody{Fault_: f}
	}
	return &methods.EnterLockdownModeBody{Res: &types.EnterLockdownModeResponse{}}
}

func (p *hostProxy) ExitLockdownMode(ctx *simulator.Context, req *types.ExitLockdownMode) soap.HasFault {
	if p.current(req.This) == types.HostLockdownModeLockdownDisabled {
		return &methods.ExitLockdownModeBody{Fault_: fault("The administrator permission is not disabled on the host.",
			&types.AdminNotDisabled{})}
	}
	if f := p.lockdown(ctx, req.This, types.HostLockdownModeLockdownDisabled); f != nil {
		return &methods.ExitLockdownModeBody{Fault_: f}
	}
	return &methods.ExitLockdownModeBody{Res: &types.ExitLockdownModeResponse{}}
}

// mirror copies the managers' state into host.config.* (initial state, no events needed).
func (x *hostExt) mirror() {
	h := x.host
	var svc types.HostServiceInfo
	xmlCopy(&x.svc.ServiceInfo, &svc)
	h.Config.Service = &svc
	var fw types.HostFirewallInfo
	xmlCopy(x.fw.FirewallInfo, &fw)
	h.Config.Firewall = &fw
	var nw types.HostNetworkInfo
	xmlCopy(x.net.NetworkInfo, &nw)
	h.Config.Network = &nw
	dt := x.dt.DateTimeInfo
	h.Config.DateTimeInfo = &dt
	h.Config.LockdownMode = x.am.LockdownMode
	h.Config.AdminDisabled = boolPtr(x.am.LockdownMode != types.HostLockdownModeLockdownDisabled)
	h.Config.Option = x.opt.settingCopy()
	h.Config.OptionDef = x.opt.SupportedOption
}

// ---------------------------------------------------------------------------------------------
// HostServiceSystem

type ServiceSystem struct {
	mo.HostServiceSystem
	host *simulator.HostSystem
}

func newServiceSystem(h *simulator.HostSystem, managedByVC bool) *ServiceSystem {
	pkg := &types.HostServiceSourcePackage{SourcePackageName: "esx-base",
		Description: "This VIB contains all of the base functionality of vSphere ESXi."}
	svc := func(key, label string, running bool, policy string, rulesets ...string) types.HostService {
		return types.HostService{Key: key, Label: label, Running: running, Policy: policy, Ruleset: rulesets,
			SourcePackage: pkg}
	}
	list := []types.HostService{
		svc("DCUI", "Direct Console UI", true, "on"),
		svc("TSM", "ESXi Shell", false, "off"),
		svc("TSM-SSH", "SSH", false, "off", "sshServer"),
		svc("lbtd", "Load-Based Teaming Daemon", true, "on"),
		svc("lwsmd", "Active Directory Service", false, "off", "activeDirectoryAll"),
		svc("ntpd", "NTP Daemon", false, "off", "ntpClient"),
		svc("pcscd", "PC/SC Smart Card Daemon", false, "off"),
		svc("sfcbd-watchdog", "CIM Server", false, "on", "CIMHttpServer", "CIMHttpsServer"),
		svc("slpd", "slpd", false, "off", "CIMSLP"),
		svc("snmpd", "SNMP Server", false, "on", "snmp"),
		svc("vmsyslogd", "Syslog Server", true, "on"),
		svc("vpxa", "VMware vCenter Agent", managedByVC, "on", "vpxHeartbeats"),
		svc("xorg", "X.Org Server", false, "on"),
	}
	for i := range list {
		if list[i].Key == "vmsyslogd" {
			list[i].Required = true
		}
		if list[i].Key == "xorg" {
			list[i].SourcePackage = &types.HostServiceSourcePackage{SourcePackageName: "esx-xserver",
				Description: "This VIB contains X Server used for virtual machine 3D hardware acceleration."}
		}
	}
	s := &ServiceSystem{host: h}
	s.ServiceInfo.Service = list
	return s
}

// mutable replaces the service list with a private copy before a change (copy-on-write): lists already
// handed to property collectors or responses are never modified afterwards.
func (s *ServiceSystem) mutable() {
	var cp types.HostServiceInfo
	xmlCopy(&s.ServiceInfo, &cp)
	s.ServiceInfo = cp
}

func (s *ServiceSystem) find(id string) *types.HostService {
	for i := range s.ServiceInfo.Service {
		if s.ServiceInfo.Service[i].Key == id {
			return &s.ServiceInfo.Service[i]
		}
	}
	return nil
}

// publish announces the service list, unless nothing changed (the property collector reports changes only).
func (s *ServiceSystem) publish(ctx *simulator.Context) {
	if sameXML(&s.ServiceInfo, s.host.Config.Service) {
		return
	}
	publish(ctx, s, change("serviceInfo.service", s.ServiceInfo.Service))
	var cp types.HostServiceInfo
	xmlCopy(&s.ServiceInfo, &cp)
	publish(ctx, s.host, change("config.service.service", cp.Service))
}

func notFound(id string) *soap.Fault {
	return fault(fmt.Sprintf("The object or item referred to could not be found: %s", id), &types.NotFound{})
}

func (s *ServiceSystem) setRunning(ctx *simulator.Context, id string, running bool) *soap.Fault {
	if s.find(id) == nil {
		return notFound(id)
	}
	s.mutable()
	s.find(id).Running = running
	s.publish(ctx)
	return nil
}

func (s *ServiceSystem) StartService(ctx *simulator.Context, req *types.StartService) soap.HasFault {
	if f := s.setRunning(ctx, req.Id, true); f != nil {
		return &methods.StartServiceBody{Fault_: f}
	}
	return &methods.StartServiceBody{Res: &types.StartServiceResponse{}}
}

func (s *ServiceSystem) StopService(ctx *simulator.Context, req *types.StopService) soap.HasFault {
	if f := s.setRunning(ctx, req.Id, false); f != nil {
		return &methods.StopServiceBody{Fault_: f}
	}
	return &methods.StopServiceBody{Res: &types.StopServiceResponse{}}
}

func (s *ServiceSystem) RestartService(ctx *simulator.Context, req *types.RestartService) soap.HasFault {
	if f := s.setRunning(ctx, req.Id, true); f != nil {
		return &methods.RestartServiceBody{Fault_: f}
	}
	return &methods.RestartServiceBody{Res: &types.RestartServiceResponse{}}
}

func (s *ServiceSystem) UpdateServicePolicy(ctx *simulator.Context, req *types.UpdateServicePolicy) soap.HasFault {
	svc := s.find(req.Id)
	if svc == nil {
		return &methods.UpdateServicePolicyBody{Fault_: notFound(req.Id)}
	}
	switch types.HostServicePolicy(req.Policy) {
	case types.HostServicePolicyOn, types.HostServicePolicyOff, types.HostServicePolicyAutomatic:
	default:
		return &methods.UpdateServicePolicyBody{Fault_: fault(
			fmt.Sprintf("A specified parameter was not correct: policy %q (on, off or automatic)", req.Policy),
			&types.InvalidArgument{InvalidProperty: "policy"})}
	}
	s.mutable()
	s.find(req.Id).Policy = req.Policy
	s.publish(ctx)
	return &methods.UpdateServicePolicyBody{Res: &types.UpdateServicePolicyResponse{}}
}

func (s *ServiceSystem) RefreshServices(ctx *simulator.Context, req *types.RefreshServices) soap.HasFault {
	s.publish(ctx)
	return &methods.RefreshServicesBody{Res: &types.RefreshServicesResponse{}}
}

// ---------------------------------------------------------------------------------------------
// HostFirewallSystem

type FirewallSystem struct {
	mo.HostFirewallSystem
	host *simulator.HostSystem
}

func newFirewallSystem(h *simulator.HostSystem, svc *ServiceSystem) *FirewallSystem {
	info := new(types.HostFirewallInfo)
	xmlCopy(&esx.HostFirewallInfo, info) // per host, never shared
	link := map[string]string{"sshServer": "TSM-SSH", "CIMSLP": "slpd", "activeDirectoryAll": "lwsmd"}
	for i := range info.Ruleset {
		rs := &info.Ruleset[i]
		if svcKey, ok := link[rs.Key]; ok && rs.Service == "" {
			rs.Service = svcKey
		}
		if rs.AllowedHosts == nil {
			rs.AllowedHosts = &types.HostFirewallRulesetIpList{AllIp: true}
		}
	}
	fw := &FirewallSystem{host: h}
	fw.FirewallInfo = info
	return fw
}

// mutable: copy-on-write of the firewall info (see ServiceSystem.mutable).
func (f *FirewallSystem) mutable() {
	cp := new(types.HostFirewallInfo)
	xmlCopy(f.FirewallInfo, cp)
	f.FirewallInfo = cp
}

func (f *FirewallSystem) find(id string) *types.HostFirewallRuleset {
	for i := range f.FirewallInfo.Ruleset {
		if f.FirewallInfo.Ruleset[i].Key == id {
			return &f.FirewallInfo.Ruleset[i]
		}
	}
	return nil
}

func (f *FirewallSystem) publish(ctx *simulator.Context, what string) {
	if sameXML(f.FirewallInfo, f.host.Config.Firewall) {
		return // nothing changed
	}
	var cp types.HostFirewallInfo
	xmlCopy(f.FirewallInfo, &cp)
	switch what {
	case "defaultPolicy":
		publish(ctx, f, change("firewallInfo.defaultPolicy", f.FirewallInfo.DefaultPolicy))
		publish(ctx, f.host, change("config.firewall.defaultPolicy", cp.DefaultPolicy))
	default:
		publish(ctx, f, change("firewallInfo.ruleset", f.FirewallInfo.Ruleset))
		publish(ctx, f.host, change("config.firewall.ruleset", cp.Ruleset))
	}
}

func (f *FirewallSystem) EnableRuleset(ctx *simulator.Context, req *types.EnableRuleset) soap.HasFault {
	if f.find(req.Id) == nil {
		return &methods.EnableRulesetBody{Fault_: notFound(req.Id)}
	}
	f.mutable()
	f.find(req.Id).Enabled = true
	f.publish(ctx, "ruleset")
	return &methods.EnableRulesetBody{Res: &types.EnableRulesetResponse{}}
}

func (f *FirewallSystem) DisableRuleset(ctx *simulator.Context, req *types.DisableRuleset) soap.HasFault {
	rs := f.find(req.Id)
	if rs == nil {
		return &methods.DisableRulesetBody{Fault_: notFound(req.Id)}
	}
	if rs.Required {
		return &methods.DisableRulesetBody{Fault_: fault("Ruleset "+req.Id+" is required and cannot be disabled",
			&types.HostConfigFault{})}
	}
	f.mutable()
	f.find(req.Id).Enabled = false
	f.publish(ctx, "ruleset")
	return &methods.DisableRulesetBody{Res: &types.DisableRulesetResponse{}}
}

func invalidArgument(prop, msg string) *soap.Fault {
	return fault("A specified parameter was not correct: "+msg, &types.InvalidArgument{InvalidProperty: prop})
}

func validateIPList(l *types.HostFirewallRulesetIpList) *soap.Fault {
	for i, a := range l.IpAddress {
		if net.ParseIP(strings.TrimSpace(a)) == nil {
			return invalidArgument(fmt.Sprintf("spec.allowedHosts.ipAddress[%d]", i), fmt.Sprintf("%q is not an IP address", a))
		}
	}
	for i, n := range l.IpNetwork {
		ip := net.ParseIP(strings.TrimSpace(n.Network))
		prop := fmt.Sprintf("spec.allowedHosts.ipNetwork[%d]", i)
		if ip == nil {
			return invalidArgument(prop+".network", fmt.Sprintf("%q is not a network address", n.Network))
		}
		max := int32(128)
		if ip.To4() != nil {
			max = 32
		}
		if n.PrefixLength < 0 || n.PrefixLength > max {
			return invalidArgument(prop+".prefixLength", fmt.Sprintf("prefix length %d is out of range 0..%d", n.PrefixLength, max))
		}
	}
	return nil
}

func (f *FirewallSystem) UpdateRuleset(ctx *simulator.Context, req *types.UpdateRuleset) soap.HasFault {
	rs := f.find(req.Id)
	if rs == nil {
		return &methods.UpdateRulesetBody{Fault_: notFound(req.Id)}
	}
	if flt := validateIPList(&req.Spec.AllowedHosts); flt != nil {
		return &methods.UpdateRulesetBody{Fault_: flt}
	}
	l := req.Spec.AllowedHosts
	nl := &types.HostFirewallRulesetIpList{AllIp: l.AllIp}
	for _, a := range l.IpAddress {
		nl.IpAddress = append(nl.IpAddress, strings.TrimSpace(a))
	}
	for _, n := range l.IpNetwork {
		nl.IpNetwork = append(nl.IpNetwork, types.HostFirewallRulesetIpNetwork{Network: strings.TrimSpace(n.Network),
			PrefixLength: n.PrefixLength})
	}
	f.mutable()
	f.find(req.Id).AllowedHosts = nl
	f.publish(ctx, "ruleset")
	return &methods.UpdateRulesetBody{Res: &types.UpdateRulesetResponse{}}
}

func (f *FirewallSystem) UpdateDefaultPolicy(ctx *simulator.Context, req *types.UpdateDefaultPolicy) soap.HasFault {
	f.mutable()
	p := &f.FirewallInfo.DefaultPolicy
	if req.DefaultPolicy.IncomingBlocked != nil {
		p.IncomingBlocked = boolPtr(*req.DefaultPolicy.IncomingBlocked)
	}
	if req.DefaultPolicy.OutgoingBlocked != nil {
		p.OutgoingBlocked = boolPtr(*req.DefaultPolicy.OutgoingBlocked)
	}
	f.publish(ctx, "defaultPolicy")
	return &methods.UpdateDefaultPolicyBody{Res: &types.UpdateDefaultPolicyResponse{}}
}

func (f *FirewallSystem) RefreshFirewall(ctx *simulator.Context, req *types.RefreshFirewall) soap.HasFault {
	f.publish(ctx, "ruleset")
	return &methods.RefreshFirewallBody{Res: &types.RefreshFirewallResponse{}}
}

// ---------------------------------------------------------------------------------------------
// HostAccessManager

type AccessManager struct {
	mo.HostAccessManager
	host        *simulator.HostSystem
	svc         *ServiceSystem
	Exceptions  []string
	SystemUsers []string
}

func (a *AccessManager) ChangeLockdownMode(ctx *simulator.Context, req *types.ChangeLockdownMode) soap.HasFault {
	switch req.Mode {
	case types.HostLockdownModeLockdownDisabled, types.HostLockdownModeLockdownNormal, types.HostLockdownModeLockdownStrict:
	default:
		return &methods.ChangeLockdownModeBody{Fault_: invalidArgument("mode",
			fmt.Sprintf("lockdown mode %q (lockdownDisabled, lockdownNormal or lockdownStrict)", req.Mode))}
	}
	if a.LockdownMode == req.Mode {
		return &methods.ChangeLockdownModeBody{Res: &types.ChangeLockdownModeResponse{}}
	}
	a.LockdownMode = req.Mode
	publish(ctx, a, change("lockdownMode", req.Mode))
	publish(ctx, a.host,
		change("config.lockdownMode", req.Mode),
		change("config.adminDisabled", req.Mode != types.HostLockdownModeLockdownDisabled))
	// As ESXi: disabled and normal lockdown start the DCUI if it is stopped, strict lockdown stops it.
	if a.svc != nil {
		want := req.Mode != types.HostLockdownModeLockdownStrict
		onObject(ctx, a.svc, func() {
			if dcui := a.svc.find("DCUI"); dcui != nil && dcui.Running != want {
				_ = a.svc.setRunning(ctx, "DCUI", want)
			}
		})
	}
	return &methods.ChangeLockdownModeBody{Res: &types.ChangeLockdownModeResponse{}}
}

func (a *AccessManager) QueryLockdownExceptions(ctx *simulator.Context, req *types.QueryLockdownExceptions) soap.HasFault {
	return &methods.QueryLockdownExceptionsBody{Res: &types.QueryLockdownExceptionsResponse{
		Returnval: append([]string(nil), a.Exceptions...)}}
}

func validUsers(users []string) *soap.Fault {
	for i, u := range users {
		if strings.TrimSpace(u) == "" || strings.ContainsAny(u, " \t\n:") {
			return invalidArgument(fmt.Sprintf("users[%d]", i), fmt.Sprintf("%q is not a valid user name", u))
		}
	}
	return nil
}

func dedup(users []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range users {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

func (a *AccessManager) UpdateLockdownExceptions(ctx *simulator.Context, req *types.UpdateLockdownExceptions) soap.HasFault {
	if f := validUsers(req.Users); f != nil {
		return &methods.UpdateLockdownExceptionsBody{Fault_: f}
	}
	a.Exceptions = dedup(req.Users)
	return &methods.UpdateLockdownExceptionsBody{Res: &types.UpdateLockdownExceptionsResponse{}}
}

func (a *AccessManager) QuerySystemUsers(ctx *simulator.Context, req *types.QuerySystemUsers) soap.HasFault {
	return &methods.QuerySystemUsersBody{Res: &types.QuerySystemUsersResponse{
		Returnval: append([]string(nil), a.SystemUsers...)}}
}

func (a *AccessManager) UpdateSystemUsers(ctx *simulator.Context, req *types.UpdateSystemUsers) soap.HasFault {
	if f := validUsers(req.Users); f != nil {
		return &methods.UpdateSystemUsersBody{Fault_: f}
	}
	a.SystemUsers = dedup(req.Users)
	return &methods.UpdateSystemUsersBody{Res: &types.UpdateSystemUsersResponse{}}
}
