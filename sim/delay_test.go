package main

import (
	"testing"
	"time"
)

func TestCallDelayStaysWithinBounds(t *testing.T) {
	d, err := newCallDelay(5, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Duration]bool{}
	for i := 0; i < 10000; i++ {
		n := d.next()
		if n < 5*time.Millisecond || n > 8*time.Millisecond {
			t.Fatalf("delay %s outside 5ms..8ms", n)
		}
		seen[n/time.Millisecond] = true
	}
	for ms := time.Duration(5); ms <= 7; ms++ {
		if !seen[ms] {
			t.Errorf("no delay in [%dms, %dms) in 10,000 draws: not uniform over 0..jitter", ms, ms+1)
		}
	}
}

func TestCallDelayWithoutJitterIsFixed(t *testing.T) {
	d, _ := newCallDelay(7, 0)
	if n := d.next(); n != 7*time.Millisecond {
		t.Fatalf("delay %s, want 7ms", n)
	}
}

func TestNoCallDelay(t *testing.T) {
	d, err := newCallDelay(0, 0)
	if err != nil || d != nil {
		t.Fatalf("newCallDelay(0, 0) = %v, %v; want nil, nil", d, err)
	}
	d.wait() // a nil delay returns at once
}

func TestNegativeCallDelayIsRefused(t *testing.T) {
	for _, c := range [][2]int{{-1, 0}, {0, -1}} {
		if _, err := newCallDelay(c[0], c[1]); err == nil {
			t.Errorf("newCallDelay(%d, %d) accepted", c[0], c[1])
		}
	}
}

func TestParseMethodDelay(t *testing.T) {
	got, err := parseMethodDelay("UpdateOptions:200, ReconfigVM_Task:500")
	if err != nil || got["UpdateOptions"] != 200 || got["ReconfigVM_Task"] != 500 || len(got) != 2 {
		t.Fatalf("parseMethodDelay = %v, %v", got, err)
	}
	for _, bad := range []string{"UpdateOptions", "UpdateOptions:-1", ":5", "X:abc"} {
		if _, err := parseMethodDelay(bad); err == nil {
			t.Errorf("parseMethodDelay(%q) accepted", bad)
		}
	}
}
