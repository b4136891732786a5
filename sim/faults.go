package main

import (
	"fmt"
	"math/rand"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Fault injection (-fail): rules that answer matching authenticated calls with a transient fault.

type failRule struct {
	method string
	object string  // optional: object or owning host name, or moref value
	rate   float64 // probability per call (0..1), when no other form is given
	every  int64   // fail every Nth matching call
	from   int64   // >N: let the first N matching calls pass, fail every later one; -1 = not this form
	after  string  // >Method: fail the first matching call after each call of Method
	fault  string  // fault type name, empty = default for the method
	count  int64
	armed  int32 // >Method: a call of Method went through since the last fault this rule injected
}

// parseFailRules parses "Method[@object]:rate|/N|>N|>Method[:Fault],..." .
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
			return nil, fmt.Errorf("%q: want Method[@object]:rate|/N|>N|>Method[:Fault]", item)
		}
		r := &failRule{method: parts[0], from: -1}
		if i := strings.Index(r.method, "@"); i >= 0 {
			r.object = r.method[i+1:]
			r.method = r.method[:i]
		}
		if r.method == "" {
			return nil, fmt.Errorf("%q: empty method", item)
		}
		if strings.HasPrefix(parts[1], ">") {
			arg := parts[1][1:]
			if n, err := strconv.ParseInt(arg, 10, 64); err == nil {
				if n < 0 {
					return nil, fmt.Errorf("%q: >N needs N >= 0", item)
				}
				r.from = n
			} else if isMethodName(arg) {
				r.after = arg
			} else {
				return nil, fmt.Errorf("%q: >N needs a count N >= 0 or a method name", item)
			}
		} else if strings.HasPrefix(parts[1], "/") {
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

// isMethodName says whether s looks like a vSphere method name (letters, digits, underscores; a letter first).
func isMethodName(s string) bool {
	if s == "" || !(s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
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
	hit := s.pickFail(m.Name, m.This.Value, func() string { return s.ownerName(m.This) })
	if hit == nil {
		armRules(s.rules, m.Name)
	}
	return hit
}

// armRules records that a call of method went through: rules ">method" fail their next matching call.
func armRules(rules []*failRule, method string) {
	for _, r := range rules {
		if r.after == method {
			atomic.StoreInt32(&r.armed, 1)
		}
	}
}

// pickFail returns the first rule that fails this call of method on the object with moref value ref (owner
// gives its entity or owning host name), counting the call for every rule that matches it.
func (s *Sim) pickFail(method, ref string, owner func() string) *failRule {
	for _, r := range s.rules {
		if r.method != method {
			continue
		}
		if r.object != "" && r.object != ref && r.object != owner() {
			continue
		}
		n := atomic.AddInt64(&r.count, 1)
		switch {
		case r.after != "":
			if atomic.CompareAndSwapInt32(&r.armed, 1, 0) {
				return r
			}
			continue
		case r.from >= 0:
			if n > r.from {
				return r
			}
			continue
		case r.every > 0:
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
	s.indexEsxcliOwners()
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
