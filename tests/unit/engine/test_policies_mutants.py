"""Policy compilation details the mutation check (scripts/mutation.py) showed untested: YAML (alias) section
names, the policy-wide powerCycle parameter, Attestation and VCenter documents, the compiled kind."""

from __future__ import annotations

import datetime as dt

from reconciler.api import load_text
from reconciler.controllers.contract import Placement
from reconciler.engine.policies import compile_documents

TODAY = dt.date(2026, 11, 22)
HEAD = "apiVersion: vsr.dev/v1alpha1\n"
DOCS = f"""{HEAD}kind: HostSecurityPolicy
metadata: {{name: hosts}}
spec:
  selector: {{hosts: ["*"]}}
  advancedSettings: {{Mem.ShareForceSalting: 2}}
  firewall:
    sshServer: {{allowedIPs: ["10.0.0.0/24"]}}
---
{HEAD}kind: VMSecurityPolicy
metadata: {{name: vms}}
spec:
  selector: {{vms: ["*"]}}
  advancedSettings: {{isolation.tools.copy.disable: "TRUE"}}
---
{HEAD}kind: VMSecurityPolicy
metadata: {{name: vms-allowed}}
spec:
  selector: {{vms: ["web-*"]}}
  powerCycle: Allowed
  advancedSettings: {{isolation.tools.paste.disable: "TRUE"}}
---
{HEAD}kind: Attestation
metadata: {{name: hardware}}
spec:
  selector: {{hosts: ["esx-*"]}}
  controls: ["esx-9.hardware-boot-order"]
  statement: "boot order restricted in firmware"
  evidence: https://tickets.example.com/SEC-901
  owner: platform@example.com
  expires: 2099-12-31
---
{HEAD}kind: VCenter
metadata: {{name: lab}}
spec:
  server: vcsa.lab.example
  credentials: {{usernameEnv: VSR_USERNAME, passwordFile: /etc/vsr/password}}
"""


def compiled():
    loaded = load_text(DOCS, "all.yaml", today=TODAY)
    assert loaded.ok, loaded.issues
    return loaded, compile_documents(loaded.documents, TODAY)


def test_sections_are_found_by_their_yaml_names():
    _, specs = compiled()
    hosts = specs.policies[0]
    assert (hosts.kind, hosts.name) == ("HostSecurityPolicy", "hosts")
    assert set(hosts.fields) == {"advancedSettings", "firewall"}
    assert hosts.fields["firewall"][("firewall", "sshServer", "allowedIPs")].value == ["10.0.0.0/24"]
    assert hosts.fields["advancedSettings"][("advancedSettings", "Mem.ShareForceSalting")].value == 2
    assert specs.policies[1].kind == "VMSecurityPolicy"


def test_power_cycle_travels_with_every_vm_controller_field():
    _, specs = compiled()
    vms, allowed = specs.policies[1], specs.policies[2]
    assert {p: v.value for p, v in vms.fields["vmAdvancedSettings"].items()} == {
        ("advancedSettings", "isolation.tools.copy.disable"): "TRUE", ("powerCycle",): "IfPoweredOff",
        ("allowFirmwareChange",): False}
    assert allowed.fields["vmAdvancedSettings"][("powerCycle",)].value == "Allowed"
    assert allowed.fields["vmAdvancedSettings"][("powerCycle",)].source == "all.yaml:22"


def test_attestations_are_compiled_with_their_source():
    _, specs = compiled()
    (rule,) = specs.attestations
    assert (rule.name, rule.controls, rule.statement, rule.owner, rule.expires, rule.source) == (
        "hardware", ("esx-9.hardware-boot-order",), "boot order restricted in firmware", "platform@example.com",
        dt.date(2099, 12, 31), "all.yaml:25")
    assert rule.evidence == "https://tickets.example.com/SEC-901" and rule.vcenter is None
    assert rule.selects("HostSystem", "esx-01", Placement("dc")) is True
    assert rule.selects("HostSystem", "other", Placement("dc")) is False


def test_vcenter_documents_are_kept_as_loaded():
    loaded, specs = compiled()
    assert specs.vcenters == {"lab": loaded.get("VCenter", "lab")}
    assert specs.vcenters["lab"] is not None
