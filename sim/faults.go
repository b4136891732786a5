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
