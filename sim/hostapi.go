package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Per-host public-API managers of issue 16: HostSnmpSystem, HostImageConfigManager, HostCertificateManager
// and HostAuthenticationManager (ESXi 8 defaults, the faults the vSphere API reference lists). The firewall default policy is FirewallSystem's
// (host.go); NTP is DateTimeSystem's (datetime.go).

type hostPublicAPI struct {
	snmp  *SnmpSystem
	image *ImageConfigManager
	cert  *CertificateManager
	auth  *AuthenticationManager
	ad    *ActiveDirectoryAuthentication
}

func (x *hostExt) installPublicAPI(managedByVC bool) {
	h := x.host
	p := &hostPublicAPI{}
	p.snmp = newSnmpSystem(h, x.svc)
	snmpRef := simulator.Map.Put(p.snmp).Reference()
	h.ConfigManager.SnmpSystem = &snmpRef

	p.image = &ImageConfigManager{host: h, level: "partner", lowestVib: "partner"}
	p.image.Self.Type = "HostImageConfigManager"
	imageRef := simulator.Map.Put(p.image).Reference()
	h.ConfigManager.ImageConfigManager = &imageRef

	p.cert = newCertificateManager(h, managedByVC)
	certRef := simulator.Map.Put(p.cert).Reference()
	h.ConfigManager.CertificateManager = &certRef
	x.pub = p
	x.installAuthentication()
}

// applyPublicAPIDrift: SNMP enabled with community "public" (snmpd running), the firewall accepting incoming
// traffic by default, the acceptance level CommunitySupported.
func (x *hostExt) applyPublicAPIDrift() {
	x.pub.snmp.Configuration.Enabled = boolPtr(true)
	x.pub.snmp.Configuration.ReadOnlyCommunities = []string{"public"}
	if svc := x.svc.find("snmpd"); svc != nil {
		svc.Running = true
	}
	x.fw.FirewallInfo.DefaultPolicy.IncomingBlocked = boolPtr(false)
	x.pub.image.level = "community"
}

// ---------------------------------------------------------------------------------------------
// HostSnmpSystem: the SNMP v1/v2c agent. Enabling it starts snmpd, disabling stops it (as esxcli system snmp set).

type SnmpSystem struct {
	mo.HostSnmpSystem
	host *simulator.HostSystem
	svc  *ServiceSystem
}

func newSnmpSystem(h *simulator.HostSystem, svc *ServiceSystem) *SnmpSystem {
	s := &SnmpSystem{host: h, svc: svc}
	s.Self.Type = "HostSnmpSystem"
	s.Configuration = types.HostSnmpConfigSpec{Enabled: boolPtr(false), Port: 161}
	s.Limits = types.HostSnmpSystemAgentLimits{MaxReadOnlyCommunities: 10, MaxTrapDestinations: 3,
		MaxCommunityLength: 64, MaxBufferSize: 1500, Capability: types.HostSnmpAgentCapabilityCOMPLETE}
	return s
}

func (s *SnmpSystem) ReconfigureSnmpAgent(ctx *simulator.Context, req *types.ReconfigureSnmpAgent) soap.HasFault {
	spec := req.Spec
	l := s.Limits
	if len(spec.ReadOnlyCommunities) > int(l.MaxReadOnlyCommunities) {
		return &methods.ReconfigureSnmpAgentBody{Fault_: fault(fmt.Sprintf(
			"Insufficient resources: at most %d read-only communities", l.MaxReadOnlyCommunities),
			&types.InsufficientResourcesFault{})}
	}
	if len(spec.TrapTargets) > int(l.MaxTrapDestinations) {
		return &methods.ReconfigureSnmpAgentBody{Fault_: fault(fmt.Sprintf(
			"Insufficient resources: at most %d trap targets", l.MaxTrapDestinations), &types.InsufficientResourcesFault{})}
	}
	for i, c := range spec.ReadOnlyCommunities { // the message never echoes a community (a secret)
		if c == "" || len(c) > int(l.MaxCommunityLength) {
			return &methods.ReconfigureSnmpAgentBody{Fault_: invalidArgument(fmt.Sprintf("spec.readOnlyCommunities[%d]", i),
				fmt.Sprintf("a community must have 1..%d characters", l.MaxCommunityLength))}
		}
	}
	if spec.Port < 0 || spec.Port > 65535 {
		return &methods.ReconfigureSnmpAgentBody{Fault_: invalidArgument("spec.port",
			fmt.Sprintf("port %d is out of range 1..65535", spec.Port))}
	}
	next := types.HostSnmpConfigSpec{Enabled: s.Configuration.Enabled, Port: s.Configuration.Port,
		ReadOnlyCommunities: append([]string(nil), spec.ReadOnlyCommunities...),
		TrapTargets:         append([]types.HostSnmpDestination(nil), spec.TrapTargets...),
		Option:              append([]types.KeyValue(nil), spec.Option...)}
	if spec.Enabled != nil {
		next.Enabled = boolPtr(*spec.Enabled)
	}
	if spec.Port != 0 {
		next.Port = spec.Port
	}
	if !sameXML(&next, &s.Configuration) {
		publish(ctx, s, change("configuration", next))
	}
	if s.svc != nil {
		running := isTrue(next.Enabled)
		onObject(ctx, s.svc, func() {
			if svc := s.svc.find("snmpd"); svc != nil && svc.Running != running {
				_ = s.svc.setRunning(ctx, "snmpd", running)
			}
		})
	}
	return &methods.ReconfigureSnmpAgentBody{Res: &types.ReconfigureSnmpAgentResponse{}}
}

func (s *SnmpSystem) SendTestNotification(ctx *simulator.Context, req *types.SendTestNotification) soap.HasFault {
	if !isTrue(s.Configuration.Enabled) {
		return &methods.SendTestNotificationBody{Fault_: fault("The SNMP agent is not enabled", &types.NotFound{})}
	}
	return &methods.SendTestNotificationBody{Res: &types.SendTestNotificationResponse{}}
}

// ---------------------------------------------------------------------------------------------
// HostImageConfigManager: the acceptance level (no properties). The host's image holds partner VIBs (OEM
// drivers, as vendor images do), so a level above PartnerSupported is refused as ESXi refuses it.

type ImageConfigManager struct {
	mo.HostImageConfigManager
	host      *simulator.HostSystem
	level     string
	lowestVib string
}

var acceptanceRank = map[string]int{"community": 0, "partner": 1, "vmware_accepted": 2, "vmware_certified": 3}

func (m *ImageConfigManager) HostImageConfigGetAcceptance(ctx *simulator.Context, req *types.HostImageConfigGetAcceptance) soap.HasFault {
	return &methods.HostImageConfigGetAcceptanceBody{Res: &types.HostImageConfigGetAcceptanceResponse{Returnval: m.level}}
}

func (m *ImageConfigManager) UpdateHostImageAcceptanceLevel(ctx *simulator.Context, req *types.UpdateHostImageAcceptanceLevel) soap.HasFault {
	rank, ok := acceptanceRank[req.NewAcceptanceLevel]
	if !ok {
		return &methods.UpdateHostImageAcceptanceLevelBody{Fault_: fault(fmt.Sprintf(
			"Invalid acceptance level %q (community, partner, vmware_accepted or vmware_certified)", req.NewAcceptanceLevel),
			&types.HostConfigFault{})}
	}
	if rank > acceptanceRank[m.lowestVib] {
		return &methods.UpdateHostImageAcceptanceLevelBody{Fault_: fault(fmt.Sprintf(
			"[AcceptanceConfigError] VIBs with acceptance level %s are installed; the host acceptance level cannot "+
				"be raised to %s", m.lowestVib, req.NewAcceptanceLevel), &types.HostConfigFault{})}
	}
	m.level = req.NewAcceptanceLevel
	return &methods.UpdateHostImageAcceptanceLevelBody{Res: &types.UpdateHostImageAcceptanceLevelResponse{}}
}

func (m *ImageConfigManager) HostImageConfigGetProfile(ctx *simulator.Context, req *types.HostImageConfigGetProfile) soap.HasFault {
	return &methods.HostImageConfigGetProfileBody{Res: &types.HostImageConfigGetProfileResponse{
		Returnval: types.HostImageProfileSummary{Name: "ESXi-8.0U3-24022510-standard", Vendor: "VMware, Inc."}}}
}

// ---------------------------------------------------------------------------------------------
// HostCertificateManager: the host's TLS certificate. Hosts managed by vCenter carry a VMCA-issued
// certificate, a standalone host its self-signed installer certificate. InstallServerCertificate takes a PEM
// certificate (the key stays on the host: not modelled).

type CertificateManager struct {
	mo.HostCertificateManager
	host *simulator.HostSystem
}

// VMCAIssuer is the issuer of certificates from the simulated vCenter's VMware Certificate Authority.
const VMCAIssuer = "CN=CA, DC=vsphere, DC=local, C=US, ST=California, O=vcsa.vsr.test, OU=VMware Engineering"

func newCertificateManager(h *simulator.HostSystem, managedByVC bool) *CertificateManager {
	m := &CertificateManager{host: h}
	m.Self.Type = "HostCertificateManager"
	subject := "CN=" + h.Name + ", O=VMware, Inc., OU=VMware ESX Server Default Certificate, C=US"
	issuer := subject
	if managedByVC {
		subject = "CN=" + h.Name + ", C=US, ST=California, O=vcsa.vsr.test, OU=VMware Engineering"
		issuer = VMCAIssuer
	}
	from := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	until := from.AddDate(5, 0, 0)
	m.CertificateInfo = types.HostCertificateManagerCertificateInfo{Issuer: issuer, Subject: subject,
		NotBefore: &from, NotAfter: &until, Status: string(types.HostCertificateManagerCertificateInfoCertificateStatusGood)}
	return m
}

func (m *CertificateManager) InstallServerCertificate(ctx *simulator.Context, req *types.InstallServerCertificate) soap.HasFault {
	block, _ := pem.Decode([]byte(req.Cert))
	if block == nil || block.Type != "CERTIFICATE" {
		return &methods.InstallServerCertificateBody{Fault_: fault("The certificate is not a PEM-encoded X.509 certificate",
			&types.HostConfigFault{})}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return &methods.InstallServerCertificateBody{Fault_: fault("The certificate cannot be parsed: "+err.Error(),
			&types.HostConfigFault{})}
	}
	from, until := cert.NotBefore.UTC(), cert.NotAfter.UTC()
	info := types.HostCertificateManagerCertificateInfo{Issuer: cert.Issuer.String(), Subject: cert.Subject.String(),
		NotBefore: &from, NotAfter: &until, Status: string(types.HostCertificateManagerCertificateInfoCertificateStatusGood)}
	if time.Now().After(until) {
		info.Status = string(types.HostCertificateManagerCertificateInfoCertificateStatusExpired)
	}
	publish(ctx, m, change("certificateInfo", info))
	return &methods.InstallServerCertificateBody{Res: &types.InstallServerCertificateResponse{}}
}

// ---------------------------------------------------------------------------------------------
// HostAuthenticationManager and its Active Directory store: JoinDomain_Task / LeaveCurrentDomain_Task update
// the store's info and the host's config.authenticationManagerInfo (lwsmd runs while joined). Any non-empty
// account is accepted: the simulator has no domain controller.

type AuthenticationManager struct {
	mo.HostAuthenticationManager
	host *simulator.HostSystem
}

type ActiveDirectoryAuthentication struct {
	mo.HostActiveDirectoryAuthentication
	host *simulator.HostSystem
	svc  *ServiceSystem
}

func (x *hostExt) installAuthentication() {
	h := x.host
	ad := &ActiveDirectoryAuthentication{host: h, svc: x.svc}
	ad.Self.Type = "HostActiveDirectoryAuthentication"
	ad.Info = &types.HostActiveDirectoryInfo{SmartCardAuthenticationEnabled: boolPtr(false)}
	adRef := simulator.Map.Put(ad).Reference()
	m := &AuthenticationManager{host: h}
	m.Self.Type = "HostAuthenticationManager"
	m.SupportedStore = []types.ManagedObjectReference{adRef}
	m.Info = types.HostAuthenticationManagerInfo{AuthConfig: []types.BaseHostAuthenticationStoreInfo{
		&types.HostLocalAuthenticationInfo{HostAuthenticationStoreInfo: types.HostAuthenticationStoreInfo{Enabled: true}},
		ad.Info}}
	ref := simulator.Map.Put(m).Reference()
	h.ConfigManager.AuthenticationManager = &ref
	x.pub.auth = m
	x.pub.ad = ad
	h.Config.AuthenticationManagerInfo = m.infoCopy()
}

func (m *AuthenticationManager) infoCopy() *types.HostAuthenticationManagerInfo {
	var cp types.HostAuthenticationManagerInfo
	xmlCopy(&m.Info, &cp)
	return &cp
}

func (a *ActiveDirectoryAuthentication) set(ctx *simulator.Context, auth *AuthenticationManager, info *types.HostActiveDirectoryInfo) {
	a.Info = info
	publish(ctx, a, change("info", info))
	auth.Info.AuthConfig = []types.BaseHostAuthenticationStoreInfo{auth.Info.AuthConfig[0], info}
	publish(ctx, auth, change("info", auth.Info))
	publish(ctx, a.host, change("config.authenticationManagerInfo", *auth.infoCopy()))
	running := info.JoinedDomain != ""
	onObject(ctx, a.svc, func() {
		if svc := a.svc.find("lwsmd"); svc != nil && svc.Running != running {
			_ = a.svc.setRunning(ctx, "lwsmd", running)
		}
	})
}

func (a *ActiveDirectoryAuthentication) manager() *AuthenticationManager {
	ref := a.host.ConfigManager.AuthenticationManager
	if ref == nil {
		return nil
	}
	m, _ := simulator.Map.Get(*ref).(*AuthenticationManager)
	return m
}

func (a *ActiveDirectoryAuthentication) JoinDomainTask(ctx *simulator.Context, req *types.JoinDomain_Task) soap.HasFault {
	task := simulator.CreateTask(a.host, "joinDomain", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		info, _ := a.Info.(*types.HostActiveDirectoryInfo)
		switch {
		case info != nil && info.JoinedDomain != "":
			return nil, &types.InvalidState{}
		case !ntpServerName.MatchString(req.DomainName):
			return nil, &types.InvalidArgument{InvalidProperty: "domainName"}
		case req.UserName == "" || req.Password == "":
			return nil, &types.InvalidLogin{} // the account is never echoed
		}
		m := a.manager()
		if m == nil {
			return nil, &types.HostConfigFault{}
		}
		a.set(ctx, m, &types.HostActiveDirectoryInfo{HostDirectoryStoreInfo: types.HostDirectoryStoreInfo{
			HostAuthenticationStoreInfo: types.HostAuthenticationStoreInfo{Enabled: true}},
			JoinedDomain: req.DomainName, TrustedDomain: []string{req.DomainName}, DomainMembershipStatus: "ok",
			SmartCardAuthenticationEnabled: boolPtr(false)})
		return nil, nil
	})
	return &methods.JoinDomain_TaskBody{Res: &types.JoinDomain_TaskResponse{Returnval: task.Run()}}
}

func (a *ActiveDirectoryAuthentication) LeaveCurrentDomainTask(ctx *simulator.Context, req *types.LeaveCurrentDomain_Task) soap.HasFault {
	task := simulator.CreateTask(a.host, "leaveCurrentDomain", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		info, _ := a.Info.(*types.HostActiveDirectoryInfo)
		m := a.manager()
		if info == nil || info.JoinedDomain == "" || m == nil {
			return nil, &types.InvalidState{}
		}
		a.set(ctx, m, &types.HostActiveDirectoryInfo{SmartCardAuthenticationEnabled: boolPtr(false)})
		return nil, nil
	})
	return &methods.LeaveCurrentDomain_TaskBody{Res: &types.LeaveCurrentDomain_TaskResponse{Returnval: task.Run()}}
}
