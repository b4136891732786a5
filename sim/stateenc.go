package main

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// runtime.stateEncryption (HostRuntimeInfoStateEncryptionInfo, vSphere 7.0.3+) is missing from govmomi
// 0.24.2's HostRuntimeInfo, so the property collector cannot produce it. The launcher adds it to the
// collector's responses for HostSystem objects: inside every HostRuntimeInfo value (the "runtime" property,
// "summary.runtime", "summary"), and for the paths runtime.stateEncryption[.field], which the library
// reports as missing (InvalidProperty), it substitutes the value. A change made through esxcli
// (system settings encryption set) is published as "runtime.stateEncryption" (esxcli_ns.go), which a filter on
// that path receives as is and a filter on "runtime" as the re-read HostRuntimeInfo.

// capability.uefiSecureBoot (HostCapability, vSphere 7.0.2+) is missing from govmomi 0.24.2 as well and is
// added the same way: inside every HostCapability value ("capability") and for the path
// capability.uefiSecureBoot. It never changes at run time (firmware), so no change is published.

// hostExtras are the per-host values the launcher adds to collector responses.
type hostExtras struct {
	se         HostRuntimeInfoStateEncryptionInfo
	secureBoot bool
}

func (h *esxHost) extras() hostExtras {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hostExtras{se: h.stateEncryption(), secureBoot: h.secureBoot}
}

// HostRuntimeInfoStateEncryptionInfo is the vSphere type (the Go type name is the xsi:type on the wire).
type HostRuntimeInfoStateEncryptionInfo struct {
	ProtectionMode           string `xml:"protectionMode,omitempty"`
	RequireSecureBoot        *bool  `xml:"requireSecureBoot,omitempty"`
	RequireExecInstalledOnly *bool  `xml:"requireExecInstalledOnly,omitempty"`
}

func (e HostRuntimeInfoStateEncryptionInfo) inner() string {
	return fmt.Sprintf("<protectionMode>%s</protectionMode><requireSecureBoot>%t</requireSecureBoot>"+
		"<requireExecInstalledOnly>%t</requireExecInstalledOnly>", e.ProtectionMode, isTrue(e.RequireSecureBoot),
		isTrue(e.RequireExecInstalledOnly))
}

var collectorMethods = map[string]bool{"Fetch": true, "RetrieveProperties": true, "RetrievePropertiesEx": true,
	"ContinueRetrievePropertiesEx": true, "WaitForUpdates": true, "WaitForUpdatesEx": true, "CheckForUpdates": true}

// bufferedWriter holds a response until the launcher has rewritten it.
type bufferedWriter struct {
	w      http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.w.Header() }
func (b *bufferedWriter) WriteHeader(code int)        { b.status = code }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }

// responseFilter returns the writer the library should answer a property-collector call into, and the
// function that writes the rewritten response; other calls pass through.
func (s *Sim) responseFilter(w http.ResponseWriter, method *simulator.Method) (http.ResponseWriter, func()) {
	if s.cli == nil || !(collectorMethods[method.Name] || method.Name == "CreateFilter") {
		return w, func() {}
	}
	bw := &bufferedWriter{w: w, status: http.StatusOK}
	return bw, func() {
		var out []byte
		if method.Name == "CreateFilter" {
			out = bw.buf.Bytes()
			s.noteFilter(method, out)
		} else if method.Name == "Fetch" {
			out = s.fetchFTMode(bw, method, s.fetchStateEncryption(bw, method)) // ftenc.go
		} else {
			updates := strings.Contains(method.Name, "Updates")
			out = s.addFTMode(s.addStateEncryption(bw.buf.Bytes(), updates), updates)
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(bw.status)
		_, _ = w.Write(out)
	}
}

var (
	hostObjRe = regexp.MustCompile(`<obj type="HostSystem">([^<]+)</obj>`)
	// the library writes the type attribute as xmlns:XMLSchema-instance=… XMLSchema-instance:type="…"
	runtimeValRe  = regexp.MustCompile(`<val\b[^>]*:type="HostRuntimeInfo">`)
	summaryValRe  = regexp.MustCompile(`<val\b[^>]*:type="HostListSummary">`)
	runtimeElemRe = regexp.MustCompile(`<runtime>`)
	capabilityRe  = regexp.MustCompile(`<val\b[^>]*:type="HostCapability">`)
	missingSeRe   = regexp.MustCompile(`<missingSet><path>(runtime\.stateEncryption(?:\.[A-Za-z]+)?|capability\.uefiSecureBoot)</path>.*?</missingSet>`)
)

// addStateEncryption rewrites a property-collector response body (see the file comment).
func (s *Sim) addStateEncryption(body []byte, updates bool) []byte {
	if !bytes.Contains(body, []byte("HostRuntimeInfo")) && !bytes.Contains(body, []byte("HostListSummary")) &&
		!bytes.Contains(body, []byte("runtime.stateEncryption")) && !bytes.Contains(body, []byte("HostCapability")) &&
		!bytes.Contains(body, []byte("capability.uefiSecureBoot")) && !(updates && bytes.Contains(body, []byte("<kind>enter</kind>"))) {
		return body
	}
	filters := lazyFilters(body)
	return rewriteObjects(body, hostObjRe, func(o objectSegment) string {
		h := s.cli.byRef[o.moid]
		if h == nil {
			return o.text
		}
		se := h.extras()
		seg := rewriteSegment(o.text, se, updates)
		if updates && o.enter {
			if filter, ok := filters().before(o.start); ok {
				seg = s.enterChanges(filter, seg, o.objLen, se)
			}
		}
		return seg
	})
}

// objectSegment is one object of a property-collector answer: from its <obj type=…> element to where the next
// object of any type begins (or the end of the answer).
type objectSegment struct {
	start  int    // offset in the answer
	text   string // the segment
	objLen int    // length of its <obj> element
	moid   string
	enter  bool // an update of kind "enter" (the kind element precedes obj)
}

var enterKind = []byte("<kind>enter</kind>")

// rewriteObjects replaces the segment of every object re matches (re's first group is the moid) with what
// rewrite returns; everything else in body is kept as is.
func rewriteObjects(body []byte, re *regexp.Regexp, rewrite func(objectSegment) string) []byte {
	locs := re.FindAllSubmatchIndex(body, -1)
	if len(locs) == 0 {
		return body
	}
	var out bytes.Buffer
	last := 0
	for i, loc := range locs {
		end := len(body)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if j := bytes.Index(body[loc[1]:end], []byte("<obj ")); j >= 0 {
			end = loc[1] + j
		}
		out.Write(body[last:loc[0]])
		out.WriteString(rewrite(objectSegment{start: loc[0], text: string(body[loc[0]:end]), objLen: loc[1] - loc[0],
			moid: string(body[loc[2]:loc[3]]), enter: bytes.HasSuffix(body[:loc[0]], enterKind)}))
		last = end
	}
	out.Write(body[last:])
	return out.Bytes()
}

func rewriteSegment(seg string, x hostExtras, updates bool) string {
	se := x.se
	elem := "<stateEncryption>" + se.inner() + "</stateEncryption>"
	seg = insertBefore(seg, runtimeValRe, "</val>", elem)
	if summaryValRe.MatchString(seg) {
		seg = insertBefore(seg, runtimeElemRe, "</runtime>", elem)
	}
	seg = insertBefore(seg, capabilityRe, "</val>", fmt.Sprintf("<uefiSecureBoot>%t</uefiSecureBoot>", x.secureBoot))
	return missingSeRe.ReplaceAllStringFunc(seg, func(m string) string {
		path := missingSeRe.FindStringSubmatch(m)[1]
		var val string
		switch path {
		case "runtime.stateEncryption":
			val = `<val xsi:type="HostRuntimeInfoStateEncryptionInfo">` + se.inner() + "</val>"
		case "runtime.stateEncryption.protectionMode":
			val = `<val xsi:type="xsd:string">` + se.ProtectionMode + "</val>"
		case "runtime.stateEncryption.requireSecureBoot":
			val = fmt.Sprintf(`<val xsi:type="xsd:boolean">%t</val>`, isTrue(se.RequireSecureBoot))
		case "runtime.stateEncryption.requireExecInstalledOnly":
			val = fmt.Sprintf(`<val xsi:type="xsd:boolean">%t</val>`, isTrue(se.RequireExecInstalledOnly))
		case "capability.uefiSecureBoot":
			val = fmt.Sprintf(`<val xsi:type="xsd:boolean">%t</val>`, x.secureBoot)
		default:
			return m
		}
		if updates {
			return "<changeSet><name>" + path + "</name><op>assign</op>" + val + "</changeSet>"
		}
		return "<propSet><name>" + path + "</name>" + val + "</propSet>"
	})
}

// insertBefore inserts elem before the first close after every match of open in seg.
func insertBefore(seg string, open *regexp.Regexp, close, elem string) string {
	var b strings.Builder
	for {
		loc := open.FindStringIndex(seg)
		if loc == nil {
			break
		}
		i := loc[0]
		j := strings.Index(seg[i:], close)
		if j < 0 {
			break
		}
		b.WriteString(seg[:i+j] + elem + close)
		seg = seg[i+j+len(close):]
	}
	b.WriteString(seg)
	return b.String()
}

// fetchStateEncryption rewrites the answer to PropertyCollector.Fetch (pyVmomi's property access) of a host's
// runtime, summary, summary.runtime or runtime.stateEncryption[.field] (the library answers the last one
// with InvalidProperty; the value replaces that fault).
func (s *Sim) fetchStateEncryption(bw *bufferedWriter, method *simulator.Method) []byte {
	body := bw.buf.Bytes()
	propField := reflect.ValueOf(method.Body).Elem().FieldByName("Prop") // Fetch's _this is the object itself
	obj := method.This
	if !propField.IsValid() || obj.Type != "HostSystem" || s.cli.byRef[obj.Value] == nil {
		return body
	}
	x := s.cli.byRef[obj.Value].extras()
	elem := "<stateEncryption>" + x.se.inner() + "</stateEncryption>"
	prop := propField.String()
	switch {
	case prop == "runtime" || prop == "summary.runtime":
		if i := bytes.LastIndex(body, []byte("</returnval>")); i >= 0 {
			return append(append(append([]byte{}, body[:i]...), elem...), body[i:]...)
		}
	case prop == "summary":
		return []byte(insertBefore(string(body), runtimeElemRe, "</runtime>", elem))
	case prop == "capability":
		if i := bytes.LastIndex(body, []byte("</returnval>")); i >= 0 {
			sb := fmt.Sprintf("<uefiSecureBoot>%t</uefiSecureBoot>", x.secureBoot)
			return append(append(append([]byte{}, body[:i]...), sb...), body[i:]...)
		}
	case strings.HasPrefix(prop, "runtime.stateEncryption") || prop == "capability.uefiSecureBoot":
		seg := rewriteSegment("<missingSet><path>"+prop+"</path></missingSet>", x, false)
		if i := strings.Index(seg, "<val "); i >= 0 {
			val := strings.TrimSuffix(strings.TrimPrefix(seg[i:], "<val "), "</propSet>")
			bw.status = http.StatusOK
			return []byte(xml.Header + `<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" ` +
				`xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
				`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><FetchResponse xmlns="urn:vim25">` +
				"<returnval " + strings.TrimSuffix(val, "</val>") + "</returnval></FetchResponse></soapenv:Body></soapenv:Envelope>")
		}
	}
	return body
}

var (
	filterRefRe = regexp.MustCompile(`<returnval type="PropertyFilter">([^<]+)</returnval>`)
)

// noteFilter records a new filter's runtime.stateEncryption* paths on HostSystem: the library leaves
// missing properties out of a filter's first (enter) update, enterChanges adds them.
func (s *Sim) noteFilter(method *simulator.Method, resp []byte) {
	req, ok := method.Body.(*types.CreateFilter)
	m := filterRefRe.FindSubmatch(resp)
	if !ok || m == nil {
		return
	}
	s.noteFTFilter(req, string(m[1])) // ftenc.go
	var paths []string
	for _, ps := range req.Spec.PropSet {
		if ps.Type != "HostSystem" {
			continue
		}
		for _, p := range ps.PathSet {
			if strings.HasPrefix(p, "runtime.stateEncryption") || p == "capability.uefiSecureBoot" {
				paths = append(paths, p)
			}
		}
	}
	if len(paths) > 0 {
		s.cli.mu.Lock()
		s.cli.filters[string(m[1])] = paths
		s.cli.mu.Unlock()
	}
}

// filterIndex lists where each <filter type="PropertyFilter"> element of an answer starts and the filter it
// names, found in one pass: the filter an update belongs to is the last one before it. (Searching the answer
// again per object made the first-sync rewrite quadratic: that answer is ~150 MB at 2,500 hosts.)
type filterIndex struct {
	at   []int
	name []string
}

var filterMarkerRe = regexp.MustCompile(`<filter type="PropertyFilter">([^<]+)</filter>`)

func indexFilters(body []byte) filterIndex {
	var idx filterIndex
	for _, m := range filterMarkerRe.FindAllSubmatchIndex(body, -1) {
		idx.at = append(idx.at, m[0])
		idx.name = append(idx.name, string(body[m[2]:m[3]]))
	}
	return idx
}

// lazyFilters indexes body's filter markers on first use (an answer without a matching object needs none).
func lazyFilters(body []byte) func() filterIndex {
	var idx *filterIndex
	return func() filterIndex {
		if idx == nil {
			i := indexFilters(body)
			idx = &i
		}
		return *idx
	}
}

// before is the filter of the last marker before pos.
func (f filterIndex) before(pos int) (string, bool) {
	i := sort.SearchInts(f.at, pos) // first marker at or after pos
	if i == 0 {
		return "", false
	}
	return f.name[i-1], true
}

// enterChanges inserts, after the <obj> element (objLen bytes) of an enter update, the recorded paths of the
// filter whose filterSet the update belongs to (the last <filter> before it).
func (s *Sim) enterChanges(filter string, seg string, objLen int, se hostExtras) string {
	s.cli.mu.Lock()
	paths := s.cli.filters[filter]
	s.cli.mu.Unlock()
	var add strings.Builder
	for _, p := range paths {
		if !strings.Contains(seg, "<name>"+p+"</name>") {
			add.WriteString(rewriteSegment("<missingSet><path>"+p+"</path></missingSet>", se, true))
		}
	}
	return seg[:objLen] + add.String() + seg[objLen:]
}
