package main

import "testing"

// calls runs the calls (method names) through the rules of spec and says which ones were failed.
func calls(t *testing.T, spec string, methods ...string) []bool {
	t.Helper()
	rules, err := parseFailRules(spec)
	if err != nil {
		t.Fatalf("parseFailRules(%q): %v", spec, err)
	}
	s := &Sim{rules: rules}
	failed := make([]bool, len(methods))
	for i, m := range methods {
		hit := s.pickFail(m, "obj-1", func() string { return "DC0_C0_H0" })
		if hit == nil {
			armRules(s.rules, m)
		}
		failed[i] = hit != nil
	}
	return failed
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFailFromTheCallAfterTheNth(t *testing.T) {
	const R = "RetrievePropertiesEx"
	got := calls(t, R+":>2", R, R, "UpdateOptions", R, R)
	if want := []bool{false, false, false, true, true}; !equal(got, want) {
		t.Fatalf("%s:>2 failed %v, want %v (the first 2 matching calls pass, every later one fails)", R, got, want)
	}
	if got := calls(t, R+":>0", R, R); !equal(got, []bool{true, true}) {
		t.Fatalf("%s:>0 failed %v, want every call", R, got)
	}
}

func TestFailTheFirstCallAfterEachWrite(t *testing.T) {
	const R = "RetrievePropertiesEx"
	got := calls(t, R+":>UpdateOptions:RequestCanceled", R, "UpdateOptions", R, R, "UpdateOptions", "UpdateOptions", R, R)
	if want := []bool{false, false, true, false, false, false, true, false}; !equal(got, want) {
		t.Fatalf("%s:>UpdateOptions failed %v, want %v (only the first read after each write)", R, got, want)
	}
}

func TestAWriteFailedByInjectionDoesNotArm(t *testing.T) {
	const R = "RetrievePropertiesEx"
	got := calls(t, "UpdateOptions:/1,"+R+":>UpdateOptions", "UpdateOptions", R)
	if want := []bool{true, false}; !equal(got, want) {
		t.Fatalf("failed %v, want %v: a write that was failed changed nothing, so nothing to fail a read after", got, want)
	}
}

func TestFailRuleScopedToAnObject(t *testing.T) {
	if got := calls(t, "UpdateOptions@DC0_C0_H1:>0", "UpdateOptions"); !equal(got, []bool{false}) {
		t.Fatalf("a rule for DC0_C0_H1 failed a call on DC0_C0_H0: %v", got)
	}
	if got := calls(t, "UpdateOptions@DC0_C0_H0:>0", "UpdateOptions"); !equal(got, []bool{true}) {
		t.Fatalf("a rule for DC0_C0_H0 did not fail a call on its option manager: %v", got)
	}
}

func TestParseFailRules(t *testing.T) {
	rules, err := parseFailRules("UpdateOptions:0.2, ReconfigVM_Task:/3, RetrievePropertiesEx:>4:SystemError, " +
		"RetrievePropertiesEx:>StartService")
	if err != nil || len(rules) != 4 {
		t.Fatalf("parseFailRules = %v, %v", rules, err)
	}
	if r := rules[0]; r.rate != 0.2 || r.every != 0 || r.from != -1 || r.after != "" {
		t.Errorf("rate rule parsed as %+v", *r)
	}
	if r := rules[1]; r.every != 3 || r.from != -1 {
		t.Errorf("/N rule parsed as %+v", *r)
	}
	if r := rules[2]; r.from != 4 || r.fault != "SystemError" || r.after != "" {
		t.Errorf(">N rule parsed as %+v", *r)
	}
	if r := rules[3]; r.after != "StartService" || r.from != -1 {
		t.Errorf(">Method rule parsed as %+v", *r)
	}
	for _, bad := range []string{"X", "X:>-1", "X:>", "X:>Start-Service", "X:/0", "X:1.5", "X:0.5:NoSuchFault", ":0.5"} {
		if _, err := parseFailRules(bad); err == nil {
			t.Errorf("parseFailRules(%q) accepted", bad)
		}
	}
}
