package main

import (
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func contents(n int) []types.ObjectContent {
	out := make([]types.ObjectContent, n)
	for i := range out {
		out[i].Obj = types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-" + string(rune('a'+i))}
	}
	return out
}

func TestRetrievalPagesUntilNoTokenAndEachTokenOnce(t *testing.T) {
	var r retrievals
	res := r.page("s1", "propertyCollector", contents(7), 3)
	got := len(res.Objects)
	var used []string
	for res.Token != "" {
		used = append(used, res.Token)
		left := r.take("s1", "propertyCollector", res.Token)
		if left == nil {
			t.Fatalf("token %q not found", res.Token)
		}
		res = r.page("s1", "propertyCollector", left.rest, left.pageSize)
		got += len(res.Objects)
	}
	if got != 7 || len(used) != 2 {
		t.Fatalf("answered %d objects under %d tokens, want 7 under 2", got, len(used))
	}
	if r.take("s1", "propertyCollector", used[0]) != nil {
		t.Error("a used token answered again")
	}
}

func TestRetrievalWithoutLimitOrWithinItHasNoToken(t *testing.T) {
	var r retrievals
	for _, size := range []int{0, 7, 10} {
		if res := r.page("s1", "pc", contents(7), size); res.Token != "" || len(res.Objects) != 7 {
			t.Errorf("page size %d: token %q, %d objects", size, res.Token, len(res.Objects))
		}
	}
	if len(r.tokens) != 0 {
		t.Errorf("%d tokens kept for complete answers", len(r.tokens))
	}
}

func TestRetrievalTokensAreForgottenBySessionAndCollector(t *testing.T) {
	var r retrievals
	a := r.page("s1", "pc", contents(4), 1).Token
	b := r.page("s1", "session[x]y", contents(4), 1).Token
	c := r.page("s2", "pc", contents(4), 1).Token
	if r.take("s2", "pc", a) != nil {
		t.Error("another session's token answered")
	}
	r.forget("s1", "session[x]y")
	if r.take("s1", "session[x]y", b) != nil {
		t.Error("a destroyed collector's token answered")
	}
	r.forget("s1", "")
	if r.take("s1", "pc", a) != nil {
		t.Error("a logged-out session's token answered")
	}
	if r.take("s2", "pc", c) == nil {
		t.Error("forgetting s1 dropped s2's token")
	}
}
