package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// VM options of ReconfigVM_Task the library does not model: migrateEncryption (an EncryptedVMotionModes value;
// the library ignores it) and the defaults vSphere gives a VM (flags.enableLogging true).

var migrateEncryptionModes = map[string]bool{"disabled": true, "opportunistic": true, "required": true}

// vmOptionDefaults sets what vSphere gives every VM and the library leaves unset.
func vmOptionDefaults(vm *simulator.VirtualMachine) {
	if vm.Config.MigrateEncryption == "" {
		vm.Config.MigrateEncryption = "opportunistic"
	}
	if vm.Config.Flags.EnableLogging == nil {
		vm.Config.Flags.EnableLogging = types.NewBool(true)
	}
}

// checkVMOptions validates the option values of a reconfigure spec (InvalidArgument names the property).
func checkVMOptions(spec *types.VirtualMachineConfigSpec) (types.BaseMethodFault, string) {
	if m := spec.MigrateEncryption; m != "" && !migrateEncryptionModes[m] {
		return &types.InvalidArgument{InvalidProperty: "spec.migrateEncryption"},
			fmt.Sprintf("A specified parameter was not correct: migrateEncryption %q", m)
	}
	return nil, ""
}

// applyVMOptions sets the options the library ignores (before the caller publishes what changed).
func applyVMOptions(vm *simulator.VirtualMachine, spec *types.VirtualMachineConfigSpec) {
	if spec.MigrateEncryption != "" {
		vm.Config.MigrateEncryption = spec.MigrateEncryption
	}
}
