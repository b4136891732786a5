package main

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Device changes of ReconfigVM_Task as ESXi judges them before anything is changed (the library applies any):
//   - devices that cannot be hot-plugged are added or removed only while the VM is powered off
//     (DeviceHotPlugNotSupported, deviceIndex = the change's index): floppy, serial and parallel ports, CD-ROMs,
//     sound cards (HD Audio, Ensoniq 1371, Sound Blaster 16), PCI passthrough devices, SATA/AHCI and USB
//     controllers, a virtual TPM. Disks, NICs and USB devices hot-plug; editing a CD-ROM's connection works on a
//     running VM.
//   - a disk's mode (backing.diskMode) changes only while the VM is powered off (DisallowedDiskModeChange);
//     the mode must be one of VirtualDiskMode (InvalidDeviceBacking).
//   - removing a device that does not exist, or a controller whose devices stay, is an InvalidDeviceSpec.
//   - a virtual TPM needs EFI firmware (DeviceUnsupportedForVmPlatform) and an encrypted VM home: the VM is
//     encrypted already or the same spec encrypts it (spec.crypto CryptoSpecEncrypt), else InvalidDeviceSpec;
//     one vTPM per VM.

func coldPlugOnly(d types.BaseVirtualDevice) bool {
	switch d.(type) {
	case *types.VirtualFloppy, *types.VirtualSerialPort, *types.VirtualParallelPort, *types.VirtualCdrom,
		types.BaseVirtualSoundCard, *types.VirtualPCIPassthrough, types.BaseVirtualSATAController,
		*types.VirtualUSBController, *types.VirtualUSBXHCIController, *types.VirtualTPM:
		return true
	}
	return false
}

var diskModes = map[string]bool{"persistent": true, "nonpersistent": true, "undoable": true,
	"independent_persistent": true, "independent_nonpersistent": true, "append": true}

func deviceLabel(d types.BaseVirtualDevice) string {
	if info := d.GetVirtualDevice().DeviceInfo; info != nil && info.GetDescription().Label != "" {
		return info.GetDescription().Label
	}
	return fmt.Sprintf("%T %d", d, d.GetVirtualDevice().Key)
}

func diskMode(d types.BaseVirtualDevice) string {
	if disk, ok := d.(*types.VirtualDisk); ok {
		if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
			return b.DiskMode
		}
	}
	return ""
}

// checkDeviceChanges returns the fault ESXi answers for spec.deviceChange on vm, or nil.
func checkDeviceChanges(vm *simulator.VirtualMachine, spec *types.VirtualMachineConfigSpec, crypto types.BaseCryptoSpec) (types.BaseMethodFault, string) {
	running := vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff
	existing := map[int32]types.BaseVirtualDevice{}
	for _, d := range vm.Config.Hardware.Device {
		existing[d.GetVirtualDevice().Key] = d
	}
	removed := map[int32]bool{}
	for _, c := range spec.DeviceChange {
		if s := c.GetVirtualDeviceConfigSpec(); s.Operation == types.VirtualDeviceConfigSpecOperationRemove {
			removed[s.Device.GetVirtualDevice().Key] = true
		}
	}
	for i, c := range spec.DeviceChange {
		s := c.GetVirtualDeviceConfigSpec()
		dev := s.Device
		invalid := types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		switch s.Operation {
		case types.VirtualDeviceConfigSpecOperationAdd, types.VirtualDeviceConfigSpecOperationRemove:
			if s.Operation == types.VirtualDeviceConfigSpecOperationRemove {
				cur, ok := existing[dev.GetVirtualDevice().Key]
				if !ok {
					return &invalid, fmt.Sprintf("Invalid configuration for device '%d': device %d does not exist.", i, dev.GetVirtualDevice().Key)
				}
				dev = cur
				if _, ok := cur.(types.BaseVirtualController); ok {
					var left []string
					for _, d := range vm.Config.Hardware.Device {
						if k := d.GetVirtualDevice(); k.ControllerKey == cur.GetVirtualDevice().Key && !removed[k.Key] {
							left = append(left, deviceLabel(d))
						}
					}
					if len(left) > 0 {
						return &invalid, fmt.Sprintf("Invalid configuration for device '%d': %s still has devices attached (%s).",
							i, deviceLabel(cur), strings.Join(left, ", "))
					}
				}
			}
			if running && coldPlugOnly(dev) {
				return &types.DeviceHotPlugNotSupported{InvalidDeviceSpec: invalid},
					fmt.Sprintf("The device or operation specified at index '%d' is not supported for the current virtual machine power state: %s cannot be hot-%s; power off the virtual machine.",
						i, deviceLabel(dev), map[bool]string{true: "added", false: "removed"}[s.Operation == types.VirtualDeviceConfigSpecOperationAdd])
			}
			if _, tpm := dev.(*types.VirtualTPM); tpm && s.Operation == types.VirtualDeviceConfigSpecOperationAdd {
				if flt, msg := checkAddTPM(vm, spec, crypto, i); flt != nil {
					return flt, msg
				}
			}
		case types.VirtualDeviceConfigSpecOperationEdit:
			mode := diskMode(dev)
			cur, ok := existing[dev.GetVirtualDevice().Key]
			if mode == "" || !ok || mode == diskMode(cur) {
				continue
			}
			if !diskModes[mode] {
				return &types.InvalidDeviceBacking{InvalidDeviceSpec: invalid},
					fmt.Sprintf("Invalid configuration for device '%d': disk mode %q.", i, mode)
			}
			if running {
				return &types.DisallowedDiskModeChange{InvalidDeviceSpec: invalid},
					fmt.Sprintf("The disk mode of %s cannot be changed while the virtual machine is powered on.", deviceLabel(cur))
			}
		}
	}
	return nil, ""
}

func checkAddTPM(vm *simulator.VirtualMachine, spec *types.VirtualMachineConfigSpec, crypto types.BaseCryptoSpec, i int) (types.BaseMethodFault, string) {
	invalid := types.InvalidDeviceSpec{DeviceIndex: int32(i)}
	for _, d := range vm.Config.Hardware.Device {
		if _, ok := d.(*types.VirtualTPM); ok {
			return &invalid, fmt.Sprintf("Invalid configuration for device '%d': the virtual machine already has a virtual TPM.", i)
		}
	}
	firmware := vm.Config.Firmware
	if spec.Firmware != "" {
		firmware = spec.Firmware
	}
	if firmware != string(types.GuestOsDescriptorFirmwareTypeEfi) {
		return &types.DeviceUnsupportedForVmPlatform{InvalidDeviceSpec: invalid},
			fmt.Sprintf("A virtual TPM requires EFI firmware (the virtual machine uses %s).", firmware)
	}
	if _, encrypting := crypto.(*types.CryptoSpecEncrypt); vm.Config.KeyId == nil && !encrypting {
		return &invalid, "A virtual TPM requires an encrypted virtual machine home: register a key provider and encrypt the virtual machine (spec.crypto)."
	}
	return nil, ""
}
