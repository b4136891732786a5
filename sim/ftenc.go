package main

// config.ftEncryptionMode (VirtualMachineConfigInfo and VirtualMachineConfigSpec, vSphere 7.0.2+: the
// encryption of Fault Tolerance logging traffic, a VirtualMachineConfigSpecEncryptedFtModes value) is missing
// from govmomi 0.24.2, whose decoder drops the element from a ReconfigVM_Task spec. The launcher keeps it per
// VM (default ftEncryptionOpportunistic, vSphere's default for a VM of hardware version 17+):
//   - ReconfigVM_Task: the element is taken out of the request before the library sees it. An unknown value
//     fails the task with InvalidArgument (spec.ftEncryptionMode) and nothing else of the spec is applied;
//     otherwise the rest of the spec goes its usual way and, once that task succeeded, the mode is set and
//     published as config.ftEncryptionMode, before the client gets the task.
//   - reads: added inside every VirtualMachineConfigInfo value of a property-collector answer (the "config"
//     property, Fetch of it) and for the path config.ftEncryptionMode (RetrievePropertiesEx, a filter's enter
//     update, Fetch), as stateenc.go does for hosts.

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

const ftDefault = "ftEncryptionOpportunistic"

var ftModes = map[string]bool{"ftEncryptionDisabled": true, "ftEncryptionOpportunistic": true, "ftEncryptionRequired": true}

type ftState struct {
	mu      sync.Mutex
	mode    map[string]string   // VM moid -> mode, when not the default
	filters map[string][]string // PropertyFilter moid -> its VirtualMachine paths config.ftEncryptionMode
}

func (f *ftState) get(moid string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.mode[moid]; ok {
		return m
	}
	return ftDefault
}

// ftRequest is a ReconfigVM_Task that carried ftEncryptionMode.
type ftRequest struct {
	vm   *simulator.VirtualMachine
	mode string
	buf  *bufferedWriter
}

var (
	ftSpecRe    = regexp.MustCompile(`<ftEncryptionMode>\s*([^<]*?)\s*</ftEncryptionMode>`)
	vmObjRe     = regexp.MustCompile(`<obj type="VirtualMachine">([^<]+)</obj>`)
	vmConfigRe  = regexp.MustCompile(`<val\b[^>]*:type="VirtualMachineConfigInfo">`)
	ftMissingRe = regexp.MustCompile(`<missingSet><path>config\.ftEncryptionMode</path>.*?</missingSet>`)
	taskRefRe   = regexp.MustCompile(`<returnval type="Task">([^<]+)</returnval>`)
)

// takeFTMode takes ftEncryptionMode out of a ReconfigVM_Task body. It answers the call itself (done true)
// when the value is unknown.
func (s *Sim) takeFTMode(w http.ResponseWriter, method *simulator.Method, body []byte) ([]byte, *ftRequest, bool) {
	m := ftSpecRe.FindSubmatch(body)
	if m == nil || s.ft == nil {
		return body, nil, false
	}
	vm, ok := simulator.Map.Get(method.This).(*simulator.VirtualMachine)
	if !ok {
		return body, nil, false
	}
	mode := string(m[1])
	if !ftModes[mode] {
		ref := taskFailure(vm, "reconfigVm", &types.InvalidArgument{InvalidProperty: "spec.ftEncryptionMode"},
			fmt.Sprintf("A specified parameter was not correct: spec.ftEncryptionMode %q", mode))
		writeTask(w, "ReconfigVM_Task", ref)
		return body, nil, true
	}
	return ftSpecRe.ReplaceAll(body, nil), &ftRequest{vm: vm, mode: mode}, false
}

// finishFT sets the mode when the reconfigure task succeeded, then lets the buffered answer through.
func (s *Sim) finishFT(req *ftRequest, out http.ResponseWriter) {
	if m := taskRefRe.FindSubmatch(req.buf.buf.Bytes()); m != nil {
		ref := types.ManagedObjectReference{Type: "Task", Value: string(m[1])}
		if task, ok := simulator.Map.Get(ref).(*simulator.Task); ok && task.Info.State == types.TaskInfoStateSuccess {
			s.ft.mu.Lock()
			changed := s.ft.mode[req.vm.Self.Value] != req.mode && !(req.mode == ftDefault && s.ft.mode[req.vm.Self.Value] == "")
			s.ft.mode[req.vm.Self.Value] = req.mode
			s.ft.mu.Unlock()
			if changed {
				publish(nil, req.vm, change("config.ftEncryptionMode", req.mode))
			}
		}
	}
	out.WriteHeader(req.buf.status)
	_, _ = out.Write(req.buf.buf.Bytes())
}

// addFTMode rewrites a property-collector answer for VirtualMachine objects (see the file comment).
func (s *Sim) addFTMode(body []byte, updates bool) []byte {
	if s.ft == nil || (!bytes.Contains(body, []byte("VirtualMachineConfigInfo")) &&
		!bytes.Contains(body, []byte("config.ftEncryptionMode")) && !(updates && bytes.Contains(body, []byte("<kind>enter</kind>")))) {
		return body
	}
	filters := lazyFilters(body) // stateenc.go
	return rewriteObjects(body, vmObjRe, func(o objectSegment) string { return s.rewriteVMSegment(o, filters, updates) })
}

func (s *Sim) rewriteVMSegment(o objectSegment, filters func() filterIndex, updates bool) string {
	mode := s.ft.get(o.moid)
	seg := vmConfigRe.ReplaceAllStringFunc(o.text, func(open string) string {
		return open + "<ftEncryptionMode>" + mode + "</ftEncryptionMode>"
	})
	seg = ftMissingRe.ReplaceAllString(seg, ftProp(mode, updates))
	if updates && s.ftFiltersKnown() && o.enter && !strings.Contains(seg, "<name>config.ftEncryptionMode</name>") {
		if filter, ok := filters().before(o.start); ok {
			s.ft.mu.Lock()
			wanted := len(s.ft.filters[filter]) > 0
			s.ft.mu.Unlock()
			if wanted {
				seg = seg[:o.objLen] + ftProp(mode, true) + seg[o.objLen:]
			}
		}
	}
	return seg
}

func (s *Sim) ftFiltersKnown() bool {
	s.ft.mu.Lock()
	defer s.ft.mu.Unlock()
	return len(s.ft.filters) > 0
}

func ftProp(mode string, updates bool) string {
	val := `<val xsi:type="xsd:string">` + mode + "</val>"
	if updates {
		return "<changeSet><name>config.ftEncryptionMode</name><op>assign</op>" + val + "</changeSet>"
	}
	return "<propSet><name>config.ftEncryptionMode</name>" + val + "</propSet>"
}

// noteFTFilter records a new filter that asks VirtualMachine for config.ftEncryptionMode (see enterChanges).
func (s *Sim) noteFTFilter(req *types.CreateFilter, filter string) {
	if s.ft == nil {
		return
	}
	for _, ps := range req.Spec.PropSet {
		if ps.Type != "VirtualMachine" {
			continue
		}
		for _, p := range ps.PathSet {
			if p == "config.ftEncryptionMode" {
				s.ft.mu.Lock()
				s.ft.filters[filter] = []string{p}
				s.ft.mu.Unlock()
				return
			}
		}
	}
}

// fetchFTMode rewrites the answer to Fetch (pyVmomi's property access) of a VM's config or
// config.ftEncryptionMode.
func (s *Sim) fetchFTMode(bw *bufferedWriter, method *simulator.Method, body []byte) []byte {
	propField := reflect.ValueOf(method.Body).Elem().FieldByName("Prop")
	if s.ft == nil || !propField.IsValid() || method.This.Type != "VirtualMachine" {
		return body
	}
	mode := s.ft.get(method.This.Value)
	switch propField.String() {
	case "config":
		open := regexp.MustCompile(`<returnval\b[^>]*>`)
		if loc := open.FindIndex(body); loc != nil {
			return append(append(append([]byte{}, body[:loc[1]]...), "<ftEncryptionMode>"+mode+"</ftEncryptionMode>"...), body[loc[1]:]...)
		}
	case "config.ftEncryptionMode":
		bw.status = http.StatusOK
		return []byte(xml.Header + `<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" ` +
			`xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
			`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><FetchResponse xmlns="urn:vim25">` +
			`<returnval xsi:type="xsd:string">` + mode + "</returnval></FetchResponse></soapenv:Body></soapenv:Envelope>")
	}
	return body
}
