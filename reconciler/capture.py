"""`vsr capture`: a policy document drafted from a reference object's live state, as YAML a person edits.

The values come from a planning run of the chosen fields against the reference object (the bulk read paths of
`vsr plan`): a field that passes has the desired value, a field that differs has the object's current value.
Every setting line names its control IDs in a comment; fields the object does not offer, or whose value could not
be read (conflicting policies), are left out with a comment saying so. Policy parameters (`powerCycle`,
`excludePortgroups`, ...) are choices, not state, and are not captured."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler import catalog
from reconciler.engine.types import jsonable, render_path
from reconciler.report.model import PASS, UNSUPPORTED, Row

KINDS = {"HostSystem": ("HostSecurityPolicy", "hosts"), "VirtualMachine": ("VMSecurityPolicy", "vms")}
#: values for the baselines' site parameters while capturing: never a real value, so the field always shows the
#: object's own value (a field equal to its desired value is reported with the desired value)
PROBES = {"SYSLOG_HOSTS": '"udp://vsr-capture.invalid:514"', "ADMIN_NETWORKS": '["192.0.2.254/32"]',
          "BANNER": '"vsr capture probe"', "ESX_ADMINS_GROUP": '"vsr-capture-probe"',
          "EXCEPTION_USERS": '["vsr-capture-probe"]', "NTP_SERVERS": '["vsr-capture.invalid"]',
          "AD_DOMAIN": '"vsr-capture.invalid"', "CERT_ISSUERS": '["CN=vsr-capture-probe"]',
          "MANAGEMENT_VMKS": '["vmk999"]', "VMOTION_VMKS": '["vmk998"]',
          "ROOT_SSH_KEYS": '["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZzci1jYXB0dXJlLXByb2JlLWtleS0wMDAwMDAw vsr-capture-probe"]'}
DEFAULT_PROBE = '"vsr-capture-probe"'
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$")


@dataclass
class Captured:
    """The reference object's value per field path, and the fields left out (path -> why)."""

    values: dict[tuple[str, ...], Any] = field(default_factory=dict)
    notes: dict[tuple[str, ...], str] = field(default_factory=dict)
    left_out: dict[tuple[str, ...], str] = field(default_factory=dict)


def collect(rows: list[Row]) -> Captured:
    """The live value of every field of the reference object's report rows."""
    out = Captured()
    seen: dict[tuple[str, ...], list[tuple[str, Any]]] = {}
    for row in rows:
        for f in row.fields:
            if not f.path:
                continue  # an attestation row: nothing read
            if f.status == UNSUPPORTED:
                out.left_out[f.path] = f"not offered by {row.object.name}: {f.message}".rstrip(": ")
                continue
            value = f.desired if f.status == PASS else f.current
            if f.status != PASS and f.current is None and f.reason == "conflict":
                out.left_out[f.path] = "conflicting policies: value not read"
                continue
            seen.setdefault(f.path, []).append((f.subject, jsonable(value)))
    for path, found in seen.items():
        out.values[path] = found[0][1]
        distinct = {json.dumps(v, sort_keys=True, default=str) for _, v in found}
        if len(distinct) > 1:
            out.notes[path] = "differs per subject: " + ", ".join(
                f"{s or '-'} {json.dumps(v, default=str)}" for s, v in found) + "; the first is captured"
    return out


def drop_invalid(captured: Captured, object_type: str) -> None:
    """Leave out each section whose captured values the spec would refuse (a reference host whose vMotion shares
    the management vmk cannot be written as a `vmkServices` section): the draft always validates."""
    import pydantic

    from reconciler.api import models

    model = {"HostSystem": models.HostSecurityPolicySpec, "VirtualMachine": models.VMSecurityPolicySpec}[object_type]
    key = KINDS[object_type][1]
    sections: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, value in captured.values.items():
        sections.setdefault(path[0], {})[path] = value
    for section, values in sections.items():
        document = {"selector": {key: ["*"]}, **_plain(_tree(values))}
        try:
            model.model_validate(document)
        except pydantic.ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            for path in values:
                del captured.values[path]
            captured.left_out[(section,)] = f"the reference's values are not a valid spec ({reason}): write it by hand"


def _plain(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: (v[2] if isinstance(v, tuple) else _plain(v)) for k, v in tree.items()}


def _scalar(value: Any) -> str:
    text = str(yaml.safe_dump(value, default_flow_style=True, width=1 << 30, allow_unicode=True)).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").rstrip()


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) and key.lower() not in ("yes", "no", "on", "off", "true", "false", "null") \
        else json.dumps(key)


def _tree(values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in sorted(values.items()):
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = ("leaf", path, value)
    return tree


def _lines(tree: dict[str, Any], object_type: str, captured: Captured, indent: int) -> list[str]:
    out = []
    pad = " " * indent
    for key, node in tree.items():
        if isinstance(node, tuple):
            _, path, value = node
            ids = ", ".join(catalog.controls_for(object_type, path)) or "not in the control catalog"
            note = f"; {captured.notes[path]}" if path in captured.notes else ""
            out.append(f"{pad}{_key(key)}: {_scalar(value)}  # {ids}{note}")
        else:
            out.append(f"{pad}{_key(key)}:")
            out += _lines(node, object_type, captured, indent + 2)
    return out


def render(captured: Captured, object_type: str, reference: str, name: str, selector: list[str],
           enforcement: str, fields_from: str, when: str) -> str:
    """The policy document as YAML text, with a header that says where it came from."""
    kind, key = KINDS[object_type]
    header = [f"# Drafted by `vsr capture` from {object_type} {reference} on {when} ({fields_from}).",
              "# Review every value before use: this is the reference object's state, compliant or not. The comment",
              "# on each line names the controls it implements (SCG 8 / STIG V2R3, then SCG 9 / VCF 9 STIG).",
              "# Narrow the selector to the objects that should look like the reference."]
    if captured.left_out:
        header.append("# Left out:")
        header += [f"#   {render_path(p)}: {why}" for p, why in sorted(captured.left_out.items())]
    body = [f"apiVersion: vsr.dev/v1alpha1", f"kind: {kind}", "metadata:", f"  name: {_scalar(name)}",
            "  labels: {vsr.dev/captured-from: " + _scalar(reference) + "}", "spec:",
            f"  selector: {{{key}: {_scalar(selector)}}}", f"  enforcement: {enforcement}"]
    body += _lines(_tree(captured.values), object_type, captured, 2)
    return "\n".join(header + body) + "\n"


def policy_name(reference: str) -> str:
    """`captured-<name>` in the characters a metadata name allows."""
    slug = re.sub(r"[^a-z0-9-]+", "-", reference.lower()).strip("-") or "object"
    return f"captured-{slug}"[:63].rstrip("-")
