package main

import (
	"math/rand"
	"sync"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Sim holds the launcher's state: configuration, fault rules, known sessions and method overrides.
type Sim struct {
	cfg   *config
	rules []*failRule // -fail (faults.go)
	delay *callDelay  // -delay, -delay-jitter (delay.go)

	mu       sync.Mutex
	sessions map[string]bool                         // live session cookies (sessions.go)
	owners   map[types.ManagedObjectReference]string // moref -> object name used by -fail Method@name

	// overrides: managed object type -> method names served by a proxy object (type "Vsr"+type; proxy.go)
	overrides  map[string]map[string]bool
	proxies    map[string]func(ref types.ManagedObjectReference) mo.Reference
	waits      waitRegistry // WaitForUpdatesEx per collector (collector.go)
	retrievals retrievals   // RetrievePropertiesEx tokens per session and collector (retrieve.go)

	hosts    map[string]*hostExt
	vnics    map[string]*VirtualNicManager   // per-host VMkernel NIC services (vnicmgr.go)
	iscsi    map[string]*iscsiAdapter        // by HostStorageSystem moref value (iscsi.go)
	accounts map[string]*LocalAccountManager // per-host local accounts and root permissions (accounts.go)

	guests *guestState  // guest operations (guestops.go)
	cli    *esxcliState // esxcli over the API (esxcli.go)
	ft     *ftState     // config.ftEncryptionMode per VM (ftenc.go)

	methodDelay map[string]int // -method-delay, also looked up by esxcli method name
	kms         *CryptoManagerKmip

	rnd   *rand.Rand
	rndMu sync.Mutex
}
