package main

import (
	"io"
	"net/http"
	"sync"
)

// The host's HTTPS file endpoint for root's SSH authorized keys (-esx only, as on a real host:
// /etc/ssh/keys-root/authorized_keys): GET returns the file (text/plain), PUT replaces it. Both need a live
// session cookie (vmware_soap_session, from Login): 401 without one; 405 for other methods; 413 above 64 KiB.
// Through vCenter (no -esx) the path does not exist (404). Starts empty (ESXi 7/8 ship an empty file); -drift
// adds one stale key.

const authorizedKeysPath = "/host/ssh_root_authorized_keys"

// staleKey is the key -drift leaves in root's authorized_keys (an ed25519 key of no one's).
const staleKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHGWM8JxVJDajsurL90JJKc3032kXmXzChv8FZBckBPR old-laptop"

type authorizedKeys struct {
	mu   sync.Mutex
	data []byte
}

var rootKeys authorizedKeys

func (s *Sim) applySSHKeysDrift() {
	rootKeys.mu.Lock()
	rootKeys.data = []byte(staleKey + "\n")
	rootKeys.mu.Unlock()
}

// serveAuthorizedKeys answers the endpoint; false when the request is for another path.
func (s *Sim) serveAuthorizedKeys(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != authorizedKeysPath {
		return false
	}
	if !s.cfg.esx {
		http.NotFound(w, r)
		return true
	}
	cookie := sessionCookie(r)
	if cookie == "" || !s.sessionKnown(cookie) {
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
	rootKeys.mu.Lock()
	defer rootKeys.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(rootKeys.data)
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return true
		}
		if len(body) > 64<<10 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return true
		}
		rootKeys.data = body
		w.WriteHeader(http.StatusOK)
	default:
		w.Header().Set("Allow", "GET, PUT")
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
	return true
}
