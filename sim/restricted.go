package main

import (
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// -restricted: free-ESXi licensing, under which every write faults with RestrictedVersion.

// applyRestricted makes the licence look like free ESXi (vSphere Hypervisor); the middleware answers every
// write with RestrictedVersion.
func (s *Sim) applyRestricted() {
	for _, obj := range []string{"LicenseManager", "ha-license-manager"} {
		ref := types.ManagedObjectReference{Type: "LicenseManager", Value: obj}
		if lm, ok := simulator.Map.Get(ref).(*simulator.LicenseManager); ok {
			lm.Licenses = []types.LicenseManagerLicenseInfo{{
				LicenseKey: "00000-00000-00000-00000-00000",
				EditionKey: "esx.hypervisor.cpuPackageCoreLimited",
				Name:       "VMware vSphere 7 Hypervisor",
				Total:      0,
				CostUnit:   "cpuPackage",
				Properties: []types.KeyAnyValue{{Key: "ProductName", Value: "VMware ESX Server"},
					{Key: "ProductVersion", Value: "7.0"}},
			}}
		}
	}
}

// readOnlyMethod reports whether free-ESXi licensing allows the method (reads, sessions, views, collectors).
func readOnlyMethod(name string) bool {
	for _, p := range []string{"Retrieve", "ContinueRetrieve", "Query", "Find", "Login", "Logout", "Cancel",
		"WaitForUpdates", "CheckForUpdates", "ReadNext", "ReadPrev", "Rewind", "Reset", "Destroy"} {
		if strings.HasPrefix(name, p) {
			// Destroy_Task removes inventory; only collectors/views/filters are free to destroy.
			if p == "Destroy" && !(name == "DestroyPropertyFilter" || name == "DestroyPropertyCollector" ||
				name == "DestroyView" || name == "DestroyCollector") {
				return false
			}
			if p == "Reset" && name != "ResetCollector" {
				return false
			}
			return true
		}
	}
	switch name {
	case "SessionIsActive", "CurrentTime", "CreateFilter", "CreatePropertyCollector", "CreateContainerView",
		"CreateListView", "CreateListViewFromView", "CreateInventoryView", "CreateCollectorForEvents",
		"CreateCollectorForTasks", "AcquireCloneTicket", "CloneSession", "SetLocale", "Fetch",
		"PbmRetrieveServiceContent", "HasPrivilegeOnEntity", "HasPrivilegeOnEntities", "HasUserPrivilegeOnEntities",
		"FetchUserPrivilegeOnEntities", "ValidateMigration", "DecodeLicense",
		"HostImageConfigGetAcceptance", "HostImageConfigGetProfile",
		"ExecuteSoap", "DynamicTypeMgrQueryTypeInfo", "DynamicTypeMgrQueryMoInstances": // esxcli: writes checked in esxcli.go
		return true
	}
	return false
}
