"""VCenterSecurityPolicy loads like the other kinds: positioned errors, conflicts between two policies."""

from __future__ import annotations

from reconciler.api import load_texts

DOC = """apiVersion: vsr.dev/v1alpha1
kind: VCenterSecurityPolicy
metadata: {{name: {name}}}
spec:
  selector: {{switches: ["*"], portgroups: ["pg-*"]}}
  advancedSettings: {{VirtualCenter.VimPasswordExpirationInDays: {days}}}
  distributedSwitch: {{linkDiscoveryOperation: {ldp}}}
  distributedPortgroup: {{vlanTrunkRanges: [{vlan}]}}
"""


def test_bad_values_get_positioned_errors_and_a_good_document_still_loads():
    bad = DOC.format(name="bad", days=30, ldp="loud", vlan='"10-5000"')
    good = DOC.format(name="good", days=30, ldp="none", vlan='"100-200"')
    result = load_texts([("bad.yaml", bad), ("good.yaml", good)])
    assert [d.name for d in result.documents] == ["good"]
    messages = sorted(str(i) for i in result.errors)
    assert len(messages) == 2
    assert messages[0].startswith("bad.yaml:7:") and "spec.distributedSwitch.linkDiscoveryOperation" in messages[0]
    assert messages[1].startswith("bad.yaml:8:") and "VLAN IDs are 0..4094" in messages[1]


def test_two_policies_setting_one_field_differently_conflict():
    result = load_texts([("a.yaml", DOC.format(name="a", days=30, ldp="none", vlan='"1"')),
                         ("b.yaml", DOC.format(name="b", days=60, ldp="none", vlan='"1"'))])
    assert any("VirtualCenter.VimPasswordExpirationInDays" in str(i) and "conflict" in str(i).lower()
               for i in result.issues), [str(i) for i in result.issues]
