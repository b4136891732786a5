package main

import (
	"bytes"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// xmlCopy deep-copies src into dst (both pointers to the same vim25 data type), as the library does.
func xmlCopy(src, dst interface{}) {
	b, err := xml.Marshal(src)
	if err != nil {
		panic(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.TypeFunc = types.TypeFunc()
	if err := dec.Decode(dst); err != nil {
		panic(err)
	}
}

// publish applies the changes to obj and hands them to every property collector (WaitForUpdatesEx),
// holding obj's lock (a no-op re-entry when obj is the object the current call is on).
func publish(ctx *simulator.Context, obj mo.Reference, changes ...types.PropertyChange) {
	if ctx == nil {
		simulator.Map.Update(obj, changes)
		return
	}
	ctx.WithLock(obj, func() { simulator.Map.Update(obj, changes) })
}

func change(name string, val interface{}) types.PropertyChange {
	return types.PropertyChange{Name: name, Op: types.PropertyChangeOpAssign, Val: val}
}

// faultBody is a generic soap.HasFault for methods answered with a fault.
type faultBody struct {
	Fault_ *soap.Fault
}

func (b *faultBody) Fault() *soap.Fault { return b.Fault_ }

func fault(msg string, f types.BaseMethodFault) *soap.Fault {
	return simulator.Fault(msg, f)
}

func boolPtr(b bool) *bool { return &b }

func isTrue(b *bool) bool { return b != nil && *b }

// sameXML reports whether two vim25 values serialize identically (nil and empty slices compare equal).
func sameXML(a, b interface{}) bool {
	x, err1 := xml.Marshal(a)
	y, err2 := xml.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
