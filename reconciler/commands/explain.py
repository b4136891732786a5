"""`vsr explain KIND[.FIELD]`: a spec kind's or field's documentation from the JSON Schema (type, allowed values,
default, description, the fields below it) and the catalog controls it satisfies. For example
`vsr explain HostSecurityPolicy.services.TSM-SSH.running` (map keys such as TSM-SSH may be any name)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reconciler.cli import COMMANDS


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("explain", parents=[common], help=COMMANDS["explain"], description=__doc__,
                            epilog="examples:\n  vsr explain HostSecurityPolicy\n"
                                   "  vsr explain HostSecurityPolicy.advancedSettings.UserVars.DcuiTimeOut\n"
                                   "  vsr explain VMSecurityPolicy.devices")
    parser.add_argument("field", metavar="KIND[.FIELD]", help="a spec kind, optionally with a field path below spec")
    return parser


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and drop the `null` branch of optional fields."""
    while True:
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        branches = [b for b in node.get("anyOf", []) if b.get("type") != "null"]
        if len(branches) == 1 and "anyOf" in node:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**branches[0], **rest}
            continue
        return node


def _type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    node = _resolve(node, defs)
    if "const" in node:
        return repr(node["const"])
    if "enum" in node:
        return " | ".join(repr(v) for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " | ".join(_type(b, defs) for b in node[key] if b.get("type") != "null")
    kind = node.get("type", "object")
    if kind == "array":
        return f"list of {_type(node.get('items', {}), defs)}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict) and not node.get("properties"):
        return f"map of NAME -> {_type(node['additionalProperties'], defs)}"
    return str(kind)


def _child(node: dict[str, Any], key: str, defs: dict[str, Any]) -> dict[str, Any] | None:
    node = _resolve(node, defs)
    props = node.get("properties") or {}
    if key in props:
        return props[key]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def explain(text: str) -> tuple[str, int]:
    """The explanation of `KIND[.FIELD]` and the exit code (1 for an unknown kind or field)."""
    from reconciler.api.models import KINDS
    from reconciler.api.schema import kind_schema

    kind, _, rest = text.partition(".")
    if kind not in KINDS:
        from reconciler.didyoumean import suggest

        return f"error: unknown kind {kind!r}{suggest(kind, sorted(KINDS))}; kinds: {', '.join(sorted(KINDS))}", 1
    schema = kind_schema(kind)
    defs = schema.get("$defs", {})
    node: dict[str, Any] = _child(schema, "spec", defs) or schema
    path = _split(rest)
    for i, key in enumerate(path):
        found = _child(node, key, defs)
        if found is None:
            here = _resolve(node, defs)
            names = sorted(here.get("properties") or {})
            from reconciler.didyoumean import suggest

            where = ".".join([kind, *path[:i]])
            return (f"error: {where} has no field {key!r}{suggest(key, names)}"
                    + (f"; fields: {', '.join(names)}" if names else ""), 1)
        node = found
    return _describe(kind, path, node, defs), 0


def _split(rest: str) -> list[str]:
    """`advancedSettings.UserVars.DcuiTimeOut` -> the map key keeps its dots (advanced option keys have them)."""
    if not rest:
        return []
    parts = rest.split(".")
    if parts[0] == "advancedSettings" and len(parts) > 1:
        return [parts[0], ".".join(parts[1:])]
    return parts


def _describe(kind: str, path: list[str], raw: dict[str, Any], defs: dict[str, Any]) -> str:
    node = _resolve(raw, defs)
    out = [".".join([kind, *path])]
    out.append(f"  type: {_type(raw, defs)}")
    if "default" in raw or "default" in node:
        default = raw.get("default", node.get("default"))
        if default is not None:
            out.append(f"  default: {default!r}")
    description = raw.get("description") or node.get("description")
    if description:
        out.append(f"  {description}")
    props = node.get("properties") or {}
    if props:
        out.append("  fields:")
        for name, sub in props.items():
            desc = sub.get("description") or _resolve(sub, defs).get("description") or ""
            out.append(f"    {name}: {_type(sub, defs)}" + (f" - {desc}" if desc else ""))
    out.extend(_controls(kind, path))
    return "\n".join(out) + "\n"


def _controls(kind: str, path: list[str]) -> list[str]:
    from fnmatch import fnmatchcase

    from reconciler import catalog
    from reconciler import controllers

    types = {c.managed_type for c in controllers.for_kind(kind)}
    found = []
    for control in catalog.controls():
        for ref in control.fields:
            if ref.object_type not in types or len(ref.pattern) < len(path):
                continue
            if all(fnmatchcase(p, q) or fnmatchcase(q, p) for p, q in zip(path, ref.pattern)):
                found.append(control)
                break
    if not found:
        return ["  controls: none in the catalog"]
    lines = [f"  controls ({len(found)}):"]
    lines += [f"    {c.id} ({', '.join(c.official_ids)}): {c.title}" for c in found[:40]]
    if len(found) > 40:
        lines.append(f"    ... {len(found) - 40} more (docs/controls.md)")
    return lines


def run(args: argparse.Namespace) -> int:
    text, code = explain(args.field)
    (sys.stderr if code else sys.stdout).write(text if text.endswith("\n") else text + "\n")
    return code
