package main

import (
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func TestRelatedPaths(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"config", "config", true},
		{"config", "config.extraConfig", true},
		{"config.extraConfig", "config", true},
		{`config.extraConfig["isolation.x"]`, "config.extraConfig", true},
		{"configStatus", "config", false}, // a shared prefix is not a parent
		{"runtime.powerState", "runtime.host", false},
	}
	for _, c := range cases {
		if got := related(c.a, c.b); got != c.want {
			t.Errorf("related(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestMergeChangesKeepsTheLastValueOfEachProperty(t *testing.T) {
	got := mergeChanges([]types.PropertyChange{change("a", 1), change("b", 2)},
		[]types.PropertyChange{change("a", 3), change("c", 4)})
	want := []interface{}{3, 2, 4}
	if len(got) != 3 {
		t.Fatalf("got %d changes: %+v", len(got), got)
	}
	for i, c := range got {
		if c.Val != want[i] {
			t.Errorf("change %d (%s) = %v, want %v", i, c.Name, c.Val, want[i])
		}
	}
}

func objectUpdates(n int) []types.ObjectUpdate {
	out := make([]types.ObjectUpdate, n)
	for i := range out {
		out[i] = types.ObjectUpdate{Kind: types.ObjectUpdateKindEnter,
			Obj: types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-" + string(rune('a'+i))}}
	}
	return out
}

func TestPageSplitsAcrossFiltersAndMarksTruncation(t *testing.T) {
	f1 := types.ManagedObjectReference{Type: "PropertyFilter", Value: "f1"}
	f2 := types.ManagedObjectReference{Type: "PropertyFilter", Value: "f2"}
	st := &waitState{backlog: []types.PropertyFilterUpdate{{Filter: f1, ObjectSet: objectUpdates(3)},
		{Filter: f2, ObjectSet: objectUpdates(2)}}}
	var sizes [][]int
	versions := []string{}
	for len(st.backlog) > 0 {
		set := st.page(2)
		var page []int
		for _, fu := range set.FilterSet {
			page = append(page, len(fu.ObjectSet))
		}
		sizes = append(sizes, page)
		versions = append(versions, set.Version)
		if truncated := set.Truncated != nil && *set.Truncated; truncated != (len(st.backlog) > 0) {
			t.Errorf("page %d: truncated=%v with %d filter updates left", len(sizes), truncated, len(st.backlog))
		}
	}
	want := [][]int{{2}, {1, 1}, {1}}
	if len(sizes) != len(want) {
		t.Fatalf("pages %v, want %v", sizes, want)
	}
	for i := range want {
		if len(sizes[i]) != len(want[i]) || sizes[i][0] != want[i][0] || (len(want[i]) > 1 && sizes[i][1] != want[i][1]) {
			t.Errorf("page %d = %v, want %v", i, sizes[i], want[i])
		}
	}
	if versions[0] != "1" || versions[2] != "3" {
		t.Errorf("versions %v, want 1, 2, 3", versions)
	}
}

func TestPageWithoutALimitAnswersEverything(t *testing.T) {
	st := &waitState{backlog: []types.PropertyFilterUpdate{{ObjectSet: objectUpdates(5)}}}
	set := st.page(0)
	if len(set.FilterSet) != 1 || len(set.FilterSet[0].ObjectSet) != 5 || set.Truncated != nil || st.backlog != nil {
		t.Errorf("page(0) = %+v, backlog %v", set, st.backlog)
	}
}

func TestPushOverflowForgetsPendingChanges(t *testing.T) {
	st := &waitState{notify: make(chan struct{}, 1)}
	for i := 0; i < maxPending+1; i++ {
		st.push(types.ObjectUpdate{Kind: types.ObjectUpdateKindLeave})
	}
	pending, overflowed := st.take()
	if !overflowed || len(pending) != 0 {
		t.Errorf("after %d pushes: %d pending, overflowed=%v", maxPending+1, len(pending), overflowed)
	}
	if _, again := st.take(); again {
		t.Error("take() reports the overflow only once")
	}
}
