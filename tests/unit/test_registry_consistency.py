"""The pieces of a control agree: the model's sections, the controller registry, the catalog's field paths and the
generated JSON Schema. A control added to one place and forgotten in another fails here, not silently at run time."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

from reconciler import catalog
from reconciler import controllers as registry
from reconciler.api import fields as shape
from reconciler.api.schema import stale_schemas
from reconciler.engine import sources

ROOT = Path(__file__).resolve().parents[2]
KINDS_OF_TYPE = {"HostSystem": ("HostSecurityPolicy",),
                 "DistributedVirtualPortgroup": ("HostSecurityPolicy", "VCenterSecurityPolicy"),
                 "VirtualMachine": ("VMSecurityPolicy",), "DistributedVirtualSwitch": ("VCenterSecurityPolicy",),
                 "OptionManager": ("VCenterSecurityPolicy",), "CryptoManagerKmip": ("VCenterSecurityPolicy",)}


def kind_of(object_type: str, section: str) -> str:
    """The policy kind that manages `section` on objects of this type (the first that has the section)."""
    kinds = KINDS_OF_TYPE[object_type]
    return next((k for k in kinds if section in shape.sections(k)), kinds[0])


@pytest.mark.parametrize("controller", registry.ALL, ids=lambda c: c.name)
def test_each_controller_owns_a_section_of_its_kind(controller):
    assert controller.spec_key in shape.sections(controller.policy_kind), (
        f"{controller.name}: {controller.policy_kind} has no section {controller.spec_key!r} in the model")
    assert controller.policy_kind in KINDS_OF_TYPE[controller.managed_type]
    assert controller.object_paths() or controller.polled, f"{controller.name} declares no properties to read"


@pytest.mark.parametrize("kind", shape.POLICY_KINDS)
def test_each_model_section_has_a_controller(kind):
    owned = {c.spec_key for c in registry.ALL if c.policy_kind == kind}
    assert set(shape.sections(kind)) == owned


def test_controller_names_are_unique():
    names = [c.name for c in registry.ALL]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("control", [c for c in catalog.controls() if c.fields], ids=lambda c: c.id)
def test_catalog_fields_name_a_setting_of_a_controller(control):
    for ref in control.fields:
        kind = kind_of(ref.object_type, ref.pattern[0])
        section = shape.sections(kind).get(ref.pattern[0])
        assert section is not None, f"{control.id}: {ref.text} names no section of {kind}"
        assert len(ref.pattern) == section.leaf_index + 1, f"{control.id}: {ref.text} has the wrong depth"
        if section.shape in ("nested", "keyed"):
            assert ref.pattern[-1] in section.leaves, f"{control.id}: {ref.text}: not one of {section.leaves}"
        assert any(c.spec_key == section.name and c.managed_type == ref.object_type for c in registry.ALL), (
            f"{control.id}: no controller manages {ref.text} on {ref.object_type}")


@pytest.mark.parametrize("kind", shape.POLICY_KINDS)
def test_json_schema_has_every_section_and_leaf(kind):
    schema = json.loads((ROOT / "specs" / "schema" / f"{kind.lower()}.schema.json").read_text())
    defs = schema.get("$defs", {})

    def resolve(node):
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        for option in node.get("anyOf", []):
            if option.get("type") != "null":
                return resolve(option)
        return node

    spec = resolve(resolve(schema)["properties"]["spec"])
    for name, section in shape.sections(kind).items():
        assert name in spec["properties"], f"schema of {kind} lacks spec.{name}"
        node = resolve(spec["properties"][name])
        if section.shape == "keyed":
            values = node.get("additionalProperties") or next(iter(node["patternProperties"].values()))
            node = resolve(values)  # keys with a pattern (local account names) give patternProperties
        if section.shape in ("nested", "keyed"):
            assert set(section.leaves) | set(section.parameters) <= set(node["properties"])


def test_committed_schema_is_current():
    assert not stale_schemas(ROOT / "specs" / "schema"), "run `make schema`"


def _props_read(module) -> set[str]:
    """Property paths a controller module reads from the managed object: `state.props.get(X)` and
    `state.props[X]`, X a string literal or a module-level string constant."""
    tree = ast.parse(Path(module.__file__).read_text())
    out: set[str] = set()

    def value(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and isinstance(getattr(module, node.id, None), str):
            return getattr(module, node.id)
        return None

    def is_state_props(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "props" and isinstance(node.value, ast.Name) \
            and node.value.id in ("state", "s")

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_state_props(node.value):
            key = value(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and is_state_props(node.func.value) and node.args:
            key = value(node.args[0])
        else:
            continue
        if key is not None:
            out.add(key)
    return out


@pytest.mark.parametrize("controller", registry.ALL, ids=lambda c: c.name)
def test_every_property_a_controller_reads_is_declared(controller):
    """A property read but not declared is never fetched nor watched: the diff would see None and report drift."""
    declared = set(controller.object_paths()) | set(sources.BASE_PROPERTIES[controller.managed_type])
    module = importlib.import_module(type(controller).__module__)
    helpers = [importlib.import_module(c.__module__) for c in type(controller).__mro__[1:]
               if c.__module__.startswith("reconciler.controllers.") and c.__module__ != "reconciler.controllers.base"]
    read = set().union(*(_props_read(m) for m in [module, *helpers]))
    esxcli_only = bool(controller.polled) and all(p.esxcli for p in controller.polled) and not controller.related
    assert read or esxcli_only, f"{controller.name}: no property read found (does it read state.props?)"
    assert read <= declared, f"{controller.name} reads undeclared properties {sorted(read - declared)}"


@pytest.mark.parametrize("controller", registry.ALL, ids=lambda c: c.name)
def test_declared_sources_are_reachable(controller):
    """Related objects and polled sources hang off a declared reference of the managed object."""
    paths = set(controller.object_paths())
    for r in controller.related:
        assert r.via in paths and r.properties, f"{controller.name}: {r}"
        assert not r.static or r.static_key in paths
    for p in controller.polled:
        assert p.interval > 0, f"{controller.name}: {p}"
        assert (p.via in paths and p.method) if p.esxcli is None else not p.via, f"{controller.name}: {p}"


def _settings(kind: str) -> list[tuple[str, str]]:
    """(section, leaf) of every setting of a kind: leaf "" for a scalar section or the key of a flat one."""
    out: list[tuple[str, str]] = []
    for name, section in shape.sections(kind).items():
        out += [(name, leaf) for leaf in section.leaves] if section.shape in ("nested", "keyed") else [(name, "")]
    return out


# managed settings that no SCG / STIG control names (kept short: each one is a decision, not an oversight)
NO_CONTROL = {"HostSecurityPolicy": ["firewall.enabled", "fips140.rhttpproxy"], "VMSecurityPolicy": [],
              # port-level override flags no control names individually, and the audit's `required`
              "VCenterSecurityPolicy": []}


@pytest.mark.parametrize("kind", shape.POLICY_KINDS)
def test_each_setting_is_implemented_by_a_catalog_control(kind):
    """A section added to the model and its controller but forgotten in `catalog/controls.yaml`."""
    named = {(ref.pattern[0], ref.pattern[-1] if len(ref.pattern) > 1 else "")
             for control in catalog.controls() for ref in control.fields
             if kind_of(ref.object_type, ref.pattern[0]) == kind}
    sections = shape.sections(kind)
    missing = [f"{name}.{leaf}" if leaf else name for name, leaf in _settings(kind)
               if (name, leaf) not in named and not (sections[name].shape == "flat" and
                                                     any(s == name for s, _ in named))]
    assert missing == NO_CONTROL[kind], f"{kind}: no control in reconciler/catalog/controls.yaml names {missing}"


def _documented_paths(kind: str) -> set[str]:
    """Field paths in the first column of the field table under `## <kind>` in docs/specs.md: a row like
    `` `devices.floppy` / `serial` `` documents `devices.floppy` and `devices.serial`."""
    text = (ROOT / "docs" / "specs.md").read_text()
    body = text.split(f"\n## {kind}\n", 1)[1].split("\n## ", 1)[0]
    out: set[str] = set()
    for line in body.splitlines():
        if not line.startswith("| `"):
            continue
        parent = ""
        for token in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if "." in token or not parent:
                parent = token.rsplit(".", 1)[0] if "." in token else ""
                out.add(token)
            else:
                out.add(f"{parent}.{token}")
    return out


@pytest.mark.parametrize("kind", shape.POLICY_KINDS)
def test_each_setting_has_a_row_in_docs_specs(kind):
    """The docs line of a control: every setting and section parameter in the kind's field table."""
    documented = {re.sub(r"<[^>]+>", "<key>", p) for p in _documented_paths(kind)}
    wanted = []
    for name, section in shape.sections(kind).items():
        key = ".<key>" if section.shape in ("flat", "keyed") else ""
        leaves = [*section.leaves, *section.parameters] if section.shape in ("nested", "keyed") else [""]
        wanted += [f"{name}{key}.{leaf}" if leaf else f"{name}{key}" for leaf in leaves]
    missing = [p for p in wanted if p not in documented]
    assert not missing, f"docs/specs.md, ## {kind}: no row for {missing}"
