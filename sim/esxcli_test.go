package main

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func testHost(t *testing.T) *esxHost {
	t.Helper()
	hs := &simulator.HostSystem{}
	hs.Name = "H"
	x := &hostExt{host: hs, opt: newHostOptionManager(hs), fw: newFirewallSystem(hs, nil)}
	return newEsxHost(x, true, true)
}

// Every get/list result has exactly the fields (names, order, value types) that the type info declares.
func TestResultsMatchDeclaredTypeInfo(t *testing.T) {
	h := testHost(t)
	for _, ns := range cliNamespaces {
		for _, c := range ns.cmds {
			want, structured := resultFields[ns.name+"."+c.name]
			if c.ret == "boolean" {
				if structured {
					t.Errorf("%s.%s: boolean result with declared fields", ns.name, c.name)
				}
				continue
			}
			if !structured {
				t.Errorf("%s.%s: no declared fields for result %s", ns.name, c.name, c.ret)
				continue
			}
			call := &cliCall{h: h, args: map[string][]string{}, method: "vim.EsxCLI." + ns.name + "." + c.name}
			res, f := c.run(call)
			if f != nil {
				t.Fatalf("%s.%s: %v", ns.name, c.name, f.errMsg)
			}
			structs := res.rows
			if res.one != nil {
				structs = []cliStruct{*res.one}
			}
			if len(structs) == 0 {
				t.Fatalf("%s.%s: empty result", ns.name, c.name)
			}
			if strings.HasSuffix(c.ret, "[]") != (res.one == nil) {
				t.Errorf("%s.%s: list/struct mismatch with return type %s", ns.name, c.name, c.ret)
			}
			for _, s := range structs {
				if s.kind != ns.wsdl()+c.name+strings.TrimSuffix(c.ret, "[]") {
					t.Errorf("%s.%s: kind %s", ns.name, c.name, s.kind)
				}
				if len(s.fields) != len(want) {
					t.Fatalf("%s.%s: %d fields, declared %d", ns.name, c.name, len(s.fields), len(want))
				}
				for i, f := range s.fields {
					decl := strings.Fields(want[i])
					if f.name != decl[0] {
						t.Errorf("%s.%s: field %d is %s, declared %s", ns.name, c.name, i, f.name, decl[0])
					}
					if !validScalar(decl[1], f.vals[0]) {
						t.Errorf("%s.%s: %s=%q is not a %s", ns.name, c.name, f.name, f.vals[0], decl[1])
					}
				}
			}
			// the encoded response is well-formed XML whose root carries the version and type
			var root struct {
				XMLName xml.Name
				Version string `xml:"versionId,attr"`
			}
			if err := xml.Unmarshal([]byte(res.encode("5.0")), &root); err != nil || root.Version != "5.0" {
				t.Errorf("%s.%s: encoded response: %v %q", ns.name, c.name, err, root.Version)
			}
		}
	}
}

func TestBindArguments(t *testing.T) {
	params := []cliParam{strParam("keyword", "k", "", true), strParam("value", "v", "", false),
		{name: "zlist", kind: "string[]"}, {name: "zz", kind: "boolean"}}
	arg := func(n, v string) soapArgument { return soapArgument{Name: n, Val: v} }
	ok := []struct {
		in   []soapArgument
		want map[string]string
	}{
		{[]soapArgument{arg("keyword", "<keyword>a</keyword>")}, map[string]string{"keyword": "a"}},
		{[]soapArgument{arg("keyword", "<keyword>a&amp;b</keyword>"), arg("value", "<value>3</value>")},
			map[string]string{"keyword": "a&b", "value": "3"}},
		// rbvmomi: 1/0 with xsi:type
		{[]soapArgument{arg("keyword", "<keyword>a</keyword>"), arg("zz", `<zz xsi:type="xsd:boolean">1</zz>`)},
			map[string]string{"keyword": "a", "zz": "1"}},
		// an optional argument out of order is dropped
		{[]soapArgument{arg("keyword", "<keyword>a</keyword>"), arg("zz", "<zz>true</zz>"), arg("value", "<value>x</value>")},
			map[string]string{"keyword": "a", "zz": "true"}},
	}
	for i, c := range ok {
		got, f := bindArguments(params, c.in)
		if f != nil {
			t.Fatalf("case %d: fault %v", i, f)
		}
		if len(got) != len(c.want) {
			t.Errorf("case %d: got %v", i, got)
		}
		for k, v := range c.want {
			if len(got[k]) != 1 || got[k][0] != v {
				t.Errorf("case %d: %s=%v, want %q", i, k, got[k], v)
			}
		}
	}
	list, f := bindArguments(params, []soapArgument{arg("keyword", "<keyword>a</keyword>"),
		arg("zlist", "<zlist>x</zlist><zlist>y</zlist>")})
	if f != nil || strings.Join(list["zlist"], ",") != "x,y" {
		t.Errorf("list: %v %v", list, f)
	}
	bad := [][]soapArgument{
		nil, // required keyword missing
		{arg("value", "<value>3</value>"), arg("keyword", "<keyword>a</keyword>")},        // keyword not first
		{arg("keyword", "<keyword>a</keyword>"), arg("bogus", "<bogus>1</bogus>")},        // unknown
		{arg("keyword", "<other>a</other>")},                                              // wrong element
		{arg("keyword", "a")},                                                             // not an element
		{arg("keyword", "<keyword>a</keyword><keyword>b</keyword>")},                      // list for a scalar
		{arg("keyword", "<keyword>a</keyword>"), arg("zz", "<zz>maybe</zz>")},             // not a boolean
		{arg("keyword", "<keyword>a</keyword"), arg("value", "<value>3</value>")},         // malformed
		{arg("keyword", "<keyword><b>a</b></keyword>"), arg("value", "<value>3</value>")}, // nested
	}
	for i, in := range bad {
		if _, f := bindArguments(params, in); f == nil {
			t.Errorf("bad case %d accepted", i)
		}
	}
}

func TestRewriteSegmentAddsStateEncryption(t *testing.T) {
	se := HostRuntimeInfoStateEncryptionInfo{ProtectionMode: "tpm", RequireSecureBoot: boolPtr(true),
		RequireExecInstalledOnly: boolPtr(false)}
	seg := `<obj type="HostSystem">host-1</obj><propSet><name>runtime</name><val xmlns:XMLSchema-instance="x" ` +
		`XMLSchema-instance:type="HostRuntimeInfo"><powerState>poweredOn</powerState></val></propSet>` +
		`<missingSet><path>runtime.stateEncryption.protectionMode</path><fault><fault xsi:type="InvalidProperty">` +
		`<name>runtime.stateEncryption.protectionMode</name></fault></fault></missingSet>`
	got := rewriteSegment(seg, hostExtras{se: se}, false)
	want := `<powerState>poweredOn</powerState><stateEncryption><protectionMode>tpm</protectionMode>` +
		`<requireSecureBoot>true</requireSecureBoot><requireExecInstalledOnly>false</requireExecInstalledOnly>` +
		`</stateEncryption></val>`
	if !strings.Contains(got, want) {
		t.Errorf("runtime not extended: %s", got)
	}
	if strings.Contains(got, "missingSet") || !strings.Contains(got,
		`<propSet><name>runtime.stateEncryption.protectionMode</name><val xsi:type="xsd:string">tpm</val></propSet>`) {
		t.Errorf("missing path not substituted: %s", got)
	}
	if n := len(regexp.MustCompile(`<stateEncryption>`).FindAllString(rewriteSegment(got, hostExtras{se: se}, false), -1)); n != 2 {
		// a second pass adds another copy to the runtime value only (never applied twice in the launcher)
		t.Errorf("second pass: %d copies", n)
	}
}

func TestEsxcliRefs(t *testing.T) {
	mme, dtm := esxcliRefs(hostRef("host-21"), false)
	if mme.Type != "ReflectManagedMethodExecuter" || mme.Value != "ManagedMethodExecuter-21" ||
		dtm.Type != "InternalDynamicTypeManager" || dtm.Value != "DynamicTypeManager-21" {
		t.Errorf("vCenter refs %v %v", mme, dtm)
	}
	mme, dtm = esxcliRefs(hostRef("ha-host"), true)
	if mme.Value != "ha-managed-method-executer" || dtm.Value != "ha-dynamic-type-manager" {
		t.Errorf("ESXi refs %v %v", mme, dtm)
	}
}

func hostRef(v string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "HostSystem", Value: v}
}

func TestFilterIndexFindsTheNearestFilterSet(t *testing.T) {
	body := []byte(`<filterSet><filter type="PropertyFilter">session[1]f-1</filter><objectSet>a</objectSet></filterSet>` +
		`<filterSet><filter type="PropertyFilter">session[1]f-2</filter><objectSet><kind>enter</kind><obj>`)
	idx := indexFilters(body)
	if got, ok := idx.before(len(body) - 5); !ok || got != "session[1]f-2" {
		t.Errorf("before(end) = %q, %v", got, ok)
	}
	if got, ok := idx.before(60); !ok || got != "session[1]f-1" {
		t.Errorf("before(60) = %q, %v", got, ok)
	}
	if _, ok := idx.before(0); ok {
		t.Error("before the first filter: found one")
	}
}
