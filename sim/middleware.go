package main

import (
	"bytes"
	"fmt"
	"io/ioutil"
	"math/rand"
	"net/http"
	"os"
	"reflect"
	"runtime/debug"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// Sim holds the launcher's state: configuration, fault rules, known sessions and method overrides.
type Sim struct {
	cfg   *config
	rules []*failRule

	mu       sync.Mutex
	sessions map[string]bool
	owners   map[types.ManagedObjectReference]string // moref -> object name used by -fail Method@name

	// overrides: managed object type -> method names served by a proxy object (type "Vsr"+type)
	overrides map[string]map[string]bool
	proxies   map[string]func(ref types.ManagedObjectReference) mo.Reference

	hosts map[string]*hostExt
	kms   *CryptoManagerKmip

	rnd   *rand.Rand
	rndMu sync.Mutex
}

// override registers a proxy factory for methods of a managed object type that the library implements
// on objects that must not be wrapped (other library code type-asserts them).
func (s *Sim) override(kind string, factory func(ref types.ManagedObjectReference) mo.Reference, methods ...string) {
	if s.overrides == nil {
		s.overrides = map[string]map[string]bool{}
		s.proxies = map[string]func(types.ManagedObjectReference) mo.Reference{}
	}
	if s.overrides[kind] == nil {
		s.overrides[kind] = map[string]bool{}
	}
	for _, m := range methods {
		s.overrides[kind][m] = true
	}
	s.proxies[kind] = factory
}

const proxyPrefix = "Vsr"

// indexOwners records, for every host-level manager object, the name of its host, and for every entity
// its name; used to scope fault injection to one object.
func (s *Sim) indexOwners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owners = map[types.ManagedObjectReference]string{}
	for _, e := range simulator.Map.All("") {
		s.owners[e.Reference()] = e.Entity().Name
	}
	for _, h := range hostsSorted() {
		cm := h.ConfigManager
		for _, ref := range []*types.ManagedObjectReference{cm.AdvancedOption, cm.FirewallSystem, cm.NetworkSystem,
			cm.ServiceSystem, cm.HostAccessManager, cm.DatastoreSystem, cm.StorageSystem, cm.DateTimeSystem} {
			if ref != nil {
				s.owners[*ref] = h.Name
			}
		}
	}
}

func (s *Sim) ownerName(ref types.ManagedObjectReference) string {
	s.mu.Lock()
	name, ok := s.owners[ref]
	s.mu.Unlock()
	if ok {
		return name
	}
	if e, ok := simulator.Map.Get(ref).(mo.Entity); ok {
		return e.Entity().Name
	}
	return ""
}

// recorder observes the status and headers written by the library to track sessions.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.wrote = true
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

var thisType = regexp.MustCompile(`(<(?:[A-Za-z0-9_]+:)?_this\b[^>]*\btype=")([A-Za-z]+)(")`)

func (s *Sim) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == vim25.Path+"/vimServiceVersions.xml" {
			s.serviceVersions(w)
			return
		}
		if r.Method != http.MethodPost || (r.URL.Path != vim25.Path && r.URL.Path != vim25.Path+"/vimService") {
			next.ServeHTTP(w, r)
			return
		}
		body, err := ioutil.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
		if err != nil {
			r.Body = ioutil.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}

		cookie := ""
		if c, err := r.Cookie(soap.SessionCookieName); err == nil {
			cookie = c.Value
		}
		authed := cookie != "" && s.sessionKnown(cookie)

		if authed && s.cfg.restricted && !readOnlyMethod(method.Name) {
			writeFault(w, "Current license or ESXi version prohibits execution of the requested operation.",
				&types.RestrictedVersion{})
			return
		}
		if authed {
			if rule := s.matchFail(method); rule != nil && simulator.Map.Get(method.This) != nil {
				s.injectFault(w, method, rule)
				return
			}
		}

		if method.Name == "Fetch" && !s.cfg.plain && method.This.Type == "ServiceInstance" {
			// The library's Fetch of ServiceInstance.content drops cryptoManager (and others) for ovftool;
			// serve the full content as RetrieveServiceContent does.
			if si, ok := simulator.Map.Get(vimServiceInstance()).(*simulator.ServiceInstance); ok &&
				bytes.Contains(body, []byte(">content<")) {
				writeEnvelope(w, http.StatusOK, &fetchResponse{XMLName: xml.Name{Local: "FetchResponse"},
					Xmlns: "urn:" + vim25.Namespace, Returnval: si.Content})
				return
			}
		}
		// only a live session reaches a proxy; otherwise the library answers NotAuthenticated about the real
		// object (a fault naming the proxy's internal type would be unreadable to clients)
		if s.overrides != nil && authed {
			if ms, ok := s.overrides[method.This.Type]; ok && ms[method.Name] {
				s.ensureProxy(method.This)
				loc := thisType.FindSubmatchIndex(body)
				if loc != nil && string(body[loc[4]:loc[5]]) == method.This.Type {
					var nb bytes.Buffer
					nb.Write(body[:loc[4]])
					nb.WriteString(proxyPrefix + method.This.Type)
					nb.Write(body[loc[5]:])
					body = nb.Bytes()
				}
			}
		}

		r.Body = ioutil.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			// A bug must not look like a network failure: log it and answer SystemError.
			if p := recover(); p != nil {
				fmt.Fprintf(os.Stderr, "vsr-sim: panic in %s on %s: %v\n%s", method.Name, method.This, p, debug.Stack())
				if !rec.wrote {
					writeFault(w, fmt.Sprintf("A general system error occurred: %v", p),
						&types.SystemError{Reason: fmt.Sprint(p)})
				}
			}
		}()
		switch method.Name {
		case "Login", "LoginByToken", "LoginExtensionByCertificate", "LoginExtensionBySubjectName", "CloneSession":
			// Record the session cookie the library sets on a successful login.
			next.ServeHTTP(&loginWatcher{recorder: rec, sim: s}, r)
		case "Logout":
			next.ServeHTTP(rec, r)
			if rec.status == http.StatusOK {
				s.forgetSession(cookie)
			}
		case "TerminateSession":
			next.ServeHTTP(rec, r)
			if req, ok := method.Body.(*types.TerminateSession); ok && rec.status == http.StatusOK {
				for _, id := range req.SessionId {
					s.forgetSession(id)
				}
			}
		default:
			next.ServeHTTP(rec, r)
		}
	})
}

type loginWatcher struct {
	*recorder
	sim *Sim
}

func (l *loginWatcher) WriteHeader(code int) {
	if code == http.StatusOK {
		for _, c := range (&http.Response{Header: l.Header()}).Cookies() {
			if c.Name == soap.SessionCookieName {
				l.sim.rememberSession(c.Value)
			}
		}
	}
	l.recorder.WriteHeader(code)
}

func (s *Sim) sessionKnown(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *Sim) rememberSession(id string) {
	s.mu.Lock()
	if s.sessions == nil {
		s.sessions = map[string]bool{}
	}
	s.sessions[id] = true
	s.mu.Unlock()
}

func (s *Sim) forgetSession(id string) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

func (s *Sim) ensureProxy(ref types.ManagedObjectReference) {
	pref := types.ManagedObjectReference{Type: proxyPrefix + ref.Type, Value: ref.Value}
	if simulator.Map.Get(pref) != nil || simulator.Map.Get(ref) == nil {
		return
	}
	p := s.proxies[ref.Type](pref)
	simulator.Map.Put(p)
}

// serviceVersions serves /sdk/vimServiceVersions.xml with the configured API version and its predecessors,
// so that pyvmomi negotiates the configured version.
func (s *Sim) serviceVersions(w http.ResponseWriter) {
	all := []string{"8.0.3.0", "8.0.2.0", "8.0.1.0", "8.0.0.2", "8.0.0.1", "8.0.0.0", "7.0.3.2", "7.0.3.1",
		"7.0.3.0", "7.0.2.1", "7.0.2.0", "7.0.1.1", "7.0.1.0", "7.0.0.2", "7.0.0.1", "7.0.0.0",
		"6.9.1", "6.8.7", "6.7.3", "6.7.2", "6.7.1", "6.7", "6.5", "6.0", "5.5", "5.1", "5.0", "4.1", "4.0"}
	cur := s.cfg.apiVersion
	var prior []string
	seen := false
	for _, v := range all {
		if v == cur {
			seen = true
			continue
		}
		if seen || versionLess(v, cur) {
			prior = append(prior, v)
		}
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<namespaces version=\"1.0\">\n <namespace>\n  <name>urn:vim25</name>\n")
	fmt.Fprintf(&b, "  <version>%s</version>\n  <priorVersions>\n", cur)
	for _, v := range prior {
		fmt.Fprintf(&b, "   <version>%s</version>\n", v)
	}
	b.WriteString("  </priorVersions>\n </namespace>\n</namespaces>\n")
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(b.String()))
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// readOnlyMethod reports whether free-ESXi licensing allows the method (reads, sessions, views, collectors).
func readOnlyMethod(name string) bool {
	for _, p := range []string{"Retrieve", "ContinueRetrieve", "Query", "Find", "Login", "Logout", "Cancel",
		"WaitForUpdates", "CheckForUpdates", "ReadNext", "ReadPrev", "Rewind", "Reset", "Destroy"} {
		if strings.HasPrefix(name, p) {
			// Destroy_Task removes inventory; only collectors/views/filters are free to destroy.
			if p == "Destroy" && !(name == "DestroyPropertyFilter" || name == "DestroyPropertyCollector" ||
				name == "DestroyView" || name == "DestroyCollector") {
				return false
			}
			if p == "Reset" && name != "ResetCollector" {
				return false
			}
			return true
		}
	}
	switch name {
	case "SessionIsActive", "CurrentTime", "CreateFilter", "CreatePropertyCollector", "CreateContainerView",
		"CreateListView", "CreateListViewFromView", "CreateInventoryView", "CreateCollectorForEvents",
		"CreateCollectorForTasks", "AcquireCloneTicket", "CloneSession", "SetLocale", "Fetch",
		"PbmRetrieveServiceContent", "HasPrivilegeOnEntity", "HasPrivilegeOnEntities", "HasUserPrivilegeOnEntities",
		"FetchUserPrivilegeOnEntities", "ValidateMigration", "DecodeLicense":
		return true
	}
	return false
}

// --- SOAP fault encoding (a copy of the library's private envelope types) ---

type soapEnvelope struct {
	XMLName xml.Name    `xml:"soapenv:Envelope"`
	Enc     string      `xml:"xmlns:soapenc,attr"`
	Env     string      `xml:"xmlns:soapenv,attr"`
	XSD     string      `xml:"xmlns:xsd,attr"`
	XSI     string      `xml:"xmlns:xsi,attr"`
	Body    interface{} `xml:"soapenv:Body"`
}

type faultDetail struct {
	Fault types.AnyType
}

type soapFault struct {
	XMLName xml.Name `xml:"soapenv:Fault"`
	Code    string   `xml:"faultcode"`
	String  string   `xml:"faultstring"`
	Detail  struct {
		Fault *faultDetail
	} `xml:"detail"`
}

func (d *faultDetail) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	kind := reflect.TypeOf(d.Fault).Elem().Name()
	start.Name.Local = kind + "Fault"
	start.Attr = append(start.Attr,
		xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: "urn:" + vim25.Namespace},
		xml.Attr{Name: xml.Name{Local: "xsi:type"}, Value: kind})
	return e.EncodeElement(d.Fault, start)
}

func writeEnvelope(w http.ResponseWriter, status int, body interface{}) {
	var out bytes.Buffer
	out.WriteString(xml.Header)
	e := xml.NewEncoder(&out)
	_ = e.Encode(&soapEnvelope{
		Enc:  "http://schemas.xmlsoap.org/soap/encoding/",
		Env:  "http://schemas.xmlsoap.org/soap/envelope/",
		XSD:  "http://www.w3.org/2001/XMLSchema",
		XSI:  "http://www.w3.org/2001/XMLSchema-instance",
		Body: body,
	})
	_ = e.Flush()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(out.Bytes())
}

func writeFault(w http.ResponseWriter, msg string, fault types.BaseMethodFault) {
	f := &soapFault{Code: "ServerFaultCode", String: msg}
	f.Detail.Fault = &faultDetail{fault}
	writeEnvelope(w, http.StatusInternalServerError, struct{ Fault *soapFault }{f})
}

// taskResponse is <MethodResponse xmlns="urn:vim25"><returnval type="Task">task-N</returnval></MethodResponse>.
type taskResponse struct {
	XMLName   xml.Name
	Xmlns     string                       `xml:"xmlns,attr"`
	Returnval types.ManagedObjectReference `xml:"returnval"`
}

type fetchResponse struct {
	XMLName   xml.Name
	Xmlns     string        `xml:"xmlns,attr"`
	Returnval types.AnyType `xml:"returnval,typeattr"`
}

func writeTask(w http.ResponseWriter, method string, task types.ManagedObjectReference) {
	writeEnvelope(w, http.StatusOK, &taskResponse{
		XMLName:   xml.Name{Local: method + "Response"},
		Xmlns:     "urn:" + vim25.Namespace,
		Returnval: task,
	})
}

// --- fault injection ---

type failRule struct {
	method string
	object string  // optional: object or owning host name, or moref value
	rate   float64 // probability per call (0..1), when every == 0
	every  int64   // fail every Nth matching call
	fault  string  // fault type name, empty = default for the method
	count  int64
}

// parseFailRules parses "Method[@object]:rate|/N[:Fault],..." .
func parseFailRules(spec string) ([]*failRule, error) {
	var rules []*failRule
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("%q: want Method[@object]:rate|/N[:Fault]", item)
		}
		r := &failRule{method: parts[0]}
		if i := strings.Index(r.method, "@"); i >= 0 {
			r.object = r.method[i+1:]
			r.method = r.method[:i]
		}
		if r.method == "" {
			return nil, fmt.Errorf("%q: empty method", item)
		}
		if strings.HasPrefix(parts[1], "/") {
			n, err := strconv.ParseInt(parts[1][1:], 10, 64)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%q: /N needs N >= 1", item)
			}
			r.every = n
		} else {
			f, err := strconv.ParseFloat(parts[1], 64)
			if err != nil || f < 0 || f > 1 {
				return nil, fmt.Errorf("%q: rate must be within 0..1", item)
			}
			r.rate = f
		}
		if len(parts) == 3 {
			if _, ok := makeFault(parts[2], r.method); !ok {
				return nil, fmt.Errorf("%q: unknown fault %q (known: %s)", item, parts[2], strings.Join(faultNames, ", "))
			}
			r.fault = parts[2]
		}
		rules = append(rules, r)
	}
	return rules, nil
}

var faultNames = []string{"HostCommunication", "HostNotConnected", "TaskInProgress", "ConcurrentAccess", "SystemError",
	"NotAuthenticated", "RequestCanceled"}

// makeFault returns the named fault, or the default transient fault for the method: a task that ends in
// TaskInProgress for *_Task methods, HostCommunication otherwise.
func makeFault(name, method string) (types.BaseMethodFault, bool) {
	if name == "" {
		if strings.HasSuffix(method, "_Task") {
			name = "TaskInProgress"
		} else {
			name = "HostCommunication"
		}
	}
	switch name {
	case "HostCommunication":
		return &types.HostCommunication{}, true
	case "HostNotConnected":
		return &types.HostNotConnected{}, true
	case "TaskInProgress":
		return &types.TaskInProgress{}, true
	case "ConcurrentAccess":
		return &types.ConcurrentAccess{}, true
	case "SystemError":
		return &types.SystemError{Reason: "injected transient failure"}, true
	case "NotAuthenticated":
		return &types.NotAuthenticated{}, true
	case "RequestCanceled":
		return &types.RequestCanceled{}, true
	}
	return nil, false
}

var faultMessages = map[string]string{
	"HostCommunication": "An error occurred while communicating with the remote host.",
	"HostNotConnected":  "Unable to communicate with the remote host, since it is disconnected.",
	"TaskInProgress":    "Another task is already in progress.",
	"ConcurrentAccess":  "Cannot complete operation due to concurrent modification by another operation.",
	"SystemError":       "A general system error occurred: injected transient failure",
	"NotAuthenticated":  "The session is not authenticated.",
	"RequestCanceled":   "The task was canceled by a user.",
}

func (s *Sim) matchFail(m *simulator.Method) *failRule {
	for _, r := range s.rules {
		if r.method != m.Name {
			continue
		}
		if r.object != "" && r.object != m.This.Value && r.object != s.ownerName(m.This) {
			continue
		}
		n := atomic.AddInt64(&r.count, 1)
		if r.every > 0 {
			if n%r.every == 0 {
				return r
			}
			continue
		}
		s.rndMu.Lock()
		if s.rnd == nil {
			s.rnd = rand.New(rand.NewSource(time.Now().UnixNano()))
		}
		hit := s.rnd.Float64() < r.rate
		s.rndMu.Unlock()
		if hit {
			return r
		}
	}
	return nil
}

func (s *Sim) injectFault(w http.ResponseWriter, m *simulator.Method, r *failRule) {
	fault, _ := makeFault(r.fault, m.Name)
	obj := simulator.Map.Get(m.This)
	// Faults that carry references must not carry empty ones (clients cannot decode type="").
	switch f := fault.(type) {
	case *types.NotAuthenticated:
		f.Object = m.This
	case *types.TaskInProgress:
		if obj != nil { // the "other" task that holds the object
			busy := simulator.CreateTask(obj, "vsrBusy", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
				return nil, nil
			})
			f.Task = busy.Run()
		}
	}
	name := reflect.TypeOf(fault).Elem().Name()
	msg := faultMessages[name]
	if strings.HasSuffix(m.Name, "_Task") {
		if obj != nil {
			id := strings.TrimSuffix(m.Name, "_Task")
			id = strings.ToLower(id[:1]) + id[1:]
			task := simulator.CreateTask(obj, id, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
				return nil, fault
			})
			ref := task.Run()
			setTaskMessage(task, msg)
			writeTask(w, m.Name, ref)
			return
		}
	}
	writeFault(w, msg, fault)
}
