package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// The esxcli namespaces the simulator serves, their parameters (internal names, declared in alphabetical
// order) and per-host state with ESXi 8 defaults. Field and type names marked (I) in docs/simulator.md are
// inferred from VMware's scripts, not from a type dump.

type cliParam struct {
	name, display string
	aliases       []string
	kind          string // string | boolean | long | string[]
	required      bool
	flag          bool // a switch without a value on the command line
	help          string
}

type cliCommand struct {
	name, help string
	params     []cliParam
	ret        string // return type (type info): boolean, string, or a data type name
	run        func(c *cliCall) (*cliResultValue, *cliFault)
}

type cliNamespace struct {
	name, help string // name: system.ssh.server.config
	cmds       []*cliCommand
}

func (n *cliNamespace) moid() string     { return "ha-cli-handler-" + strings.ReplaceAll(n.name, ".", "-") }
func (n *cliNamespace) typeName() string { return "vim.EsxCLI." + n.name }
func (n *cliNamespace) wsdl() string     { return "VimEsxCLI" + strings.ReplaceAll(n.name, ".", "") }
func (n *cliNamespace) display() string  { return n.name[strings.LastIndex(n.name, ".")+1:] }

func (n *cliNamespace) command(name string) *cliCommand {
	for _, c := range n.cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

// cliCall is one ExecuteSoap of a command on a host.
type cliCall struct {
	ctx    *simulator.Context
	sim    *Sim
	h      *esxHost
	args   map[string][]string
	method string
}

func (c *cliCall) str(name string) (string, bool) {
	v, ok := c.args[name]
	if !ok {
		return "", false
	}
	return v[0], true
}

func (c *cliCall) boolean(name string) (val, given bool) {
	s, ok := c.str(name)
	if !ok {
		return false, false
	}
	b, _ := parseBool(s)
	return b, true
}

// kind builds a data type's wsdl name from the method, e.g. vim.EsxCLI.network.firewall.get + Firewall.
func (c *cliCall) kind(suffix string) string {
	return "VimEsxCLI" + strings.ReplaceAll(strings.TrimPrefix(c.method, "vim.EsxCLI."), ".", "") + suffix
}

func strParam(name, short, help string, required bool) cliParam {
	return cliParam{name: name, display: name, aliases: []string{"-" + short, "--" + name}, kind: "string",
		required: required, help: help}
}

func boolParam(name, display, short, help string, required bool) cliParam {
	al := []string{"--" + display}
	if short != "" {
		al = []string{"-" + short, "--" + display}
	}
	return cliParam{name: name, display: display, aliases: al, kind: "boolean", required: required, help: help}
}

func flagParam(name, display, help string) cliParam {
	return cliParam{name: name, display: display, aliases: []string{"--" + display}, kind: "boolean", flag: true, help: help}
}

// ---------------------------------------------------------------------------------------------
// Per-host state

type cliKV struct{ key, value string }

type kernelSetting struct {
	name, kind, def, configured, runtime, help string
}

type cliAccount struct {
	id, description string
	shell           bool
}

// esxHost is one host's esxcli state; mu guards it (the executer's calls are serialised by the library, the
// runtime.stateEncryption rewriting reads from other goroutines).
type esxHost struct {
	mu          sync.Mutex
	x           *hostExt
	mme, dtm    types.ManagedObjectReference
	managedByVC bool
	hasTPM      bool
	secureBoot  bool // booted with UEFI Secure Boot (capability.uefiSecureBoot)
	txt         bool // Intel TXT on in firmware (capability.txtEnabled)

	ssh            []cliKV
	fips           map[string]bool // ssh, rhttpproxy
	tlsProfile     string          // configured (after reboot)
	tlsBootProfile string          // in effect since the last boot
	encMode        string          // NONE | TPM
	encSecureBoot  bool
	encExecOnly    bool
	kernel         []*kernelSetting
	keyPersistence bool
	accounts       []*cliAccount
	fwEnabled      bool
}

func (h *esxHost) name() string { return h.x.host.Name }

const fipsCiphers = "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"

func newEsxHost(x *hostExt, managedByVC, hasTPM bool) *esxHost {
	h := &esxHost{x: x, managedByVC: managedByVC, hasTPM: hasTPM, fips: map[string]bool{"ssh": true, "rhttpproxy": true},
		tlsProfile: "COMPATIBLE", tlsBootProfile: "COMPATIBLE", encMode: "NONE", fwEnabled: true}
	h.ssh = []cliKV{
		{"allowstreamlocalforwarding", "no"}, {"allowtcpforwarding", "no"}, {"banner", "/etc/issue"},
		{"ciphers", fipsCiphers}, {"clientalivecountmax", "3"}, {"clientaliveinterval", "200"},
		{"compression", "no"}, {"fipsmode", "yes"}, {"gatewayports", "no"}, {"hostbasedauthentication", "no"},
		{"ignorerhosts", "yes"}, {"kexalgorithms", "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," +
			"diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512"},
		{"macs", "hmac-sha2-256,hmac-sha2-512"}, {"maxauthtries", "6"}, {"maxsessions", "10"},
		{"permitemptypasswords", "no"}, {"permitrootlogin", "yes"}, {"permittunnel", "no"},
		{"permituserenvironment", "no"}, {"strictmodes", "yes"}, {"x11forwarding", "no"},
	}
	h.kernel = []*kernelSetting{
		{name: "disableHwrng", kind: "Bool", def: "FALSE", help: "Disable the hardware random number generator as an entropy source"},
		{name: "entropySources", kind: "uint32", def: "0", help: "Bitmask of entropy sources used by the kernel (0 = all)"},
		{name: "iovDisableIR", kind: "Bool", def: "FALSE", help: "Disable Interrupt Routing in the IOMMU"},
	}
	for _, k := range h.kernel {
		k.configured, k.runtime = k.def, k.def
	}
	h.accounts = []*cliAccount{{"root", "Administrator", true}, {"dcui", "DCUI User", true}}
	if managedByVC {
		h.accounts = append(h.accounts, &cliAccount{"vpxuser", "VMware VirtualCenter administration account", true})
	}
	return h
}

// driftEsxcli starts the named hosts' esxcli state non-compliant (part of -drift, see docs/simulator.md).
func (s *Sim) driftEsxcli(names []string) {
	if s.cli == nil {
		return
	}
	for _, n := range names {
		h := s.cli.byName[n]
		if h == nil {
			continue
		}
		h.setSSH("ciphers", fipsCiphers+",aes128-cbc")
		h.setSSH("permittunnel", "yes")
		h.setSSH("clientaliveinterval", "0")
		h.fips["ssh"] = false
		for _, k := range h.kernel {
			if k.name == "disableHwrng" {
				k.configured, k.runtime = "TRUE", "TRUE"
			}
		}
		h.keyPersistence = true
		h.fwEnabled = false
	}
}

func (h *esxHost) setSSH(key, value string) {
	for i := range h.ssh {
		if h.ssh[i].key == key {
			h.ssh[i].value = value
		}
	}
}

// stateEncryption is HostRuntimeInfo.stateEncryption as the host reports it.
func (h *esxHost) stateEncryption() HostRuntimeInfoStateEncryptionInfo {
	mode := "none"
	if h.encMode == "TPM" {
		mode = "tpm"
	}
	return HostRuntimeInfoStateEncryptionInfo{RequireSecureBoot: boolPtr(h.encSecureBoot), ProtectionMode: mode,
		RequireExecInstalledOnly: boolPtr(h.encExecOnly)}
}

// option reads one of the host's advanced options (under the option manager's lock: UpdateOptions replaces
// the setting list).
func (h *esxHost) option(key string) interface{} {
	var val interface{}
	simulator.Map.WithLock(h.x.opt, func() {
		for _, v := range h.x.opt.Setting {
			if ov := v.GetOptionValue(); ov.Key == key {
				val = ov.Value
			}
		}
	})
	return val
}

// ---------------------------------------------------------------------------------------------
// Namespaces

var cliNamespaces = []*cliNamespace{
	{name: "system.ssh.server.config", help: "Manage the SSH server configuration", cmds: []*cliCommand{
		{name: "list", help: "List the SSH server configuration", ret: "Config[]",
			params: []cliParam{strParam("keyword", "k", "The configuration keyword", false)}, run: sshList},
		{name: "set", help: "Set an SSH server configuration keyword", ret: "boolean",
			params: []cliParam{strParam("keyword", "k", "The configuration keyword", true),
				strParam("value", "v", "The value", true)}, run: sshSet},
	}},
	fipsNamespace("ssh"),
	fipsNamespace("rhttpproxy"),
	{name: "system.tls.server", help: "Manage the TLS server profile", cmds: []*cliCommand{
		{name: "get", help: "Get the TLS server profile", ret: "Profile",
			params: []cliParam{flagParam("showcurrentbootprofile", "show-current-boot-profile",
				"Show the profile in effect since the last boot"),
				flagParam("showprofiledefaults", "show-profile-defaults", "Show the defaults of the profile")},
			run: tlsGet},
		{name: "set", help: "Set the TLS server profile (applied at the next boot)", ret: "boolean",
			params: []cliParam{strParam("profile", "p", "COMPATIBLE, MANUAL, NIST_2024 (, NIST_2024_TLS_13_ONLY)", true)},
			run:    tlsSet},
	}},
	{name: "system.settings.encryption", help: "Manage the host's encryption mode and policy", cmds: []*cliCommand{
		{name: "get", help: "Get the encryption mode and policy", ret: "Encryption", run: encGet},
		{name: "set", help: "Set the encryption mode and policy", ret: "boolean", params: []cliParam{
			strParam("mode", "m", "Encryption mode: NONE or TPM", false),
			boolParam("requireexecinstalledonly", "require-exec-installed-only", "e", "Require executables only from installed VIBs", false),
			boolParam("requiresecureboot", "require-secure-boot", "s", "Require secure boot", false)}, run: encSet},
	}},
	{name: "system.settings.kernel", help: "VMkernel boot settings", cmds: []*cliCommand{
		{name: "list", help: "List VMkernel boot settings", ret: "Setting[]",
			params: []cliParam{strParam("option", "o", "The name of a setting", false)}, run: kernelList},
		{name: "set", help: "Set a VMkernel boot setting (applied at the next boot)", ret: "boolean", params: []cliParam{
			strParam("setting", "s", "The name of the setting", true), strParam("value", "v", "The new value", true)},
			run: kernelSet},
	}},
	{name: "system.security.keypersistence", help: "Key persistence", cmds: []*cliCommand{
		{name: "disable", help: "Disable key persistence", ret: "boolean", params: []cliParam{
			flagParam("removeallstoredkeys", "remove-all-stored-keys", "Remove all stored keys")}, run: keyPersistSet(false)},
		{name: "enable", help: "Enable key persistence", ret: "boolean", run: keyPersistSet(true)},
		{name: "get", help: "Get the key persistence state", ret: "KeyPersistence", run: keyPersistGet},
	}},
	{name: "system.syslog.config", help: "Syslog configuration", cmds: []*cliCommand{
		{name: "get", help: "Show the syslog configuration", ret: "Config", run: syslogGet},
	}},
	{name: "system.syslog.config.logfilter", help: "Log filtering", cmds: []*cliCommand{
		{name: "get", help: "Show whether log filtering is enabled", ret: "LogFilter", run: logFilterGet},
		{name: "set", help: "Enable or disable log filtering", ret: "boolean", params: []cliParam{
			boolParam("logfilteringenabled", "log-filtering-enabled", "", "Enable log filtering", true)}, run: logFilterSet},
	}},
	{name: "system.account", help: "Local user accounts", cmds: []*cliCommand{
		{name: "list", help: "List local user accounts", ret: "Account[]", run: accountList},
		{name: "set", help: "Modify a local user account", ret: "boolean", params: []cliParam{
			strParam("description", "d", "User description", false), strParam("id", "i", "User ID", true),
			strParam("password", "p", "User password", false),
			strParam("passwordconfirmation", "c", "Password confirmation", false),
			boolParam("shellaccess", "shell-access", "s", "Shell access (true/false)", false)}, run: accountSet},
	}},
	{name: "network.firewall", help: "A set of commands for firewall related operations", cmds: []*cliCommand{
		{name: "get", help: "Get the firewall status.", ret: "Firewall", run: firewallGet},
		{name: "set", help: "Set firewall enabled status and default action.", ret: "boolean", params: []cliParam{
			boolParam("defaultaction", "default-action", "d", "Set to true to set defaultaction PASS, set to false to DROP.", false),
			boolParam("enabled", "enabled", "e", "Set to true to enable the firewall, set to false to disable the firewall.", false)},
			run: firewallSet},
	}},
}

var namespaceByMoid = func() map[string]*cliNamespace {
	m := map[string]*cliNamespace{}
	for _, n := range cliNamespaces {
		m[n.moid()] = n
	}
	return m
}()

var fetchCLIInfoCommand = &cliCommand{name: "FetchCLIInfo", params: []cliParam{strParam("typeName", "t", "", true)},
	run: fetchCLIInfo}

func fipsNamespace(svc string) *cliNamespace {
	return &cliNamespace{name: "system.security.fips140." + svc, help: "FIPS 140 mode of " + svc, cmds: []*cliCommand{
		{name: "get", help: "Get the FIPS 140 mode of " + svc, ret: "OutputType", run: func(c *cliCall) (*cliResultValue, *cliFault) {
			return &cliResultValue{one: &cliStruct{kind: c.kind("OutputType"),
				fields: []cliField{{"Enabled", []string{fmt.Sprint(c.h.fips[svc])}}}}}, nil
		}},
		{name: "set", help: "Set the FIPS 140 mode of " + svc, ret: "boolean",
			params: []cliParam{boolParam("enable", "enable", "e", "Enable or disable FIPS 140 mode", true)},
			run: func(c *cliCall) (*cliResultValue, *cliFault) {
				v, _ := c.boolean("enable")
				c.h.fips[svc] = v
				return boolResult(true), nil
			}},
	}}
}

// ---------------------------------------------------------------------------------------------
// system ssh server config

var sshYesNo = map[string]bool{"allowstreamlocalforwarding": true, "allowtcpforwarding": true, "compression": true,
	"fipsmode": true, "gatewayports": true, "hostbasedauthentication": true, "ignorerhosts": true,
	"permitemptypasswords": true, "permittunnel": true, "permituserenvironment": true, "strictmodes": true,
	"x11forwarding": true}

var sshNumeric = map[string]bool{"clientalivecountmax": true, "clientaliveinterval": true, "maxauthtries": true,
	"maxsessions": true}

var sshCiphers = map[string]bool{"aes128-ctr": true, "aes192-ctr": true, "aes256-ctr": true,
	"aes128-gcm@openssh.com": true, "aes256-gcm@openssh.com": true, "aes128-cbc": true, "aes192-cbc": true,
	"aes256-cbc": true, "chacha20-poly1305@openssh.com": true}

func sshList(c *cliCall) (*cliResultValue, *cliFault) {
	kw, filter := c.str("keyword")
	kw = strings.ToLower(strings.TrimSpace(kw))
	out := &cliResultValue{rows: []cliStruct{}}
	for _, kv := range c.h.ssh {
		if filter && kv.key != kw {
			continue
		}
		out.rows = append(out.rows, cliStruct{kind: c.kind("Config"),
			fields: []cliField{{"Key", []string{kv.key}}, {"Value", []string{kv.value}}}})
	}
	if filter && len(out.rows) == 0 {
		return nil, cliErr("Invalid keyword: %s", kw)
	}
	return out, nil
}

func sshSet(c *cliCall) (*cliResultValue, *cliFault) {
	kw, _ := c.str("keyword")
	val, _ := c.str("value")
	kw = strings.ToLower(strings.TrimSpace(kw))
	val = strings.TrimSpace(val)
	known := false
	for _, kv := range c.h.ssh {
		known = known || kv.key == kw
	}
	switch {
	case !known:
		return nil, cliErr("Invalid keyword: %s", kw)
	case sshYesNo[kw]:
		val = strings.ToLower(val)
		if val != "yes" && val != "no" {
			return nil, cliErr("Invalid value '%s' for keyword '%s': expected yes or no", val, kw)
		}
	case sshNumeric[kw]:
		if n, err := strconv.ParseUint(val, 10, 31); err != nil || fmt.Sprint(n) != val {
			return nil, cliErr("Invalid value '%s' for keyword '%s': expected a non-negative integer", val, kw)
		}
	case kw == "ciphers":
		for _, ci := range strings.Split(val, ",") {
			if !sshCiphers[ci] {
				return nil, cliErr("Invalid value '%s' for keyword 'ciphers': unsupported cipher '%s'", val, ci)
			}
		}
	case val == "":
		return nil, cliErr("Invalid value '' for keyword '%s'", kw)
	}
	c.h.setSSH(kw, val)
	return boolResult(true), nil
}

// ---------------------------------------------------------------------------------------------
// system tls server

type tlsProfileInfo struct{ cipherList, cipherSuite, groups, protocols string }

var tlsProfiles = map[string]tlsProfileInfo{
	"COMPATIBLE": {"ECDHE+AESGCM:ECDHE+AES", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
		"prime256v1:secp384r1:secp521r1", "tls1.2"},
	"MANUAL": {"ECDHE+AESGCM:ECDHE+AES", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
		"prime256v1:secp384r1:secp521r1", "tls1.2"},
	"NIST_2024": {"ECDHE+AESGCM", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "prime256v1:secp384r1:secp521r1",
		"tls1.2,tls1.3"},
	"NIST_2024_TLS_13_ONLY": {"", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "prime256v1:secp384r1:secp521r1",
		"tls1.3"},
}

// tlsProfileNames lists the profiles the host's version accepts: NIST_2024_TLS_13_ONLY from 9.0 only.
func (s *Sim) tlsProfileNames() []string {
	names := []string{"COMPATIBLE", "MANUAL", "NIST_2024"}
	if !versionLess(s.cfg.apiVersion, "9.0") {
		names = append(names, "NIST_2024_TLS_13_ONLY")
	}
	return names
}

func tlsGet(c *cliCall) (*cliResultValue, *cliFault) {
	profile := c.h.tlsProfile
	if boot, _ := c.boolean("showcurrentbootprofile"); boot {
		profile = c.h.tlsBootProfile
	}
	p := tlsProfiles[profile]
	return &cliResultValue{one: &cliStruct{kind: c.kind("Profile"), fields: []cliField{
		{"CipherList", []string{p.cipherList}}, {"CipherSuite", []string{p.cipherSuite}}, {"Groups", []string{p.groups}},
		{"Profile", []string{profile}}, {"ProtocolVersions", []string{p.protocols}},
		{"RebootRequired", []string{fmt.Sprint(c.h.tlsProfile != c.h.tlsBootProfile)}},
	}}}, nil
}

func tlsSet(c *cliCall) (*cliResultValue, *cliFault) {
	p, _ := c.str("profile")
	names := c.sim.tlsProfileNames()
	for _, n := range names {
		if p == n {
			c.h.tlsProfile = p
			return boolResult(true), nil
		}
	}
	return nil, cliErr("Invalid profile '%s'. Valid profiles are: %s", p, strings.Join(names, ", "))
}

// ---------------------------------------------------------------------------------------------
// system settings encryption (runtime.stateEncryption follows it: stateenc.go)

const encFailed = "Unable to change the encryption mode and policy. Verify that the current host configuration can satisfy the new requirement."

func encGet(c *cliCall) (*cliResultValue, *cliFault) {
	return &cliResultValue{one: &cliStruct{kind: c.kind("Encryption"), fields: []cliField{
		{"Mode", []string{c.h.encMode}},
		{"RequireExecutablesOnlyFromInstalledVIBs", []string{fmt.Sprint(c.h.encExecOnly)}},
		{"RequireSecureBoot", []string{fmt.Sprint(c.h.encSecureBoot)}},
	}}}, nil
}

func encSet(c *cliCall) (*cliResultValue, *cliFault) {
	h := c.h
	mode, modeGiven := c.str("mode")
	exec, execGiven := c.boolean("requireexecinstalledonly")
	sb, sbGiven := c.boolean("requiresecureboot")
	if !modeGiven && !execGiven && !sbGiven {
		return nil, cliErr("At least one of --mode, --require-secure-boot or --require-exec-installed-only is required")
	}
	newMode := h.encMode
	if modeGiven {
		newMode = strings.ToUpper(strings.TrimSpace(mode))
		if newMode != "NONE" && newMode != "TPM" {
			return nil, cliErr("Invalid encryption mode '%s'. Valid modes are: NONE, TPM", mode)
		}
	}
	newExec, newSB := h.encExecOnly, h.encSecureBoot
	if execGiven {
		newExec = exec
	}
	if sbGiven {
		newSB = sb
	}
	switch {
	case newMode == "TPM" && !h.hasTPM: // no TPM 2.0 on this host
		return nil, &cliFault{errMsg: []string{encFailed, "A TPM 2.0 device is required for mode TPM"}}
	case newSB && !h.encSecureBoot && !h.secureBoot: // enforcement needs a host booted with Secure Boot
		return nil, &cliFault{errMsg: []string{encFailed, "UEFI Secure Boot is not enabled on this host"}}
	case h.encMode == "TPM" && newMode == "NONE": // TPM mode cannot be undone
		return nil, &cliFault{errMsg: []string{encFailed, "The encryption mode cannot be changed from TPM to NONE"}}
	case (newExec || newSB) && newMode != "TPM":
		return nil, &cliFault{errMsg: []string{encFailed, "The enforcement policies require encryption mode TPM"}}
	}
	before := h.stateEncryption()
	h.encMode, h.encExecOnly, h.encSecureBoot = newMode, newExec, newSB
	if after := h.stateEncryption(); !sameXML(&before, &after) {
		publish(c.ctx, h.x.host, change("runtime.stateEncryption", after))
	}
	return boolResult(true), nil
}

// ---------------------------------------------------------------------------------------------
// system settings kernel

func (h *esxHost) kernelSetting(name string) *kernelSetting {
	for _, k := range h.kernel {
		if strings.EqualFold(k.name, name) {
			return k
		}
	}
	return nil
}

func kernelList(c *cliCall) (*cliResultValue, *cliFault) {
	out := &cliResultValue{rows: []cliStruct{}}
	opt, filter := c.str("option")
	for _, k := range c.h.kernel {
		if filter && !strings.EqualFold(k.name, opt) {
			continue
		}
		out.rows = append(out.rows, cliStruct{kind: c.kind("Setting"), fields: []cliField{
			{"Name", []string{k.name}}, {"Configured", []string{k.configured}}, {"Default", []string{k.def}},
			{"Runtime", []string{k.runtime}}, {"Type", []string{k.kind}}, {"Description", []string{k.help}}}})
	}
	return out, nil
}

func kernelSet(c *cliCall) (*cliResultValue, *cliFault) {
	name, _ := c.str("setting")
	val, _ := c.str("value")
	k := c.h.kernelSetting(name)
	if k == nil {
		return nil, cliErr("Invalid Kernel Setting: %s", name)
	}
	switch k.kind {
	case "Bool":
		switch strings.ToUpper(strings.TrimSpace(val)) {
		case "TRUE", "1", "YES", "ON":
			val = "TRUE"
		case "FALSE", "0", "NO", "OFF":
			val = "FALSE"
		default:
			return nil, cliErr("Invalid value '%s' for setting '%s' of type Bool", val, k.name)
		}
	case "uint32":
		n, err := strconv.ParseUint(strings.TrimSpace(val), 0, 32)
		if err != nil {
			return nil, cliErr("Invalid value '%s' for setting '%s' of type uint32", val, k.name)
		}
		val = strconv.FormatUint(n, 10)
	}
	k.configured = val // Runtime keeps its value until the host reboots
	return boolResult(true), nil
}

// ---------------------------------------------------------------------------------------------
// system security keypersistence

func keyPersistGet(c *cliCall) (*cliResultValue, *cliFault) {
	return &cliResultValue{one: &cliStruct{kind: c.kind("KeyPersistence"),
		fields: []cliField{{"Enabled", []string{fmt.Sprint(c.h.keyPersistence)}}}}}, nil
}

func keyPersistSet(on bool) func(c *cliCall) (*cliResultValue, *cliFault) {
	return func(c *cliCall) (*cliResultValue, *cliFault) {
		if on && !c.h.hasTPM {
			return nil, cliErr("Key persistence requires a TPM 2.0 device")
		}
		c.h.keyPersistence = on
		return boolResult(true), nil
	}
}

// ---------------------------------------------------------------------------------------------
// system syslog config (derived from the Syslog.global.* advanced options)

func optString(v interface{}) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// localLogOutput turns a datastore path ("[] /scratch/log", "[ds1] logs") into the local path.
func localLogOutput(dir string) string {
	dir = strings.TrimSpace(dir)
	if strings.HasPrefix(dir, "[") {
		if i := strings.Index(dir, "]"); i > 0 {
			ds, rest := dir[1:i], strings.TrimSpace(dir[i+1:])
			if ds == "" {
				return rest
			}
			return "/vmfs/volumes/" + ds + "/" + strings.TrimPrefix(rest, "/")
		}
	}
	return dir
}

func syslogGet(c *cliCall) (*cliResultValue, *cliFault) {
	h := c.h
	out := localLogOutput(optString(h.option("Syslog.global.logDir")))
	persistent := !(strings.HasPrefix(out, "/tmp") || strings.HasPrefix(out, "/var/tmp") ||
		strings.HasPrefix(out, "/var/run") || strings.HasPrefix(out, "/var/log"))
	remote := optString(h.option("Syslog.global.logHost"))
	if remote == "" {
		remote = "<none>"
	}
	f := func(name string, v interface{}) cliField { return cliField{name, []string{fmt.Sprint(v)}} }
	return &cliResultValue{one: &cliStruct{kind: c.kind("Config"), fields: []cliField{
		f("DefaultNetworkRetryTimeout", 180),
		f("DroppedLogFileRotationSize", 100),
		f("DroppedLogFileRotations", 10),
		f("EnforceSSLCertificates", h.option("Syslog.global.certificate.checkSSLCerts") == true),
		f("LocalLogOutput", out),
		f("LocalLogOutputIsConfigured", optString(h.option("Syslog.global.logDir")) != "[] /scratch/log"),
		f("LocalLogOutputIsPersistent", persistent),
		f("LocalLoggingDefaultRotationSize", optString(h.option("Syslog.global.defaultSize"))),
		f("LocalLoggingDefaultRotations", optString(h.option("Syslog.global.defaultRotate"))),
		f("LogLevel", optString(h.option("Syslog.global.logLevel"))),
		f("LogToUniqueSubdirectory", false),
		f("MessageQueueDropMark", 90),
		f("RemoteHost", remote),
		f("StrictX509Compliance", h.option("Syslog.global.certificate.strictX509Compliance") == true),
	}}}, nil
}

func logFilterGet(c *cliCall) (*cliResultValue, *cliFault) {
	return &cliResultValue{one: &cliStruct{kind: c.kind("LogFilter"), fields: []cliField{
		{"LogFilteringEnabled", []string{fmt.Sprint(c.h.option("Syslog.global.logFiltersEnable") == true)}}}}}, nil
}

// logFilterSet writes Syslog.global.logFiltersEnable: the same setting as the advanced option.
func logFilterSet(c *cliCall) (*cliResultValue, *cliFault) {
	v, _ := c.boolean("logfilteringenabled")
	opt := c.h.x.opt
	onObject(c.ctx, opt, func() {
		opt.set(c.ctx, []types.BaseOptionValue{&types.OptionValue{Key: "Syslog.global.logFiltersEnable", Value: v}})
	})
	return boolResult(true), nil
}

// ---------------------------------------------------------------------------------------------
// system account

func accountList(c *cliCall) (*cliResultValue, *cliFault) {
	out := &cliResultValue{rows: []cliStruct{}}
	for _, a := range c.h.accounts {
		out.rows = append(out.rows, cliStruct{kind: c.kind("Account"), fields: []cliField{
			{"UserID", []string{a.id}}, {"Description", []string{a.description}},
			{"Shellaccess", []string{fmt.Sprint(a.shell)}}}})
	}
	return out, nil
}

func accountSet(c *cliCall) (*cliResultValue, *cliFault) {
	id, _ := c.str("id")
	var acct *cliAccount
	for _, a := range c.h.accounts {
		if a.id == id {
			acct = a
		}
	}
	if acct == nil {
		return nil, cliErr("The user or group named '%s' does not exist.", id)
	}
	pw, pwGiven := c.str("password")
	confirm, confirmGiven := c.str("passwordconfirmation")
	if (pwGiven || confirmGiven) && pw != confirm {
		return nil, cliErr("Password and password confirmation do not match.")
	}
	shell, shellGiven := c.boolean("shellaccess")
	if shellGiven && !shell && id == "root" {
		return nil, cliErr("Shell access of the root user cannot be removed.")
	}
	if d, ok := c.str("description"); ok {
		acct.description = d
	}
	if shellGiven {
		acct.shell = shell
	}
	return boolResult(true), nil
}

// ---------------------------------------------------------------------------------------------
// network firewall (DefaultAction is the HostFirewallSystem's incoming default policy)

func firewallGet(c *cliCall) (*cliResultValue, *cliFault) {
	fw := c.h.x.fw
	action := "DROP"
	simulator.Map.WithLock(fw, func() { // UpdateDefaultPolicy replaces FirewallInfo under this lock
		if !isTrue(fw.FirewallInfo.DefaultPolicy.IncomingBlocked) {
			action = "PASS"
		}
	})
	return &cliResultValue{one: &cliStruct{kind: c.kind("Firewall"), fields: []cliField{
		{"DefaultAction", []string{action}}, {"Enabled", []string{fmt.Sprint(c.h.fwEnabled)}},
		{"Loaded", []string{"true"}}}}}, nil
}

func firewallSet(c *cliCall) (*cliResultValue, *cliFault) {
	if pass, ok := c.boolean("defaultaction"); ok {
		fw := c.h.x.fw
		onObject(c.ctx, fw, func() {
			if isTrue(fw.FirewallInfo.DefaultPolicy.IncomingBlocked) == !pass {
				return
			}
			fw.mutable()
			fw.FirewallInfo.DefaultPolicy.IncomingBlocked = boolPtr(!pass)
			fw.publish(c.ctx, "defaultPolicy")
		})
	}
	if on, ok := c.boolean("enabled"); ok {
		c.h.fwEnabled = on
	}
	return boolResult(true), nil
}

// ---------------------------------------------------------------------------------------------
// vim.CLIInfo.FetchCLIInfo

func fetchCLIInfo(c *cliCall) (*cliResultValue, *cliFault) {
	name, _ := c.str("typeName")
	name = strings.TrimPrefix(name, "vim.EsxCLI.")
	for _, ns := range cliNamespaces {
		if ns.name == name {
			return &cliResultValue{one: &cliStruct{kind: "VimCLIInfoInfo"}, raw: cliInfoXML(ns)}, nil
		}
	}
	return nil, cliErr("Type vim.EsxCLI.%s not found", name)
}

func cliInfoXML(ns *cliNamespace) string {
	var b strings.Builder
	item := func(name, display, help string) {
		b.WriteString("<name>" + xmlText(name) + "</name><displayName>" + xmlText(display) + "</displayName><help>" +
			xmlText(help) + "</help>")
	}
	item(ns.name, ns.display(), ns.help)
	cmds := append([]*cliCommand(nil), ns.cmds...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, m := range cmds {
		b.WriteString("<method>")
		item(m.name, m.name, m.help)
		for _, p := range m.params {
			b.WriteString("<param>")
			item(p.name, p.display, p.help)
			for _, a := range p.aliases {
				b.WriteString("<aliases>" + xmlText(a) + "</aliases>")
			}
			fmt.Fprintf(&b, "<flag>%t</flag></param>", p.flag)
		}
		formatter := "simple"
		if strings.HasSuffix(m.ret, "[]") {
			formatter = "table"
		} else if m.ret == "boolean" {
			formatter = ""
		}
		b.WriteString("<hints><key>formatter</key><value>" + formatter + "</value></hints></method>")
	}
	return b.String()
}
