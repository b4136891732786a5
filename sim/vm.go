package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The library's VirtualMachine must not be wrapped (other library code type-asserts it). Calls to the methods
// below are routed by the middleware to a proxy object of type "VsrVirtualMachine" with the VM's moref value;
// the proxy works on the real VM under the VM's lock.

type vmProxy struct {
	mo.ExtensibleManagedObject
	sim *Sim
}

// isolationDefaults are the extraConfig settings every VM starts with (removed from some by -drift).
var isolationDefaults = []types.OptionValue{
	{Key: "isolation.tools.copy.disable", Value: "TRUE"},
	{Key: "isolation.tools.paste.disable", Value: "TRUE"},
	{Key: "isolation.tools.diskShrink.disable", Value: "TRUE"},
	{Key: "isolation.tools.diskWiper.disable", Value: "TRUE"},
	{Key: "isolation.device.connectable.disable", Value: "TRUE"},
	{Key: "tools.setInfo.sizeLimit", Value: "1048576"},
}

func (s *Sim) installVMs() {
	s.ft = &ftState{mode: map[string]string{}, filters: map[string][]string{}}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		vmOptionDefaults(vm) // vmoptions.go
		if vm.Runtime.BootTime == nil && vm.Summary.Runtime.BootTime != nil {
			t := *vm.Summary.Runtime.BootTime
			vm.Runtime.BootTime = &t
		}
		for i := range isolationDefaults {
			ov := isolationDefaults[i]
			vm.Config.ExtraConfig = append(vm.Config.ExtraConfig, &ov)
		}
	}
	simulator.Map.AddHandler(bootTimeMirror{})
	s.override("VirtualMachine", func(ref types.ManagedObjectReference) mo.Reference {
		p := &vmProxy{sim: s}
		p.Self = ref
		return p
	}, "ReconfigVM_Task", "UpgradeVM_Task")
}

func realRef(proxy types.ManagedObjectReference) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: strings.TrimPrefix(proxy.Type, proxyPrefix), Value: proxy.Value}
}

// proxied returns the library object of type T a proxy's call stands for, its moref, and the fault to answer
// (ManagedObjectNotFound) when there is none.
func proxied[T mo.Reference](proxy types.ManagedObjectReference) (T, types.ManagedObjectReference, *soap.Fault) {
	ref := realRef(proxy)
	obj, ok := simulator.Map.Get(ref).(T)
	if !ok {
		return obj, ref, fault("", &types.ManagedObjectNotFound{Obj: ref})
	}
	return obj, ref, nil
}

// onObject runs f with obj locked, as if the call had been made on obj itself.
func onObject(ctx *simulator.Context, obj mo.Reference, f func()) {
	ctx.Map.WithLock(obj, func() {
		saved := ctx.Caller
		self := obj.Reference()
		ctx.Caller = &self
		defer func() { ctx.Caller = saved }()
		f()
	})
}

func taskFailure(obj mo.Reference, id string, flt types.BaseMethodFault, msg string) types.ManagedObjectReference {
	task := simulator.CreateTask(obj, id, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, flt
	})
	ref := task.Run()
	setTaskMessage(task, msg)
	return ref
}

func setTaskMessage(task *simulator.Task, msg string) {
	if task.Info.Error != nil && msg != "" {
		task.Info.Error.LocalizedMessage = msg
	}
}

func powerOffRequired(vm *simulator.VirtualMachine) (types.BaseMethodFault, string) {
	return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff,
			ExistingState: vm.Runtime.PowerState},
		fmt.Sprintf("The attempted operation cannot be performed in the current state (%s).", vm.Runtime.PowerState)
}

// ReconfigVMTask: extraConfig is updated in place (an empty value removes the key) and spec.crypto
// encrypts/decrypts (config.keyId, power-off required); everything else goes to the library.
func (p *vmProxy) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	ref := realRef(req.This)
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return &methods.ReconfigVM_TaskBody{Fault_: fault("", &types.ManagedObjectNotFound{Obj: ref})}
	}
	var taskRef types.ManagedObjectReference
	onObject(ctx, vm, func() {
		spec := req.Spec
		extra := spec.ExtraConfig
		crypto := spec.Crypto
		rest := spec
		rest.ExtraConfig = nil
		rest.Crypto = nil
		passThrough := !isEmptySpec(&rest)

		var msg string
		task := simulator.CreateTask(vm, "reconfigVm", func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
			apply, flt, m := p.sim.checkCrypto(vm, crypto)
			if flt != nil {
				msg = m
				return nil, flt
			}
			if flt, m := checkVMOptions(&rest); flt != nil { // vmoptions.go
				msg = m
				return nil, flt
			}
			if flt, m := checkDeviceChanges(vm, &rest, crypto); flt != nil { // vmdevices.go
				msg = m
				return nil, flt
			}
			var before *types.VirtualMachineConfigInfo
			if passThrough {
				before = new(types.VirtualMachineConfigInfo)
				xmlCopy(vm.Config, before)
				mergePartials(&rest, vm.Config)
				inner := vm.ReconfigVMTask(ctx, &types.ReconfigVM_Task{This: ref, Spec: rest})
				body := inner.(*methods.ReconfigVM_TaskBody)
				if body.Fault_ != nil {
					return nil, body.Fault_.VimFault().(types.BaseMethodFault)
				}
				it := simulator.Map.Get(body.Res.Returnval).(*simulator.Task)
				if it.Info.Error != nil {
					msg = it.Info.Error.LocalizedMessage
					return nil, it.Info.Error.Fault
				}
				applyVMOptions(vm, &rest)
				// the library sets these fields without telling the property collector
				if changes := configChanges(before, vm.Config); len(changes) > 0 {
					if before.Name != vm.Config.Name {
						changes = append(changes, change("name", vm.Config.Name), change("summary.config.name", vm.Config.Name))
					}
					publish(nil, vm, changes...)
				}
			}
			applyExtraConfig(ctx, vm, extra)
			if apply != nil {
				apply()
			}
			return nil, nil
		})
		taskRef = task.Run()
		setTaskMessage(task, msg)
	})
	return &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: taskRef}}
}

func isEmptySpec(spec *types.VirtualMachineConfigSpec) bool {
	c := *spec
	c.ChangeVersion = "" // a concurrency guard, not a change
	return reflect.DeepEqual(c, types.VirtualMachineConfigSpec{})
}

// applyExtraConfig sets keys in place, removes keys given an empty value, appends new keys, and publishes
// config.extraConfig.
func applyExtraConfig(ctx *simulator.Context, vm *simulator.VirtualMachine, extra []types.BaseOptionValue) {
	if len(extra) == 0 {
		return
	}
	cur := make([]types.BaseOptionValue, 0, len(vm.Config.ExtraConfig)+len(extra))
	for _, o := range vm.Config.ExtraConfig {
		ov := *o.GetOptionValue()
		cur = append(cur, &ov)
	}
	for _, c := range extra {
		ov := c.GetOptionValue()
		empty := ov.Value == nil
		if s, ok := ov.Value.(string); ok && s == "" {
			empty = true
		}
		idx := -1
		for i, o := range cur {
			if o.GetOptionValue().Key == ov.Key {
				idx = i
				break
			}
		}
		switch {
		case empty && idx >= 0:
			cur = append(cur[:idx], cur[idx+1:]...)
		case empty:
		case idx >= 0:
			cur[idx] = &types.OptionValue{Key: ov.Key, Value: ov.Value}
		default:
			cur = append(cur, &types.OptionValue{Key: ov.Key, Value: ov.Value})
		}
	}
	if sameXML(&types.VirtualMachineConfigInfo{ExtraConfig: cur}, &types.VirtualMachineConfigInfo{ExtraConfig: vm.Config.ExtraConfig}) {
		return // nothing changed
	}
	publish(ctx, vm, change("config.extraConfig", cur))
}

var vmxVersionByAPI = []struct {
	api string
	hw  int
}{{"8.0.2", 21}, {"8.0.1", 20}, {"8.0", 20}, {"7.0.2", 19}, {"7.0.3", 19}, {"7.0.1", 18}, {"7.0", 17},
	{"6.7.2", 15}, {"6.7", 14}, {"6.5", 13}}

// maxHardwareVersion is the newest virtual hardware the configured API version supports.
func (s *Sim) maxHardwareVersion() int {
	for _, e := range vmxVersionByAPI {
		if strings.HasPrefix(s.cfg.apiVersion, e.api) {
			return e.hw
		}
	}
	if versionLess(s.cfg.apiVersion, "6.5") {
		return 11
	}
	return 21
}

func parseVmx(v string) (int, bool) {
	if !strings.HasPrefix(v, "vmx-") {
		return 0, false
	}
	n, err := strconv.Atoi(v[4:])
	return n, err == nil && n > 0
}

// UpgradeVMTask honours the requested version (default: the newest the host supports) and needs power-off.
func (p *vmProxy) UpgradeVMTask(ctx *simulator.Context, req *types.UpgradeVM_Task) soap.HasFault {
	ref := realRef(req.This)
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return &methods.UpgradeVM_TaskBody{Fault_: fault("", &types.ManagedObjectNotFound{Obj: ref})}
	}
	var taskRef types.ManagedObjectReference
	onObject(ctx, vm, func() {
		var msg string
		task := simulator.CreateTask(vm, "upgradeVm", func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
			if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
				f, m := powerOffRequired(vm)
				msg = m
				return nil, f
			}
			max := p.sim.maxHardwareVersion()
			target := max
			if req.Version != "" {
				n, ok := parseVmx(req.Version)
				if !ok {
					msg = fmt.Sprintf("A specified parameter was not correct: version %q", req.Version)
					return nil, &types.InvalidArgument{InvalidProperty: "version"}
				}
				if n > max {
					msg = fmt.Sprintf("The operation is not supported: %s is newer than this host supports (vmx-%d)", req.Version, max)
					return nil, &types.NotSupported{}
				}
				target = n
			}
			cur, _ := parseVmx(vm.Config.Version)
			if target <= cur {
				msg = "Virtual machine compatibility is already up-to-date."
				return nil, &types.AlreadyUpgraded{}
			}
			publish(ctx, vm, change("config.version", fmt.Sprintf("vmx-%d", target)))
			return nil, nil
		})
		taskRef = task.Run()
		setTaskMessage(task, msg)
	})
	return &methods.UpgradeVM_TaskBody{Res: &types.UpgradeVM_TaskResponse{Returnval: taskRef}}
}

// bootTimeMirror keeps runtime.bootTime in step with summary.runtime.bootTime, which is all the library sets
// on power operations (vSphere sets both; clients use runtime.bootTime to tell whether a VM has been
// cold-started since a change).
type bootTimeMirror struct{}

func (bootTimeMirror) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VsrBootTimeMirror", Value: "bootTime"}
}
func (bootTimeMirror) PutObject(mo.Reference)                    {}
func (bootTimeMirror) RemoveObject(types.ManagedObjectReference) {}
func (bootTimeMirror) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	if obj.Reference().Type != "VirtualMachine" {
		return
	}
	for _, c := range changes {
		if c.Name == "summary.runtime.bootTime" {
			if vm, ok := simulator.Map.Get(obj.Reference()).(*simulator.VirtualMachine); ok {
				simulator.Map.Update(vm, []types.PropertyChange{change("runtime.bootTime", c.Val)})
			}
			return
		}
	}
}

// mergePartials turns partial sub-specs (flags, boot options, tools, console preferences) into complete ones:
// vSphere leaves unset fields unchanged, the library replaces the whole structure.
func mergePartials(spec *types.VirtualMachineConfigSpec, cur *types.VirtualMachineConfigInfo) {
	if spec.Flags != nil {
		merged := cur.Flags
		mergeStruct(reflect.ValueOf(&merged).Elem(), reflect.ValueOf(spec.Flags).Elem())
		spec.Flags = &merged
	}
	if spec.BootOptions != nil && cur.BootOptions != nil {
		var merged types.VirtualMachineBootOptions
		xmlCopy(cur.BootOptions, &merged)
		mergeStruct(reflect.ValueOf(&merged).Elem(), reflect.ValueOf(spec.BootOptions).Elem())
		spec.BootOptions = &merged
	}
	if spec.Tools != nil && cur.Tools != nil {
		var merged types.ToolsConfigInfo
		xmlCopy(cur.Tools, &merged)
		mergeStruct(reflect.ValueOf(&merged).Elem(), reflect.ValueOf(spec.Tools).Elem())
		spec.Tools = &merged
	}
	if spec.ConsolePreferences != nil && cur.ConsolePreferences != nil {
		merged := *cur.ConsolePreferences
		mergeStruct(reflect.ValueOf(&merged).Elem(), reflect.ValueOf(spec.ConsolePreferences).Elem())
		spec.ConsolePreferences = &merged
	}
}

// configChanges lists what differs between two VM configs as property changes, one level below config
// (config.bootOptions.efiSecureBootEnabled, config.hardware.numCPU, config.flags, ...). config.hardware.device
// is left out: the library publishes it itself.
func configChanges(before, after *types.VirtualMachineConfigInfo) []types.PropertyChange {
	var out []types.PropertyChange
	bv, av := reflect.ValueOf(before).Elem(), reflect.ValueOf(after).Elem()
	t := av.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			continue
		}
		b, a := bv.Field(i), av.Field(i)
		if sameXML(b.Interface(), a.Interface()) {
			continue
		}
		name := "config." + lcFirst(f.Name)
		as, bs := structOf(a), structOf(b)
		if as.IsValid() && bs.IsValid() {
			for j := 0; j < as.NumField(); j++ {
				sf := as.Type().Field(j)
				if sf.Anonymous || sf.PkgPath != "" || sameXML(bs.Field(j).Interface(), as.Field(j).Interface()) {
					continue
				}
				sub := name + "." + lcFirst(sf.Name)
				if sub == "config.hardware.device" {
					continue
				}
				out = append(out, change(sub, propValue(as.Field(j))))
			}
			continue
		}
		out = append(out, change(name, propValue(a)))
	}
	return out
}

func structOf(v reflect.Value) reflect.Value {
	if v.Kind() == reflect.Ptr {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || !strings.HasSuffix(v.Type().PkgPath(), "vim25/types") {
		return reflect.Value{} // e.g. time.Time is a leaf
	}
	return v
}

// propValue is v as a property value; unset pointers, interfaces and slices become nil and pointers to scalars
// the scalar (Map.Update panics on both).
func propValue(v reflect.Value) interface{} {
	switch v.Kind() {
	case reflect.Ptr, reflect.Interface, reflect.Slice, reflect.Map:
		if v.IsNil() {
			return nil
		}
	}
	if v.Kind() == reflect.Ptr && v.Elem().Kind() != reflect.Struct {
		return v.Elem().Interface() // &scalar: Map.Update wants the scalar
	}
	return v.Interface()
}
