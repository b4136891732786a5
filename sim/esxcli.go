package main

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// esxcli over the vSphere API (docs/simulator.md "esxcli"; wire facts in the project's esxcli reference):
// HostSystem.RetrieveManagedMethodExecuter / RetrieveDynamicTypeManager return per-host objects; the
// executer's ExecuteSoap(moid "ha-cli-handler-<ns>", version, method "vim.EsxCLI.<ns>.<cmd>", argument[])
// runs one command against that host's state (esxcli_ns.go) and answers a SoapResult whose response is the
// command's result serialized as XML text, or whose fault is a VimEsxCLICLIFault.

// ---------------------------------------------------------------------------------------------
// Wire types (the library's own are in govmomi/internal, which cannot be imported)

type soapArgument struct {
	Name string `xml:"name"`
	Val  string `xml:"val"`
}

type soapFaultInfo struct {
	FaultMsg    string `xml:"faultMsg"`
	FaultDetail string `xml:"faultDetail,omitempty"`
}

type soapResult struct {
	Response string         `xml:"response,omitempty"`
	Fault    *soapFaultInfo `xml:"fault,omitempty"`
}

type thisRequest struct {
	This types.ManagedObjectReference `xml:"_this"`
}

type executeSoapRequest struct {
	This     types.ManagedObjectReference `xml:"_this"`
	Moid     string                       `xml:"moid"`
	Version  string                       `xml:"version"`
	Method   string                       `xml:"method"`
	Argument []soapArgument               `xml:"argument,omitempty"`
}

type dtmFilterSpec struct {
	Id         string `xml:"id,omitempty"`
	TypeSubstr string `xml:"typeSubstr,omitempty"`
}

type dtmQueryRequest struct {
	This       types.ManagedObjectReference `xml:"_this"`
	FilterSpec *dtmFilterSpec               `xml:"filterSpec,omitempty"`
}

type dtmMoInstance struct {
	XMLName xml.Name `xml:"returnval"`
	Type    string   `xml:"xsi:type,attr"`
	Id      string   `xml:"id"`
	MoType  string   `xml:"moType"`
}

func init() {
	// Last writer wins: these replace govmomi/internal's registrations (which lack most of them).
	types.Add("RetrieveManagedMethodExecuter", reflect.TypeOf((*thisRequest)(nil)).Elem())
	types.Add("RetrieveDynamicTypeManager", reflect.TypeOf((*thisRequest)(nil)).Elem())
	types.Add("ExecuteSoap", reflect.TypeOf((*executeSoapRequest)(nil)).Elem())
	types.Add("DynamicTypeMgrQueryMoInstances", reflect.TypeOf((*dtmQueryRequest)(nil)).Elem())
	types.Add("DynamicTypeMgrQueryTypeInfo", reflect.TypeOf((*dtmQueryRequest)(nil)).Elem())
}

// Responses: the library names the response element after the Go type of the body's Res field.

type RetrieveManagedMethodExecuterResponse struct {
	Returnval types.ManagedObjectReference `xml:"returnval"`
}

type RetrieveDynamicTypeManagerResponse struct {
	Returnval types.ManagedObjectReference `xml:"returnval"`
}

type ExecuteSoapResponse struct {
	Returnval *soapResult `xml:"returnval,omitempty"`
}

type DynamicTypeMgrQueryMoInstancesResponse struct {
	Returnval []dtmMoInstance
}

type DynamicTypeMgrQueryTypeInfoResponse struct {
	Returnval *dtmAllTypeInfo
}

type mmeBody struct {
	Res    *RetrieveManagedMethodExecuterResponse
	Fault_ *soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

type dtmBody struct {
	Res    *RetrieveDynamicTypeManagerResponse
	Fault_ *soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

type executeSoapBody struct {
	Res    *ExecuteSoapResponse
	Fault_ *soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

type moInstancesBody struct {
	Res    *DynamicTypeMgrQueryMoInstancesResponse
	Fault_ *soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

type typeInfoBody struct {
	Res    *DynamicTypeMgrQueryTypeInfoResponse
	Fault_ *soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

func (b *mmeBody) Fault() *soap.Fault         { return b.Fault_ }
func (b *dtmBody) Fault() *soap.Fault         { return b.Fault_ }
func (b *executeSoapBody) Fault() *soap.Fault { return b.Fault_ }
func (b *moInstancesBody) Fault() *soap.Fault { return b.Fault_ }
func (b *typeInfoBody) Fault() *soap.Fault    { return b.Fault_ }

// ---------------------------------------------------------------------------------------------
// Per-host objects

// methodExecuter is the host's vmodl.reflect.ManagedMethodExecuter. Its first field is an mo type: the
// library's SearchIndex and property collector panic on registry objects without one.
type methodExecuter struct {
	mo.ExtensibleManagedObject
	sim *Sim
	h   *esxHost
}

// dynamicTypeManager is the host's vmodl.reflect.DynamicTypeManager (discovery: moids and type info).
type dynamicTypeManager struct {
	mo.ExtensibleManagedObject
	h *esxHost
}

const (
	mmeType     = "ReflectManagedMethodExecuter"
	dtmType     = "InternalDynamicTypeManager"
	cliInfoMoid = "ha-dynamic-type-manager-local-cli-cliinfo"
)

// esxcliRefs returns the executer and type-manager morefs of a host: vCenter names them after the host's
// moid number (ManagedMethodExecuter-21 for host-21), ESXi uses fixed ha-* names.
func esxcliRefs(host types.ManagedObjectReference, esx bool) (mme, dtm types.ManagedObjectReference) {
	if esx {
		return types.ManagedObjectReference{Type: mmeType, Value: "ha-managed-method-executer"},
			types.ManagedObjectReference{Type: dtmType, Value: "ha-dynamic-type-manager"}
	}
	id := strings.TrimPrefix(host.Value, "host-")
	return types.ManagedObjectReference{Type: mmeType, Value: "ManagedMethodExecuter-" + id},
		types.ManagedObjectReference{Type: dtmType, Value: "DynamicTypeManager-" + id}
}

// esxcliState is the launcher's esxcli state: per host, by host name and by host moref value.
type esxcliState struct {
	byName map[string]*esxHost
	byRef  map[string]*esxHost

	mu      sync.Mutex
	filters map[string][]string // PropertyFilter moref value -> its runtime.stateEncryption* paths (stateenc.go)
}

func (s *Sim) installEsxcli() {
	noTPM, noSB, noTXT := hostSet(s.cfg.noTPM), hostSet(s.cfg.noSecureBoot), hostSet(s.cfg.noTXT)
	s.cli = &esxcliState{byName: map[string]*esxHost{}, byRef: map[string]*esxHost{}, filters: map[string][]string{}}
	for _, name := range sortedHostNames(s.hosts) {
		x := s.hosts[name]
		moid := x.host.Self.Value
		h := newEsxHost(x, !s.cfg.esx, !noTPM(name, moid))
		h.secureBoot, h.txt = !noSB(name, moid), !noTXT(name, moid)
		setHardwareCapability(x.host, h)
		h.mme, h.dtm = esxcliRefs(x.host.Self, s.cfg.esx)
		mme := &methodExecuter{sim: s, h: h}
		mme.Self = h.mme
		simulator.Map.Put(mme)
		dtm := &dynamicTypeManager{h: h}
		dtm.Self = h.dtm
		simulator.Map.Put(dtm)
		s.cli.byName[name] = h
		s.cli.byRef[x.host.Self.Value] = h
	}
	// HostSystem must not be wrapped: its new methods are served by the existing host proxy (proxy.go).
	s.override("HostSystem", s.proxies["HostSystem"], "RetrieveManagedMethodExecuter", "RetrieveDynamicTypeManager")
}

// hostSet parses a -no-tpm style list (names or moids, comma-separated, or all) into a membership test.
func hostSet(list string) func(name, moid string) bool {
	set := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			set[n] = true
		}
	}
	return func(name, moid string) bool { return set["all"] || set[name] || set[moid] }
}

// setHardwareCapability fills the firmware facts of host.capability (HostCapability): tpmSupported and
// tpmVersion ("2.0", or unset without a TPM) and txtEnabled. uefiSecureBoot (vSphere 7.0.2+) is missing
// from govmomi 0.24's HostCapability: the launcher adds it to collector responses (stateenc.go).
func setHardwareCapability(host *simulator.HostSystem, h *esxHost) {
	if host.Capability == nil {
		host.Capability = &types.HostCapability{}
	}
	host.Capability.TpmSupported = boolPtr(h.hasTPM)
	host.Capability.TpmVersion = ""
	if h.hasTPM {
		host.Capability.TpmVersion = "2.0"
	}
	host.Capability.TxtEnabled = boolPtr(h.txt)
}

func sortedHostNames(m map[string]*hostExt) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// indexEsxcliOwners lets -fail Method@host scope the executer and type manager to their host.
func (s *Sim) indexEsxcliOwners() {
	if s.cli == nil {
		return
	}
	for name, h := range s.cli.byName {
		s.owners[h.mme] = name
		s.owners[h.dtm] = name
	}
}

func (p *hostProxy) cliHost(this types.ManagedObjectReference) (*esxHost, *soap.Fault) {
	ref := realRef(this)
	h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
	if !ok || p.sim.cli == nil || p.sim.cli.byRef[h.Self.Value] == nil {
		return nil, fault("", &types.ManagedObjectNotFound{Obj: ref})
	}
	return p.sim.cli.byRef[h.Self.Value], nil
}

func (p *hostProxy) RetrieveManagedMethodExecuter(ctx *simulator.Context, req *thisRequest) soap.HasFault {
	h, f := p.cliHost(req.This)
	if f != nil {
		return &mmeBody{Fault_: f}
	}
	return &mmeBody{Res: &RetrieveManagedMethodExecuterResponse{Returnval: h.mme}}
}

func (p *hostProxy) RetrieveDynamicTypeManager(ctx *simulator.Context, req *thisRequest) soap.HasFault {
	h, f := p.cliHost(req.This)
	if f != nil {
		return &dtmBody{Fault_: f}
	}
	return &dtmBody{Res: &RetrieveDynamicTypeManagerResponse{Returnval: h.dtm}}
}

// ---------------------------------------------------------------------------------------------
// Discovery

func (m *dynamicTypeManager) DynamicTypeMgrQueryMoInstances(ctx *simulator.Context, req *dtmQueryRequest) soap.HasFault {
	var out []dtmMoInstance
	add := func(id, kind string) {
		if f := req.FilterSpec; f != nil && (f.Id != "" && f.Id != id || !strings.Contains(kind, f.TypeSubstr)) {
			return
		}
		out = append(out, dtmMoInstance{Type: "DynamicTypeMgrMoInstance", Id: id, MoType: kind})
	}
	add(cliInfoMoid, "vim.CLIInfo")
	for _, ns := range cliNamespaces {
		add(ns.moid(), ns.typeName())
	}
	return &moInstancesBody{Res: &DynamicTypeMgrQueryMoInstancesResponse{Returnval: out}}
}

func (m *dynamicTypeManager) DynamicTypeMgrQueryTypeInfo(ctx *simulator.Context, req *dtmQueryRequest) soap.HasFault {
	sub := ""
	if req.FilterSpec != nil {
		sub = req.FilterSpec.TypeSubstr
	}
	return &typeInfoBody{Res: &DynamicTypeMgrQueryTypeInfoResponse{Returnval: typeInfo(sub)}}
}

// ---------------------------------------------------------------------------------------------
// ExecuteSoap

// cliFault is a command-level error: a VimEsxCLICLIFault inside the SoapResult (HTTP 200).
type cliFault struct {
	errMsg []string
}

func cliErr(format string, a ...interface{}) *cliFault {
	return &cliFault{errMsg: []string{fmt.Sprintf(format, a...)}}
}

func (m *methodExecuter) ExecuteSoap(ctx *simulator.Context, req *executeSoapRequest) soap.HasFault {
	s := m.sim
	if !strings.HasPrefix(req.Version, "urn:vim25/") || len(req.Version) == len("urn:vim25/") {
		return &executeSoapBody{Fault_: invalidArgument("version", "version")}
	}
	versionID := strings.TrimPrefix(req.Version, "urn:vim25/")

	var ns *cliNamespace
	var cmd *cliCommand
	if req.Moid == cliInfoMoid {
		if req.Method != "vim.CLIInfo.FetchCLIInfo" {
			return &executeSoapBody{Fault_: invalidArgument("method", "method")}
		}
		cmd = fetchCLIInfoCommand
	} else {
		ns = namespaceByMoid[req.Moid]
		if ns == nil {
			return &executeSoapBody{Fault_: invalidArgument("moid", "moid")}
		}
		prefix := "vim.EsxCLI." + ns.name + "."
		if strings.HasPrefix(req.Method, prefix) {
			cmd = ns.command(strings.TrimPrefix(req.Method, prefix))
		}
		if cmd == nil {
			return &executeSoapBody{Fault_: invalidArgument("method", "method")}
		}
	}

	// -fail and -method-delay also match the esxcli method name (vim.EsxCLI.<ns>.<cmd>).
	if rule := s.pickFail(req.Method, m.Self.Value, func() string { return m.h.name() }); rule != nil {
		flt, _ := makeFault(rule.fault, "ExecuteSoap")
		name := reflect.TypeOf(flt).Elem().Name()
		return &executeSoapBody{Fault_: fault(faultMessages[name], flt)}
	}
	if ms := s.methodDelay[req.Method]; ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}

	if s.cfg.restricted && cmd != fetchCLIInfoCommand && cmd.name != "get" && cmd.name != "list" {
		return &executeSoapBody{Fault_: fault("Current license or ESXi version prohibits execution of the requested operation.",
			&types.RestrictedVersion{})}
	}
	args, flt := bindArguments(cmd.params, req.Argument)
	if flt != nil {
		return &executeSoapBody{Fault_: flt}
	}
	call := &cliCall{ctx: ctx, sim: s, h: m.h, args: args, method: req.Method}
	m.h.mu.Lock()
	res, cf := cmd.run(call)
	m.h.mu.Unlock()
	out := &soapResult{}
	if cf != nil {
		out.Fault = &soapFaultInfo{FaultMsg: "EsxCLI.CLIFault.summary", FaultDetail: cliFaultDetail(versionID, cf)}
	} else {
		out.Response = res.encode(versionID)
	}
	return &executeSoapBody{Res: &ExecuteSoapResponse{Returnval: out}}
}

// bindArguments matches the arguments to the declared parameters in order (alphabetical, as in every dump):
// a required parameter whose argument is not next is InvalidArgument(argument), an unknown name too, a known
// optional one out of order is dropped (as the server does), a value that is not <name>text</name>… or not
// of the parameter's type is InvalidArgument(argument).
func bindArguments(params []cliParam, in []soapArgument) (map[string][]string, *soap.Fault) {
	args := map[string][]string{}
	i := 0
	for _, p := range params {
		if i < len(in) && in[i].Name == p.name {
			vals, ok := argumentValues(p.name, in[i].Val)
			if !ok || (!strings.HasSuffix(p.kind, "[]") && len(vals) != 1) {
				return nil, invalidArgument("argument", "argument")
			}
			for _, v := range vals {
				if !validScalar(strings.TrimSuffix(p.kind, "[]"), v) {
					return nil, invalidArgument("argument", "argument")
				}
			}
			args[p.name] = vals
			i++
			continue
		}
		if p.required {
			return nil, invalidArgument("argument", "argument")
		}
	}
	for ; i < len(in); i++ {
		known := false
		for _, p := range params {
			known = known || p.name == in[i].Name
		}
		if !known {
			return nil, invalidArgument("argument", "argument")
		}
	}
	return args, nil
}

// argumentValues parses a SoapArgument val: one or more <name>text</name> elements.
func argumentValues(name, val string) ([]string, bool) {
	dec := xml.NewDecoder(strings.NewReader("<v xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" " +
		"xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">" + val + "</v>"))
	var out []string
	depth := 0
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return out, len(out) > 0 && depth == 0 && err.Error() == "EOF"
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				if t.Name.Local != name {
					return nil, false
				}
				text.Reset()
			} else if depth > 2 {
				return nil, false
			}
		case xml.CharData:
			if depth == 2 {
				text.Write(t)
			} else if depth == 1 && strings.TrimSpace(string(t)) != "" {
				return nil, false
			}
		case xml.EndElement:
			if depth == 2 {
				out = append(out, text.String())
			}
			depth--
		}
	}
}

func validScalar(kind, v string) bool {
	switch kind {
	case "boolean":
		_, ok := parseBool(v)
		return ok
	case "long":
		_, err := parseLong(v)
		return err == nil
	}
	return true
}

// parseBool accepts true/false (govc, pyVmomi) and 1/0 (rbvmomi).
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func parseLong(v string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(strings.TrimSpace(v), &n)
	return n, err
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

const objNS = `xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="urn:vim25"`

func objOpen(versionID, kind string) string {
	return fmt.Sprintf(`<obj %s versionId="%s" xsi:type="%s">`, objNS, xmlText(versionID), kind)
}

func cliFaultDetail(versionID string, f *cliFault) string {
	var b strings.Builder
	b.WriteString(objOpen(versionID, "LocalizedMethodFault"))
	b.WriteString(`<fault xsi:type="VimEsxCLICLIFault">`)
	for _, m := range f.errMsg {
		b.WriteString("<errMsg>" + xmlText(m) + "</errMsg>")
	}
	b.WriteString("</fault><localizedMessage>EsxCLI.CLIFault.summary</localizedMessage></obj>")
	return b.String()
}

// ---------------------------------------------------------------------------------------------
// Results

// cliField is one element of a result structure; list fields repeat the element.
type cliField struct {
	name string
	vals []string
}

type cliStruct struct {
	kind   string // the data type's wsdl name, e.g. VimEsxCLInetworkfirewallgetFirewall
	fields []cliField
}

// cliResultValue is a scalar (xsd:boolean, xsd:string, xsd:long), one structure (get) or rows (list).
type cliResultValue struct {
	scalarType string
	scalar     string
	one        *cliStruct
	rows       []cliStruct
	raw        string // pre-encoded inner XML of a structure (CLIInfo)
}

func boolResult(v bool) *cliResultValue {
	return &cliResultValue{scalarType: "xsd:boolean", scalar: fmt.Sprint(v)}
}

func (r *cliResultValue) encode(versionID string) string {
	var b strings.Builder
	switch {
	case r.scalarType != "":
		b.WriteString(objOpen(versionID, r.scalarType) + xmlText(r.scalar) + "</obj>")
	case r.one != nil:
		b.WriteString(objOpen(versionID, r.one.kind))
		if r.raw != "" {
			b.WriteString(r.raw)
		}
		writeFields(&b, r.one.fields)
		b.WriteString("</obj>")
	default:
		b.WriteString(objOpen(versionID, "ArrayOfDataObject"))
		for _, row := range r.rows {
			b.WriteString(`<DataObject xsi:type="` + row.kind + `">`)
			writeFields(&b, row.fields)
			b.WriteString("</DataObject>")
		}
		b.WriteString("</obj>")
	}
	return b.String()
}

func writeFields(b *strings.Builder, fields []cliField) {
	for _, f := range fields {
		for _, v := range f.vals {
			b.WriteString("<" + f.name + ">" + xmlText(v) + "</" + f.name + ">")
		}
	}
}
