package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"

	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// soapPath reports whether path is one of the SOAP endpoints: vim25 (/sdk, /sdk/vimService) or PBM (/pbm).
func soapPath(path string) bool {
	return path == vim25.Path || path == vim25.Path+"/vimService" || path == pbm.Path
}

// middleware wraps the library's handler: the per-call delay, then for vim25 SOAP calls -restricted, -fail,
// the full ServiceInstance.content, routing to proxies, session tracking and turning panics into SystemError.
func (s *Sim) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == vim25.Path+"/vimServiceVersions.xml" {
			s.serviceVersions(w)
			return
		}
		if r.URL.Path == guestFilePath {
			s.serveGuestFile(w, r)
			return
		}
		if s.serveAuthorizedKeys(w, r) { // sshkeys.go
			return
		}
		if r.Method != http.MethodPost || !soapPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		s.delay.wait()
		if r.URL.Path == pbm.Path {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
		if err != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}

		cookie := sessionCookie(r)
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
		var ft *ftRequest // config.ftEncryptionMode (ftenc.go)
		if authed && method.Name == "ReconfigVM_Task" && method.This.Type == "VirtualMachine" {
			var answered bool
			if body, ft, answered = s.takeFTMode(w, method, body); answered {
				return
			}
		}
		if authed {
			body = s.routeToProxy(method, s.routeCollector(method, body))
		}

		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		out, flush := s.responseFilter(w, method) // runtime.stateEncryption (stateenc.go)
		defer flush()
		if ft != nil { // the mode is set before the client learns the task succeeded
			final := out
			ft.buf = &bufferedWriter{w: final, status: http.StatusOK}
			out = ft.buf
			defer s.finishFT(ft, final)
		}
		rec := &recorder{ResponseWriter: out, status: http.StatusOK}
		defer func() {
			// A bug must not look like a network failure: log it and answer SystemError.
			if p := recover(); p != nil {
				fmt.Fprintf(os.Stderr, "vsr-sim: panic in %s on %s: %v\n%s", method.Name, method.This, p, debug.Stack())
				if !rec.wrote {
					writeFault(rec, fmt.Sprintf("A general system error occurred: %v", p),
						&types.SystemError{Reason: fmt.Sprint(p)})
				}
			}
		}()
		s.serveTracked(next, rec, r, method, cookie)
	})
}
