"""advancedSettings conditions on VMs: `{absent: true}` (with key patterns) and `{value: V, undefinedIsCompliant: true}`;
pure diff logic and the positioned spec errors."""

import textwrap

from pyVmomi import vim

from reconciler.api import load_specs
from reconciler.controllers.contract import Impact, ObjectState
from reconciler.controllers.vm_advanced import VMAdvancedSettings, matching
from reconciler.events.model import ObjectRef

REF = ObjectRef("VirtualMachine", "vm-1", "web-01", "lab")
SALT = ("advancedSettings", "sched.mem.pshare.salt")
FILTER = ("advancedSettings", "ethernet*.filter*.name")
COPY = ("advancedSettings", "isolation.tools.copy.disable")


def vm(**options):
    extra = [vim.option.OptionValue(key=k, value=v) for k, v in options.items()]
    return ObjectState(REF, {"runtime.powerState": "poweredOff", "config.extraConfig": extra})


def test_absent_key_is_compliant_when_missing_and_drift_when_present():
    c = VMAdvancedSettings()
    assert c.diff({SALT: {"absent": True}}, vm()) == []
    (d,) = c.diff({SALT: {"absent": True}}, vm(**{"sched.mem.pshare.salt": "abc"}))
    assert (d.current, d.desired, d.impact) == ("abc", "absent", Impact.POWER_CYCLE)


def test_a_pattern_covers_every_matching_key_regardless_of_case():
    c = VMAdvancedSettings()
    state = vm(**{"ethernet0.filter0.name": "dvfilter-a", "Ethernet1.Filter3.Name": "b",
                  "ethernet0.filter0.onFailure": "failOpen", "ethernet0.present": "TRUE"})
    (d,) = c.diff({FILTER: {"absent": True}}, state)
    assert d.subject == "Ethernet1.Filter3.Name, ethernet0.filter0.name"
    assert d.current == "Ethernet1.Filter3.Name=b; ethernet0.filter0.name=dvfilter-a"
    assert c.diff({FILTER: {"absent": True}}, vm(**{"ethernet0.filter0.onFailure": "failOpen"})) == []
    assert matching({"a.b": 1}, "a.b") == ["a.b"] and matching({"A.B": 1}, "a.b") == []  # exact keys stay exact


def test_undefined_is_compliant_but_another_value_is_drift():
    c = VMAdvancedSettings()
    want = {COPY: {"value": "TRUE", "undefinedIsCompliant": True}}
    assert c.diff(want, vm()) == []
    assert c.diff(want, vm(**{"isolation.tools.copy.disable": "true"})) == []
    (d,) = c.diff(want, vm(**{"isolation.tools.copy.disable": "FALSE"}))
    assert (d.current, d.desired) == ("FALSE", "TRUE")
    (strict,) = c.diff({COPY: {"value": True}}, vm())
    assert (strict.current, strict.desired) == (None, "TRUE"), "without undefinedIsCompliant a missing key is drift"


def test_a_literal_string_absent_is_a_value_not_a_condition():
    (d,) = VMAdvancedSettings().diff({SALT: "absent"}, vm())
    assert (d.current, d.desired) == (None, "absent")


def _load(tmp_path, body):
    (tmp_path / "p.yaml").write_text(textwrap.dedent("""\
        apiVersion: vsr.dev/v1alpha1
        kind: VMSecurityPolicy
        metadata: {name: p}
        spec:
          selector: {vms: ["*"]}
          advancedSettings:
        """) + textwrap.indent(textwrap.dedent(body), "    "))
    return load_specs([tmp_path])


def test_conditions_load_and_bad_ones_get_positioned_errors(tmp_path):
    ok = _load(tmp_path, """\
        sched.mem.pshare.salt: {absent: true}
        "ethernet*.filter*.name": {absent: true}
        log.keepOld: {value: "10", undefinedIsCompliant: true}
        """)
    assert not ok.errors and len(ok.documents) == 1
    bad = _load(tmp_path, """\
        a.b: {absent: true, value: 1}
        c.d: {}
        e.f: {absent: false}
        g.h: {absent: true, undefinedIsCompliant: true}
        i.j: [1]
        """)
    got = {(e.line, e.path): e.message for e in bad.errors}
    assert got[(7, "spec.advancedSettings.a.b")].startswith("write either {absent: true} or {value:")
    assert got[(8, "spec.advancedSettings.c.d")].startswith("write either")
    assert (9, "spec.advancedSettings.e.f.absent") in got
    assert "undefinedIsCompliant goes with value" in got[(10, "spec.advancedSettings.g.h")]
    assert "must be a value" in got[(11, "spec.advancedSettings.i.j")]


def test_a_pattern_key_with_a_value_is_an_error_at_its_line(tmp_path):
    run = _load(tmp_path, """\
        log.keepOld: "10"
        "ethernet*.filter*.name": "x"
        """)
    (issue,) = run.errors
    assert (issue.line, issue.path) == (8, "spec.advancedSettings.ethernet*.filter*.name")
    assert "can only be required absent" in issue.message and not run.documents
