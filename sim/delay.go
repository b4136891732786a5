package main

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Latency: -method-delay (per method, applied by the library once it has dispatched the call) and
// -delay/-delay-jitter (every SOAP call, applied by the middleware before anything else).

// parseMethodDelay parses "Method:ms,Method:ms" into the library's DelayConfig.MethodDelay map.
func parseMethodDelay(spec string) (map[string]int, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	out := map[string]int{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndex(item, ":")
		if i <= 0 {
			return nil, fmt.Errorf("%q: want Method:ms", item)
		}
		ms, err := strconv.Atoi(item[i+1:])
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("%q: delay must be a non-negative integer (ms)", item)
		}
		out[item[:i]] = ms
	}
	return out, nil
}

// callDelay is the -delay/-delay-jitter latency added to every SOAP call: a fixed part (LAN round trip plus
// vCenter service time) and a uniformly random extra 0..jitter.
type callDelay struct {
	base   time.Duration
	jitter time.Duration

	mu  sync.Mutex
	rnd *rand.Rand
}

// newCallDelay returns the delay for -delay MS -delay-jitter MS, or nil when both are zero.
func newCallDelay(baseMS, jitterMS int) (*callDelay, error) {
	if baseMS < 0 || jitterMS < 0 {
		return nil, fmt.Errorf("-delay and -delay-jitter must be non-negative integers (ms)")
	}
	if baseMS == 0 && jitterMS == 0 {
		return nil, nil
	}
	return &callDelay{base: time.Duration(baseMS) * time.Millisecond, jitter: time.Duration(jitterMS) * time.Millisecond,
		rnd: rand.New(rand.NewSource(time.Now().UnixNano()))}, nil
}

// next returns the delay for one call: base plus a uniform 0..jitter (inclusive).
func (d *callDelay) next() time.Duration {
	if d.jitter <= 0 {
		return d.base
	}
	d.mu.Lock()
	extra := time.Duration(d.rnd.Int63n(int64(d.jitter) + 1))
	d.mu.Unlock()
	return d.base + extra
}

// wait sleeps for one call's delay; a nil delay returns at once.
func (d *callDelay) wait() {
	if d == nil {
		return
	}
	if t := d.next(); t > 0 {
		time.Sleep(t)
	}
}
