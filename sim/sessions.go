package main

import (
	"net/http"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The launcher tracks which session cookies are live (logged in, not logged out or terminated) so that it
// applies -restricted, -fail and the proxies to authenticated calls only, as vCenter checks the session first.

// sessionCookie returns the request's vmware_soap_session cookie, or "".
func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(soap.SessionCookieName); err == nil {
		return c.Value
	}
	return ""
}

// serveTracked passes the call to the library and records the sessions it creates or ends.
func (s *Sim) serveTracked(next http.Handler, rec *recorder, r *http.Request, method *simulator.Method, cookie string) {
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
	s.waits.forgetSession(id)   // collector.go: its collectors stop receiving changes
	s.retrievals.forget(id, "") // retrieve.go: its tokens are gone
}
