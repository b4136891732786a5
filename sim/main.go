// Command vsr-sim is the vsr project's vCenter/ESXi simulator: Debian's govmomi 0.24.2 simulator library
// extended with the host- and VM-security API surface plain vcsim lacks (see docs/simulator.md).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"

	_ "github.com/vmware/govmomi/pbm/simulator"  // /pbm: storage policies (incl. VM Encryption Policy)
	_ "github.com/vmware/govmomi/vapi/simulator" // /rest and /api: sessions, tags, content library
)

type config struct {
	listen        string
	useTLS        bool
	tlsCert       string
	tlsKey        string
	username      string
	password      string
	dc            int
	cluster       int
	host          int
	standalone    int
	vmPerHost     int
	portgroup     int
	esx           bool
	apiVersion    string
	methodDelay   string
	delay         int
	delayJitter   int
	fail          string
	drift         bool
	noTPM         string
	noSecureBoot  string
	noTXT         string
	restricted    bool
	plain         bool
	trace         bool
	verbose       bool
	sessionIdle   time.Duration
	rebootSeconds float64
	guests        string
}

// secretValue returns the content of the file named by v (trimmed) when v names a readable file, else v.
func secretValue(v string) string {
	if v == "" {
		return v
	}
	if st, err := os.Stat(v); err == nil && st.Mode().IsRegular() {
		b, err := os.ReadFile(v)
		if err == nil {
			return strings.TrimRight(string(b), "\r\n")
		}
	}
	return v
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("vsr-sim", flag.ContinueOnError)
	fs.StringVar(&c.listen, "l", "127.0.0.1:8989", "listen address (host:port; port 0 picks a free port)")
	fs.BoolVar(&c.useTLS, "tls", true, "serve HTTPS")
	fs.StringVar(&c.tlsCert, "tlscert", "", "PEM certificate file (default: a generated 2048-bit self-signed certificate)")
	fs.StringVar(&c.tlsKey, "tlskey", "", "PEM private key file")
	fs.StringVar(&c.username, "username", "user", "login user name, or a file holding it")
	fs.StringVar(&c.password, "password", "pass", "login password, or a file holding it")
	fs.IntVar(&c.dc, "dc", 1, "datacenters")
	fs.IntVar(&c.cluster, "cluster", 1, "clusters per datacenter")
	fs.IntVar(&c.host, "host", 3, "hosts per cluster")
	fs.IntVar(&c.standalone, "standalone-host", 1, "standalone hosts per datacenter")
	fs.IntVar(&c.vmPerHost, "vm-per-host", 2, "virtual machines per host")
	fs.IntVar(&c.portgroup, "pg", 1, "distributed portgroups per datacenter")
	fs.BoolVar(&c.esx, "esx", false, "simulate a standalone ESXi host instead of vCenter")
	fs.StringVar(&c.apiVersion, "api-version", "7.0.3.0", "vSphere API version served")
	fs.StringVar(&c.methodDelay, "method-delay", "", "per-method delays: Method:ms,Method:ms")
	fs.IntVar(&c.delay, "delay", 0, "milliseconds added to every SOAP call (LAN round trip + service time)")
	fs.IntVar(&c.delayJitter, "delay-jitter", 0, "up to this many more milliseconds per SOAP call, uniformly random")
	fs.StringVar(&c.fail, "fail", "", "fault injection: Method[@object]:rate|/N[:Fault],...")
	fs.BoolVar(&c.drift, "drift", false, "start part of the estate insecure (see docs/simulator.md)")
	fs.StringVar(&c.noTPM, "no-tpm", "", "hosts without a TPM 2.0 device: names or moids, comma-separated, or all")
	fs.StringVar(&c.noSecureBoot, "no-secure-boot", "", "hosts booted without UEFI Secure Boot: names or moids, comma-separated, or all")
	fs.StringVar(&c.noTXT, "no-txt", "", "hosts with Intel TXT off in firmware: names or moids, comma-separated, or all")
	fs.BoolVar(&c.restricted, "restricted", false, "free-ESXi licensing: every write faults with RestrictedVersion")
	fs.BoolVar(&c.plain, "plain", false, "plain vcsim: none of the vsr extensions")
	fs.DurationVar(&c.sessionIdle, "session-timeout", 0, "expire sessions idle this long (e.g. 30s; 0 = never)")
	fs.StringVar(&c.guests, "guests", "", "guest OS, VMware Tools and guest accounts per VM: a file of `VM-glob key=value...` lines (docs/simulator.md)")
	fs.Float64Var(&c.rebootSeconds, "reboot-seconds", 2, "seconds a rebooting host stays notResponding (RebootHost_Task)")
	fs.BoolVar(&c.trace, "trace", false, "write SOAP traffic to stderr")
	fs.BoolVar(&c.verbose, "v", false, "library logging to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.username = secretValue(c.username)
	c.password = secretValue(c.password)
	if c.username == "" || c.password == "" {
		return nil, fmt.Errorf("-username and -password must not be empty")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, fmt.Errorf("-tlscert and -tlskey go together")
	}
	for _, n := range []int{c.dc, c.cluster, c.host, c.standalone, c.vmPerHost, c.portgroup} {
		if n < 0 {
			return nil, fmt.Errorf("inventory counts must be >= 0")
		}
	}
	if c.rebootSeconds < 0 {
		return nil, fmt.Errorf("-reboot-seconds must be >= 0")
	}
	if c.delay < 0 || c.delayJitter < 0 {
		return nil, fmt.Errorf("-delay and -delay-jitter must be >= 0 (ms)")
	}
	if c.plain && c.drift {
		return nil, fmt.Errorf("-drift needs the extensions (not with -plain)")
	}
	return c, nil
}

func fatal(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "vsr-sim: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fatal("%s", err)
	}
	start := time.Now()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT) // early: a stop while building still cleans up
	if !cfg.verbose {
		log.SetOutput(io.Discard)
	}
	simulator.Trace = cfg.trace
	simulator.SessionIdleTimeout = cfg.sessionIdle

	delays, err := parseMethodDelay(cfg.methodDelay)
	if err != nil {
		fatal("-method-delay: %s", err)
	}
	rules, err := parseFailRules(cfg.fail)
	if err != nil {
		fatal("-fail: %s", err)
	}
	callDelay, err := newCallDelay(cfg.delay, cfg.delayJitter)
	if err != nil {
		fatal("%s", err)
	}

	var tlsConfig *tls.Config
	if cfg.useTLS {
		tlsConfig, err = loadOrGenerateTLS(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			fatal("TLS: %s", err)
		}
	}

	if prof := os.Getenv("VSR_SIM_CPUPROFILE"); prof != "" {
		if f, err := os.Create(prof); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	// Inventory creation writes small files for every VM: keep them in memory when there is room (tmpdir.go),
	// and let the heap grow while building.
	useShmForDatastores(vmCount(cfg))
	gc := debug.SetGCPercent(400)
	model, err := buildModel(cfg)
	debug.SetGCPercent(gc)
	debug.FreeOSMemory()
	if err != nil {
		fatal("creating inventory: %s", err)
	}
	model.DelayConfig.MethodDelay = delays
	select {
	case <-sig:
		model.Remove()
		os.Exit(0)
	default:
	}

	sim := &Sim{cfg: cfg, rules: rules, delay: callDelay, methodDelay: delays}
	if !cfg.plain {
		if err := sim.install(); err != nil {
			model.Remove()
			fatal("installing extensions: %s", err)
		}
		if cfg.drift {
			sim.applyDrift()
		}
	}
	if cfg.restricted {
		sim.applyRestricted()
	}
	sim.indexOwners()
	pprof.StopCPUProfile() // the profile covers inventory creation and installing the extensions

	model.Service.TLS = tlsConfig
	model.Service.RegisterEndpoints = !cfg.esx // PBM and vAPI are vCenter services
	model.Service.Listen = &url.URL{Host: cfg.listen, User: url.UserPassword(cfg.username, cfg.password)}
	server := newServer(model)
	if server == nil {
		model.Remove()
		fatal("cannot listen on %s", cfg.listen)
	}
	// The library's server reads Handler per request; wrap it before announcing readiness.
	server.Config.Handler = sim.middleware(server.Config.Handler)
	if sim.guests != nil {
		sim.guests.port = server.URL.Port() // the guest file transfer URLs point at this listener
	}

	u := *server.URL
	u.User = nil
	fmt.Fprintf(os.Stderr, "vsr-sim: ready in %s (%d hosts, %d VMs)\n", time.Since(start).Round(time.Millisecond),
		len(simulator.Map.All("HostSystem")), len(simulator.Map.All("VirtualMachine")))
	fmt.Println(u.String())
	_ = os.Stdout.Sync()

	<-sig
	done := make(chan struct{})
	go func() {
		server.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second): // long WaitForUpdatesEx calls may hold connections
	}
	model.Remove()
	os.Exit(0)
}

// newServer starts the library's server; its listener panics when the address is taken.
func newServer(model *simulator.Model) (server *simulator.Server) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "vsr-sim: %v\n", r)
			server = nil
		}
	}()
	return model.Service.NewServer()
}
