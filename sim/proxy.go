package main

import (
	"bytes"
	"regexp"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Methods of library objects that other library code type-asserts (HostSystem, VirtualMachine, …) cannot be
// replaced by wrapping the object; such calls are routed to a proxy object of type "Vsr"+type with the same
// moref value, registered on first use.

const proxyPrefix = "Vsr"

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

var thisType = regexp.MustCompile(`(<(?:[A-Za-z0-9_]+:)?_this\b[^>]*\btype=")([A-Za-z]+)(")`)

// routeToProxy returns the request body with its _this type renamed to the proxy's when the method is
// overridden for that type (registering the proxy), else the body unchanged.
func (s *Sim) routeToProxy(method *simulator.Method, body []byte) []byte {
	if s.overrides == nil {
		return body
	}
	ms, ok := s.overrides[method.This.Type]
	if !ok || !ms[method.Name] {
		return body
	}
	s.ensureProxy(method.This)
	return renameThis(body, method.This.Type, proxyPrefix+method.This.Type)
}

// renameThis returns body with the type of its _this element changed from `from` to `to` (body unchanged when
// _this is not of type `from`).
func renameThis(body []byte, from, to string) []byte {
	loc := thisType.FindSubmatchIndex(body)
	if loc == nil || string(body[loc[4]:loc[5]]) != from {
		return body
	}
	var nb bytes.Buffer
	nb.Write(body[:loc[4]])
	nb.WriteString(to)
	nb.Write(body[loc[5]:])
	return nb.Bytes()
}

func (s *Sim) ensureProxy(ref types.ManagedObjectReference) {
	pref := types.ManagedObjectReference{Type: proxyPrefix + ref.Type, Value: ref.Value}
	if simulator.Map.Get(pref) != nil || simulator.Map.Get(ref) == nil {
		return
	}
	p := s.proxies[ref.Type](pref)
	simulator.Map.Put(p)
}
