package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Guest operations (docs/simulator.md, "Guests"): per VM a guest OS family, whether VMware Tools runs, guest
// accounts and a small guest file system holding tools.conf. GuestOperationsManager's fileManager answers
// InitiateFileTransferFromGuest / InitiateFileTransferToGuest with one-time URLs https://*:PORT/guestFile?id=&token=
// served by the simulator's own HTTPS listener (GET downloads, PUT uploads); its authManager answers
// ValidateCredentialsInGuest. Faults as vSphere: InvalidPowerState (VM off), GuestOperationsUnavailable (Tools not
// running, or [guestoperations] disabled=true in the guest's tools.conf), InvalidGuestLogin (wrong user or password),
// GuestPermissionDenied (a read-only account writing), FileNotFound, FileAlreadyExists (overwrite false).

const guestFilePath = "/guestFile"

const linuxToolsConf = "/etc/vmware-tools/tools.conf"
const windowsToolsConf = `C:\ProgramData\VMware\VMware Tools\tools.conf`

// defaultToolsConf is what a fresh VMware Tools install leaves: comments and sections, every key commented out.
const defaultToolsConf = `# Copyright (c) 2019-2023 VMware, Inc.  All rights reserved.

# "CAUTION: tools.conf is highly syntax sensitive file. Use extreme caution
# while editing it. If modified, it is automatically re-loaded by
# VMware Tools services every 5 seconds."
#
# Lines must not end with trailing white space

[logging]
# set to false to disable logging
#log = true

# Log destinations for various services
#vmtoolsd.handler = file
#vmsvc.handler = file
#toolboxcmd.handler = file
#vgauthsvc.handler = file

[guestoperations]
# Set to true to disable the guest operations
#disabled = false

[appinfo]
# Set to true to disable the appinfo plugin.
#disabled=false

[containerinfo]
# The frequency in seconds to gather the container information; 0 disables it.
#poll-interval=21600

[servicediscovery]
# Set to true to disable the servicediscovery plugin.
#disabled=false

[autoupgrade]
# The "allow-upgrade" option controls whether VMware Tools may upgrade itself.
#allow-upgrade=true
#allow-add-feature=true
#allow-remove-feature=true
#allow-msi-transforms=false

[gueststoreupgrade]
# The policy: off, manual, powercycle
#policy=manual

[globalconf]
# Set to true to enable the module.
#enabled=false

[deployPkg]
# Whether guest customization is allowed.
#enable-customization=true
`

type guestAccount struct {
	password string
	readOnly bool
}

type guestVM struct {
	windows  bool
	tools    string // "running" | "notRunning" | "notInstalled"
	accounts map[string]guestAccount
	files    map[string][]byte // by normalised path
}

type guestTicket struct {
	vm      string
	path    string
	upload  bool
	size    int64
	expires time.Time
}

type guestState struct {
	mu      sync.Mutex
	vms     map[string]*guestVM // by VM moid
	tickets map[string]*guestTicket
	port    string
}

func (g *guestVM) key(p string) string {
	if g.windows {
		return strings.ToLower(strings.ReplaceAll(p, "/", `\`))
	}
	return p
}

func (g *guestVM) toolsConf() string {
	if g.windows {
		return windowsToolsConf
	}
	return linuxToolsConf
}

// guestOpsDisabled: tools.conf says [guestoperations] disabled = true.
func (g *guestVM) guestOpsDisabled() bool {
	content, ok := g.files[g.key(g.toolsConf())]
	if !ok {
		return false
	}
	section := ""
	for _, line := range strings.Split(string(content), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			section = strings.TrimSpace(t[1 : len(t)-1])
			continue
		}
		if k, v, ok := strings.Cut(t, "="); ok && section == "guestoperations" && strings.TrimSpace(k) == "disabled" {
			return strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	return false
}

// guestRule is one line of the -guests file: a VM name glob and key=value settings.
type guestRule struct {
	glob     string
	settings [][2]string
	line     int
}

func parseGuestFile(name string) ([]guestRule, error) {
	if name == "" {
		return nil, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rules []guestRule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		r := guestRule{glob: fields[0], line: n}
		if _, err := path.Match(r.glob, ""); err != nil {
			return nil, fmt.Errorf("%s:%d: bad glob %q", name, n, r.glob)
		}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			switch {
			case !ok:
				return nil, fmt.Errorf("%s:%d: %q is not key=value", name, n, kv)
			case k == "os" && v != "linux" && v != "windows":
				return nil, fmt.Errorf("%s:%d: os must be linux or windows", name, n)
			case k == "tools" && v != "running" && v != "notRunning" && v != "notInstalled":
				return nil, fmt.Errorf("%s:%d: tools must be running, notRunning or notInstalled", name, n)
			case k == "toolsconf" && v != "default" && v != "absent":
				return nil, fmt.Errorf("%s:%d: toolsconf must be default or absent", name, n)
			case k != "os" && k != "tools" && k != "toolsconf" && k != "user" && k != "password" && k != "access":
				return nil, fmt.Errorf("%s:%d: unknown key %q (os, tools, toolsconf, user, password, access)", name, n, k)
			}
			r.settings = append(r.settings, [2]string{k, v})
		}
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

func (s *Sim) installGuests() error {
	rules, err := parseGuestFile(s.cfg.guests)
	if err != nil {
		return fmt.Errorf("-guests: %w", err)
	}
	s.guests = &guestState{vms: map[string]*guestVM{}, tickets: map[string]*guestTicket{}}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		g := &guestVM{tools: "running", accounts: map[string]guestAccount{}, files: map[string][]byte{}}
		conf := "default"
		for _, r := range rules {
			if ok, _ := path.Match(r.glob, vm.Name); !ok {
				continue
			}
			user := ""
			for _, kv := range r.settings {
				switch kv[0] {
				case "os":
					g.windows = kv[1] == "windows"
				case "tools":
					g.tools = kv[1]
				case "toolsconf":
					conf = kv[1]
				case "user":
					user = kv[1]
					g.accounts[user] = guestAccount{}
				case "password":
					if user != "" {
						a := g.accounts[user]
						a.password = secretValue(kv[1])
						g.accounts[user] = a
					}
				case "access":
					if user != "" {
						a := g.accounts[user]
						a.readOnly = kv[1] == "read"
						g.accounts[user] = a
					}
				}
			}
		}
		if conf == "default" {
			content := defaultToolsConf
			if g.windows {
				content = strings.ReplaceAll(content, "\n", "\r\n")
			}
			g.files[g.key(g.toolsConf())] = []byte(content)
		}
		s.guests.vms[vm.Self.Value] = g
		setGuestInfo(vm, g)
	}

	content := simulator.Map.Get(vimServiceInstance()).(*simulator.ServiceInstance).Content
	if content.GuestOperationsManager == nil {
		return nil
	}
	gom, ok := simulator.Map.Get(*content.GuestOperationsManager).(*simulator.GuestOperationsManager)
	if !ok || gom.FileManager == nil {
		return nil
	}
	fm := &guestFileManager{sim: s}
	fm.Self = *gom.FileManager
	simulator.Map.Put(fm) // replaces the library's container-backed file manager
	am := &guestAuthManager{sim: s}
	am.Self = types.ManagedObjectReference{Type: "GuestAuthManager", Value: "guestOperationsAuthManager"}
	simulator.Map.Put(am)
	gom.AuthManager = &am.Self
	return nil
}

func setGuestInfo(vm *simulator.VirtualMachine, g *guestVM) {
	if g.windows {
		vm.Config.GuestId = "windows2019srv_64Guest"
		vm.Config.GuestFullName = "Microsoft Windows Server 2019 (64-bit)"
		vm.Guest.GuestFamily = string(types.VirtualMachineGuestOsFamilyWindowsGuest)
	} else {
		vm.Guest.GuestFamily = string(types.VirtualMachineGuestOsFamilyLinuxGuest)
	}
	vm.Summary.Config.GuestId = vm.Config.GuestId
	vm.Summary.Config.GuestFullName = vm.Config.GuestFullName
	vm.Guest.GuestId = vm.Config.GuestId
	vm.Guest.GuestFullName = vm.Config.GuestFullName
	switch g.tools {
	case "running":
		vm.Guest.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
		vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
		vm.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
		vm.Guest.ToolsVersion = "12352"
	case "notRunning":
		vm.Guest.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
		vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsNotRunning
		vm.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
		vm.Guest.ToolsVersion = "12352"
	default:
		vm.Guest.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
		vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsNotInstalled
		vm.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled)
		vm.Guest.ToolsVersion = "0"
	}
	vm.Summary.Guest.ToolsRunningStatus = vm.Guest.ToolsRunningStatus
	vm.Summary.Guest.ToolsStatus = vm.Guest.ToolsStatus
	vm.Summary.Guest.GuestId = vm.Guest.GuestId
	vm.Summary.Guest.GuestFullName = vm.Guest.GuestFullName
}

// prepare checks the VM, its Tools and the guest credentials, as the guest operations agent does.
func (s *Sim) guestPrepare(ctx *simulator.Context, ref types.ManagedObjectReference, auth types.BaseGuestAuthentication,
	write bool) (*guestVM, types.BaseMethodFault, string) {
	vm, ok := ctx.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: ref}, fmt.Sprintf("The object '%s' has already been deleted or has not been completely created", ref.Value)
	}
	s.guests.mu.Lock()
	g := s.guests.vms[ref.Value]
	s.guests.mu.Unlock()
	if g == nil {
		return nil, &types.GuestOperationsUnavailable{}, "The guest operations agent could not be contacted."
	}
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return nil, &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn,
			ExistingState: vm.Runtime.PowerState}, "The attempted operation cannot be performed in the current state (Powered off)."
	}
	if g.tools == "notInstalled" {
		return nil, &types.ToolsUnavailable{}, "Cannot complete operation because VMware Tools is not running in this virtual machine."
	}
	if g.tools != "running" || g.guestOpsDisabled() {
		return nil, &types.GuestOperationsUnavailable{}, "The guest operations agent could not be contacted."
	}
	npa, ok := auth.(*types.NamePasswordAuthentication)
	if !ok {
		return nil, &types.InvalidArgument{InvalidProperty: "auth"}, "A specified parameter was not correct: auth"
	}
	acct, known := g.accounts[npa.Username]
	if !known || acct.password == "" || acct.password != npa.Password {
		return nil, &types.InvalidGuestLogin{}, "Failed to authenticate with the guest operating system using the supplied credentials."
	}
	if write && acct.readOnly {
		return nil, &types.GuestPermissionDenied{}, "Insufficient permissions in guest operating system."
	}
	return g, nil, ""
}

type guestFileManager struct {
	mo.GuestFileManager
	sim *Sim
}

func (m *guestFileManager) ticket(t *guestTicket) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	g := m.sim.guests
	g.mu.Lock()
	g.tickets[tok] = t
	g.mu.Unlock()
	return (&url.URL{Scheme: "https", Host: "*:" + g.port, Path: guestFilePath,
		RawQuery: url.Values{"id": {t.vm}, "token": {tok}}.Encode()}).String()
}

func (m *guestFileManager) InitiateFileTransferFromGuest(ctx *simulator.Context, req *types.InitiateFileTransferFromGuest) soap.HasFault {
	body := new(methods.InitiateFileTransferFromGuestBody)
	g, flt, msg := m.sim.guestPrepare(ctx, req.Vm, req.Auth, false)
	if flt != nil {
		body.Fault_ = fault(msg, flt)
		return body
	}
	m.sim.guests.mu.Lock()
	content, ok := g.files[g.key(req.GuestFilePath)]
	m.sim.guests.mu.Unlock()
	if !ok {
		body.Fault_ = fault(fmt.Sprintf("File %s was not found", req.GuestFilePath), &types.FileNotFound{
			FileFault: types.FileFault{File: req.GuestFilePath}})
		return body
	}
	u := m.ticket(&guestTicket{vm: req.Vm.Value, path: g.key(req.GuestFilePath), expires: time.Now().Add(10 * time.Minute)})
	body.Res = &types.InitiateFileTransferFromGuestResponse{Returnval: types.FileTransferInformation{
		Attributes: &types.GuestFileAttributes{}, Size: int64(len(content)), Url: u}}
	return body
}

func (m *guestFileManager) InitiateFileTransferToGuest(ctx *simulator.Context, req *types.InitiateFileTransferToGuest) soap.HasFault {
	body := new(methods.InitiateFileTransferToGuestBody)
	g, flt, msg := m.sim.guestPrepare(ctx, req.Vm, req.Auth, true)
	if flt != nil {
		body.Fault_ = fault(msg, flt)
		return body
	}
	if req.FileSize < 0 {
		body.Fault_ = fault("A specified parameter was not correct: fileSize", &types.InvalidArgument{InvalidProperty: "fileSize"})
		return body
	}
	m.sim.guests.mu.Lock()
	_, exists := g.files[g.key(req.GuestFilePath)]
	m.sim.guests.mu.Unlock()
	if exists && !req.Overwrite {
		body.Fault_ = fault(fmt.Sprintf("File %s already exists", req.GuestFilePath), &types.FileAlreadyExists{
			FileFault: types.FileFault{File: req.GuestFilePath}})
		return body
	}
	u := m.ticket(&guestTicket{vm: req.Vm.Value, path: g.key(req.GuestFilePath), upload: true, size: req.FileSize,
		expires: time.Now().Add(10 * time.Minute)})
	body.Res = &types.InitiateFileTransferToGuestResponse{Returnval: u}
	return body
}

type guestAuthManager struct {
	mo.GuestAuthManager
	sim *Sim
}

func (m *guestAuthManager) ValidateCredentialsInGuest(ctx *simulator.Context, req *types.ValidateCredentialsInGuest) soap.HasFault {
	body := new(methods.ValidateCredentialsInGuestBody)
	if _, flt, msg := m.sim.guestPrepare(ctx, req.Vm, req.Auth, false); flt != nil {
		body.Fault_ = fault(msg, flt)
		return body
	}
	body.Res = &types.ValidateCredentialsInGuestResponse{}
	return body
}

// serveGuestFile answers the one-time transfer URLs: GET downloads, PUT uploads exactly the announced size.
func (s *Sim) serveGuestFile(w http.ResponseWriter, r *http.Request) {
	if s.guests == nil {
		http.NotFound(w, r)
		return
	}
	tok := r.URL.Query().Get("token")
	g := s.guests
	g.mu.Lock()
	t := g.tickets[tok]
	if t != nil && (t.vm != r.URL.Query().Get("id") || time.Now().After(t.expires)) {
		t = nil
	}
	if t != nil {
		delete(g.tickets, tok) // one use
	}
	g.mu.Unlock()
	switch {
	case t == nil:
		http.Error(w, "invalid or expired transfer URL", http.StatusNotFound)
	case t.upload && r.Method == http.MethodPut:
		data, err := io.ReadAll(io.LimitReader(r.Body, t.size+1))
		if err != nil || int64(len(data)) != t.size {
			http.Error(w, "content length differs from the announced fileSize", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		if vm := g.vms[t.vm]; vm != nil {
			vm.files[t.path] = data
		}
		g.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case !t.upload && r.Method == http.MethodGet:
		g.mu.Lock()
		var data []byte
		if vm := g.vms[t.vm]; vm != nil {
			data = vm.files[t.path]
		}
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		_, _ = w.Write(data)
	default:
		http.Error(w, "method not allowed for this transfer URL", http.StatusMethodNotAllowed)
	}
}
