package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// optSpec describes one typed ESXi advanced option (types and install defaults as on ESXi 7.0 U3 / 8.0).
type optSpec struct {
	key, summary string
	kind         string // long | bool | string | choice
	def          interface{}
	min, max     int64
	choices      []string
}

const maxLong = math.MaxInt32

var optionTable = []optSpec{
	{key: "Security.AccountUnlockTime", summary: "Seconds a locked-out account stays locked", kind: "long", def: int64(900), min: 0, max: maxLong},
	{key: "Security.AccountLockFailures", summary: "Failed logins before an account is locked (0 disables)", kind: "long", def: int64(5), min: 0, max: 99},
	{key: "Security.PasswordHistory", summary: "Number of previous passwords remembered", kind: "long", def: int64(5), min: 0, max: 100},
	{key: "Security.PasswordMaxDays", summary: "Maximum password age in days", kind: "long", def: int64(9999), min: 0, max: 99999},
	{key: "Security.PasswordQualityControl", summary: "pam_passwdqc options", kind: "string", def: "retry=3 min=disabled,disabled,disabled,7,7"},
	{key: "Security.SshSessionLimit", summary: "Maximum concurrent SSH sessions (0 = unlimited)", kind: "long", def: int64(0), min: 0, max: 100},
	{key: "Annotations.WelcomeMessage", summary: "DCUI welcome message", kind: "string", def: ""},
	{key: "Config.Etc.issue", summary: "Contents of /etc/issue (SSH banner)", kind: "string", def: ""},
	{key: "Config.Etc.motd", summary: "Contents of /etc/motd", kind: "string", def: ""},
	{key: "Config.HostAgent.vmacore.soap.sessionTimeout", summary: "Idle API session timeout (minutes)", kind: "long", def: int64(30), min: 0, max: 1440},
	{key: "Config.HostAgent.plugins.solo.enableMob", summary: "Enable the managed object browser", kind: "bool", def: false},
	{key: "Config.HostAgent.plugins.hostsvc.esxAdminsGroup", summary: "AD group granted administrator", kind: "string", def: "ESX Admins"},
	{key: "Config.HostAgent.log.level", summary: "hostd log level", kind: "choice", def: "info",
		choices: []string{"none", "quiet", "panic", "error", "warning", "info", "verbose", "trivia"}},
	{key: "UserVars.HostClientSessionTimeout", summary: "Host Client idle timeout (seconds, 0 disables)", kind: "long", def: int64(900), min: 0, max: 7200},
	{key: "UserVars.DcuiTimeOut", summary: "DCUI idle timeout (seconds)", kind: "long", def: int64(600), min: 0, max: 3600},
	{key: "UserVars.ESXiShellInteractiveTimeOut", summary: "Idle ESXi Shell/SSH session timeout (seconds)", kind: "long", def: int64(0), min: 0, max: 86400},
	{key: "UserVars.ESXiShellTimeOut", summary: "ESXi Shell/SSH availability timeout (seconds)", kind: "long", def: int64(0), min: 0, max: 86400},
	{key: "UserVars.SuppressShellWarning", summary: "Suppress the shell-enabled warning", kind: "long", def: int64(0), min: 0, max: 1},
	{key: "UserVars.SuppressHyperthreadWarning", summary: "Suppress the hyperthreading warning", kind: "long", def: int64(0), min: 0, max: 1},
	{key: "UserVars.SuppressCoredumpWarning", summary: "Suppress the coredump warning", kind: "long", def: int64(0), min: 0, max: 1},
	{key: "UserVars.ESXiVPsDisabledProtocols", summary: "TLS protocols disabled for ESXi services", kind: "string", def: "sslv3,tlsv1,tlsv1.1"},
	{key: "Net.BMCNetworkEnable", summary: "Enable the BMC network interface", kind: "long", def: int64(1), min: 0, max: 1},
	{key: "Net.BlockGuestBPDU", summary: "Block BPDUs sent by guests", kind: "long", def: int64(1), min: 0, max: 1},
	{key: "Net.DVFilterBindIpAddress", summary: "dvfilter fast-path bind address", kind: "string", def: ""},
	{key: "Syslog.global.logHost", summary: "Remote syslog targets (comma-separated URIs)", kind: "string", def: ""},
	{key: "Syslog.global.logDir", summary: "Local log directory", kind: "string", def: "[] /scratch/log"},
	{key: "Syslog.global.logLevel", summary: "vmsyslogd log level", kind: "choice", def: "error",
		choices: []string{"debug", "info", "warning", "error"}},
	{key: "Syslog.global.defaultRotate", summary: "Rotated logs kept", kind: "long", def: int64(8), min: 0, max: 100},
	{key: "Syslog.global.defaultSize", summary: "Log size before rotation (KiB)", kind: "long", def: int64(1024), min: 1, max: 10240},
	{key: "Syslog.global.certificate.checkSSLCerts", summary: "Verify remote syslog certificates", kind: "bool", def: true},
	{key: "Syslog.global.certificate.strictX509Compliance", summary: "Strict X.509 checks for syslog TLS", kind: "bool", def: false},
	{key: "Syslog.global.auditRecord.storageEnable", summary: "Store audit records locally", kind: "bool", def: false},
	{key: "Syslog.global.auditRecord.storageCapacity", summary: "Audit record storage (MiB)", kind: "long", def: int64(4), min: 4, max: 100},
	{key: "Syslog.global.auditRecord.storageDirectory", summary: "Persistent audit record directory", kind: "string", def: "/scratch/auditLog"},
	{key: "Syslog.global.logCheckSSLCerts", summary: "Verify remote syslog certificates (ESXi 7 name)", kind: "bool", def: true},
	{key: "Syslog.global.logFiltersEnable", summary: "Enable log filtering", kind: "bool", def: false},
	{key: "Syslog.global.logFilters", summary: "Log filters (numLogs | ident | regexp, separated by ||)", kind: "string", def: ""},
	{key: "Syslog.global.auditRecord.remoteEnable", summary: "Forward audit records", kind: "bool", def: false},
	{key: "DCUI.Access", summary: "Users allowed on the DCUI in lockdown mode", kind: "string", def: "root"},
	{key: "Mem.ShareForceSalting", summary: "Transparent page sharing salting (0 inter-VM, 2 intra-VM)", kind: "long", def: int64(2), min: 0, max: 2},
	{key: "Mem.MemEagerZero", summary: "Zero VM memory on power-off", kind: "long", def: int64(0), min: 0, max: 1},
	{key: "VMkernel.Boot.execInstalledOnly", summary: "Only run binaries from signed VIBs", kind: "bool", def: false},
	// ESXi 8.0 U3 / 9.0 options of the VCF 9.1 SCG (install defaults as the SCG 9.1 lists them; ESXi 8.0 U3
	// changed esxAdminsGroupAutoAdd to false and authValidateInterval to 90, VMSA-2024-0013).
	{key: "Config.HostAgent.plugins.hostsvc.esxAdminsGroupAutoAdd", summary: "Add the AD admins group to the Administrator role automatically", kind: "bool", def: false},
	{key: "Config.HostAgent.plugins.vimsvc.authValidateInterval", summary: "Minutes between re-validations of AD users and groups", kind: "long", def: int64(90), min: 1, max: maxLong},
	{key: "Config.HostAgent.plugins.vmsvc.allowForensicSnapshots", summary: "Allow forensic (memory) snapshots of VMs", kind: "bool", def: false},
	{key: "UserVars.HostClientCEIPOptIn", summary: "Host Client CEIP (0 ask, 1 opted in, 2 opted out)", kind: "long", def: int64(0), min: 0, max: 2},
	{key: "Security.PasswordQualityControlPwquality", summary: "pam_pwquality options (ESX 9)", kind: "string", def: "retry=3 dcredit=-1 ucredit=-1 lcredit=-1 ocredit=-1 minlen=7 difok=4 enforce_for_root"},
	{key: "Mem.EncryptTierNvme", summary: "Encrypt memory pages tiered to NVMe (ESX 9 memory tiering)", kind: "long", def: int64(0), min: 0, max: 1},
	{key: "Net.ReversePathFwdCheckPromisc", summary: "Reverse-path check for promiscuous portgroups", kind: "long", def: int64(1), min: 0, max: 1},
	{key: "Migrate.VMotionEncryptionOffload", summary: "Offload vMotion encryption to capable NICs", kind: "long", def: int64(1), min: 0, max: 1},
	{key: "Misc.BlueScreenTimeout", summary: "Seconds before rebooting after a PSOD (0 never)", kind: "long", def: int64(0), min: 0, max: 65535},
}

// HostOptionManager is a per-host, typed advanced-option manager.
type HostOptionManager struct {
	mo.OptionManager
	host *simulator.HostSystem
	spec map[string]*optSpec
}

func (s *optSpec) def_() types.OptionDef {
	d := types.OptionDef{ElementDescription: types.ElementDescription{
		Description: types.Description{Label: s.key, Summary: s.summary}, Key: s.key}}
	switch s.kind {
	case "long":
		d.OptionType = &types.LongOption{Min: s.min, Max: s.max, DefaultValue: s.def.(int64)}
	case "bool":
		d.OptionType = &types.BoolOption{Supported: true, DefaultValue: s.def.(bool)}
	case "choice":
		var infos []types.BaseElementDescription
		idx := int32(0)
		for i, c := range s.choices {
			if c == s.def {
				idx = int32(i)
			}
			infos = append(infos, &types.ElementDescription{Description: types.Description{Label: c, Summary: c}, Key: c})
		}
		d.OptionType = &types.ChoiceOption{ChoiceInfo: infos, DefaultIndex: idx}
	default:
		d.OptionType = &types.StringOption{DefaultValue: s.def.(string)}
	}
	return d
}

func newHostOptionManager(h *simulator.HostSystem) *HostOptionManager {
	m := &HostOptionManager{host: h, spec: map[string]*optSpec{}}
	for i := range optionTable {
		s := &optionTable[i]
		m.spec[s.key] = s
		m.SupportedOption = append(m.SupportedOption, s.def_())
		m.Setting = append(m.Setting, &types.OptionValue{Key: s.key, Value: s.def})
	}
	return m
}

func (m *HostOptionManager) settingCopy() []types.BaseOptionValue {
	out := make([]types.BaseOptionValue, len(m.Setting))
	for i, v := range m.Setting {
		ov := *v.GetOptionValue()
		out[i] = &ov
	}
	return out
}

func (m *HostOptionManager) QueryOptions(ctx *simulator.Context, req *types.QueryOptions) soap.HasFault {
	var out []types.BaseOptionValue
	for _, opt := range m.Setting {
		k := opt.GetOptionValue().Key
		if req.Name == "" || k == req.Name || (strings.HasSuffix(req.Name, ".") && strings.HasPrefix(k, req.Name)) {
			ov := *opt.GetOptionValue()
			out = append(out, &ov)
		}
	}
	if len(out) == 0 {
		return &methods.QueryOptionsBody{Fault_: fault("A specified parameter was not correct: "+req.Name,
			&types.InvalidName{Name: req.Name})}
	}
	return &methods.QueryOptionsBody{Res: &types.QueryOptionsResponse{Returnval: out}}
}

func xsdName(v interface{}) string {
	switch v.(type) {
	case int64:
		return "xsd:long"
	case int32:
		return "xsd:int"
	case int16:
		return "xsd:short"
	case int8:
		return "xsd:byte"
	case bool:
		return "xsd:boolean"
	case string:
		return "xsd:string"
	case float32:
		return "xsd:float"
	case float64:
		return "xsd:double"
	case nil:
		return "no value"
	}
	return fmt.Sprintf("%T", v)
}

// check validates one value against its OptionDef: the xsd type must match exactly (xsd:long for a
// LongOption, xsd:boolean for a BoolOption, xsd:string otherwise) and numbers must be within range.
func (s *optSpec) check(v interface{}) *soap.Fault {
	bad := func(why string) *soap.Fault {
		return fault(fmt.Sprintf("A specified parameter was not correct: %s (%s)", s.key, why),
			&types.InvalidArgument{InvalidProperty: s.key})
	}
	switch s.kind {
	case "long":
		n, ok := v.(int64)
		if !ok {
			return bad(fmt.Sprintf("type %s, expected xsd:long", xsdName(v)))
		}
		if n < s.min || n > s.max {
			return bad(fmt.Sprintf("value %d out of range %d..%d", n, s.min, s.max))
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return bad(fmt.Sprintf("type %s, expected xsd:boolean", xsdName(v)))
		}
	case "choice":
		str, ok := v.(string)
		if !ok {
			return bad(fmt.Sprintf("type %s, expected xsd:string", xsdName(v)))
		}
		for _, c := range s.choices {
			if c == str {
				return nil
			}
		}
		return bad(fmt.Sprintf("%q is not one of %s", str, strings.Join(s.choices, ", ")))
	default:
		if _, ok := v.(string); !ok {
			return bad(fmt.Sprintf("type %s, expected xsd:string", xsdName(v)))
		}
	}
	return nil
}

// UpdateOptions validates every change first (unknown key: InvalidName; wrong type or range:
// InvalidArgument) and then applies all of them.
func (m *HostOptionManager) UpdateOptions(ctx *simulator.Context, req *types.UpdateOptions) soap.HasFault {
	for _, c := range req.ChangedValue {
		ov := c.GetOptionValue()
		s, ok := m.spec[ov.Key]
		if !ok {
			return &methods.UpdateOptionsBody{Fault_: fault("A specified parameter was not correct: "+ov.Key,
				&types.InvalidName{Name: ov.Key})}
		}
		if f := s.check(ov.Value); f != nil {
			return &methods.UpdateOptionsBody{Fault_: f}
		}
	}
	m.set(ctx, req.ChangedValue)
	return &methods.UpdateOptionsBody{Res: &types.UpdateOptionsResponse{}}
}

func (m *HostOptionManager) set(ctx *simulator.Context, values []types.BaseOptionValue) {
	if len(values) == 0 {
		return
	}
	setting := m.settingCopy() // new slice: readers of the old one are unaffected
	changed := false
	for _, c := range values {
		ov := c.GetOptionValue()
		for i := range setting {
			if setting[i].GetOptionValue().Key == ov.Key && setting[i].GetOptionValue().Value != ov.Value {
				setting[i] = &types.OptionValue{Key: ov.Key, Value: ov.Value}
				changed = true
			}
		}
	}
	if !changed {
		return // the property collector reports changes only
	}
	publish(ctx, m, change("setting", setting))
	publish(ctx, m.host, change("config.option", m.settingCopy()))
}
