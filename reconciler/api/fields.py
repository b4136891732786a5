"""Field paths and the shape of policy sections, derived from the pydantic models: the one owner of both.

A field path is a tuple of spec keys below `spec` (`("services", "TSM-SSH", "running")`). What paths a section
produces follows from its type in `reconciler.api.models`:

| shape    | model type                         | example                                  | path                       |
|----------|------------------------------------|------------------------------------------|----------------------------|
| scalar   | a plain value                      | `secureBoot: true`                       | `(secureBoot,)`            |
| nested   | a model                            | `lockdown: {mode: normal}`               | `(lockdown, mode)`         |
| flat     | `dict[str, value]`                 | `advancedSettings: {Mem.ShareForceSalting: 2}` | `(advancedSettings, key)` |
| keyed    | `dict[str, model]`                 | `services: {TSM-SSH: {running: false}}`  | `(services, key, running)` |

Fields annotated with `PARAMETER` parameterise controllers (`excludePortgroups`, `powerCycle`, `keyProvider`):
they travel with the settings to the controllers but are never claimed, compared, waived or reported as results.
Fields of `PolicySpecBase` and `selector` are options of the policy itself, not sections.
"""

from __future__ import annotations

import fnmatch
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

from .models import KINDS, PARAMETER, POLICY_KINDS, PolicySpecBase

FieldPath = tuple[str, ...]
Shape = Literal["scalar", "nested", "flat", "keyed"]
POLICY_OPTIONS = frozenset({"selector"})


@dataclass(frozen=True)
class Section:
    """One setting section of a policy kind: its YAML name, shape, setting leaves and parameter leaves."""

    name: str
    shape: Shape
    leaves: tuple[str, ...] = ()      # nested/keyed: the attribute names that are settings
    parameters: tuple[str, ...] = ()  # nested, keyed: attribute names marked PARAMETER

    @property
    def leaf_index(self) -> int:
        """Position of the fixed attribute name in a path (0 = the section itself is the leaf)."""
        return {"scalar": 0, "nested": 1, "flat": 1, "keyed": 2}[self.shape]


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _alias(name: str, info: Any) -> str:
    return info.alias or name


def _is_parameter(info: Any) -> bool:
    return any(m is PARAMETER for m in info.metadata)


def _split_leaves(model: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    leaves = tuple(_alias(n, i) for n, i in model.model_fields.items() if not _is_parameter(i))
    params = tuple(_alias(n, i) for n, i in model.model_fields.items() if _is_parameter(i))
    return leaves, params


def _section(name: str, annotation: Any) -> Section:
    tp = _strip_optional(annotation)
    if typing.get_origin(tp) is dict:
        value_type = _strip_optional(typing.get_args(tp)[1])
        if _is_model(value_type):
            return Section(name, "keyed", *_split_leaves(value_type))
        return Section(name, "flat")
    if _is_model(tp):
        leaves, params = _split_leaves(tp)
        return Section(name, "nested", leaves, params)
    return Section(name, "scalar")


def policy_spec_model(kind: str) -> type[BaseModel]:
    return KINDS[kind].model_fields["spec"].annotation  # type: ignore[return-value]


@cache
def sections(kind: str) -> dict[str, Section]:
    """The setting sections of a policy kind (`HostSecurityPolicy`), by YAML name."""
    spec = policy_spec_model(kind)
    out: dict[str, Section] = {}
    for name, info in spec.model_fields.items():
        alias = _alias(name, info)
        if name in PolicySpecBase.model_fields or alias in POLICY_OPTIONS or _is_parameter(info):
            continue
        out[alias] = _section(alias, info.annotation)
    return out


@cache
def policy_parameters(kind: str) -> tuple[str, ...]:
    """Top-level fields marked PARAMETER (`powerCycle`): policy-wide, handed to every controller of the kind."""
    spec = policy_spec_model(kind)
    return tuple(_alias(n, i) for n, i in spec.model_fields.items() if _is_parameter(i))


def section_of(kind: str, name: str) -> Section:
    return sections(kind)[name]


def flatten(section: Section, value: Any) -> dict[FieldPath, Any]:
    """A section's value (JSON-mode, omitted fields absent) as field paths, parameters included."""
    if value is None:
        return {}
    if section.shape == "scalar":
        return {(section.name,): value}
    if not isinstance(value, Mapping):
        return {}
    if section.shape == "keyed":
        return {(section.name, str(key), attr): attrs[attr] for key, attrs in value.items()
                if isinstance(attrs, Mapping) for attr in (*section.leaves, *section.parameters)
                if attrs.get(attr) is not None}
    if section.shape == "nested":
        wanted = set(section.leaves) | set(section.parameters)
        return {(section.name, str(k)): v for k, v in value.items() if k in wanted and v is not None}
    return {(section.name, str(k)): v for k, v in value.items()}


def is_parameter(kind: str, path: FieldPath) -> bool:
    """Does this path name a parameter (not a setting) of the policy kind?"""
    if len(path) == 1:
        return path[0] in policy_parameters(kind)
    section = sections(kind).get(path[0])
    if section is None:
        return False
    if section.shape == "keyed":
        return len(path) == 3 and path[2] in section.parameters
    return section.shape == "nested" and path[1] in section.parameters


def settings_of(kind: str, spec: Mapping[str, Any]) -> dict[FieldPath, Any]:
    """Every setting a policy spec (a JSON-mode dict) manages, keyed by field path; parameters excluded."""
    out: dict[FieldPath, Any] = {}
    for name, section in sections(kind).items():
        if name in spec:
            out.update((p, v) for p, v in flatten(section, spec[name]).items() if not is_parameter(kind, p))
    return out


def managed_fields(spec: BaseModel) -> dict[FieldPath, Any]:
    """Every setting the policy manages (non-None leaves), keyed by field path tuple, values as written."""
    kind = next(k for k in POLICY_KINDS if policy_spec_model(k) is type(spec))
    return settings_of(kind, spec.model_dump(by_alias=True, exclude_none=True, mode="python"))


def render_field_path(path: FieldPath) -> str:
    """`("advancedSettings", "Mem.ShareForceSalting")` -> `advancedSettings.Mem.ShareForceSalting`."""
    return ".".join(path)


def parse_field_path(text: str) -> FieldPath:
    """A field path as written for people -> its tuple form. Keys of flat sections keep their dots; in keyed
    sections the last element is the attribute (`services.TSM-SSH.running`)."""
    section, _, rest = text.partition(".")
    if not rest:
        return (section,)
    shape = _shape_anywhere(section)
    if shape == "flat":
        return (section, rest)
    if shape == "keyed":
        key, _, attr = rest.rpartition(".")
        return (section, key, attr) if key else (section, attr)
    return (section, *rest.split("."))


def _shape_anywhere(name: str) -> Shape | None:
    for kind in POLICY_KINDS:
        if name in sections(kind):
            return sections(kind)[name].shape
    return None


def field_matches(pattern: str, path: FieldPath) -> bool:
    """Does a waiver field pattern (dotted, globs allowed) cover `path`? A pattern also covers sub-fields."""
    text = render_field_path(path)
    return fnmatch.fnmatchcase(text, pattern) or text.startswith(pattern.rstrip(".") + ".") \
        or fnmatch.fnmatchcase(text, pattern + ".*")


def waivable_roots() -> list[str]:
    return sorted({name for kind in POLICY_KINDS for name in sections(kind)})


def _leaves_anywhere(name: str) -> tuple[Section, tuple[str, ...]] | None:
    found = [sections(k)[name] for k in POLICY_KINDS if name in sections(k)]
    if not found:
        return None
    return found[0], tuple(leaf for s in found for leaf in s.leaves)


def check_waiver_field(pattern: str) -> str | None:
    """A message when a waiver field pattern cannot name any setting, else None."""
    parts = pattern.split(".")
    root = parts[0]
    roots = waivable_roots()
    if not any(fnmatch.fnmatchcase(r, root) for r in roots):
        return f"{pattern!r} names no setting; field paths start with one of: {', '.join(roots)}"
    found = _leaves_anywhere(root)
    if found is None or found[0].shape == "flat":
        return None  # a glob root, or advancedSettings.<any key>
    section, leaves = found
    index = section.leaf_index
    if index == 0:
        return None if len(parts) == 1 else f"{pattern!r}: {root} has no sub-fields"
    if len(parts) > index + 1:
        return f"{pattern!r} is too long: {'.'.join(parts[:index + 1])} is already a single setting"
    if len(parts) == index + 1 and not any(fnmatch.fnmatchcase(leaf, parts[index]) for leaf in leaves):
        return f"{pattern!r} names no setting; after {'.'.join(parts[:index])} comes one of: {', '.join(leaves)}"
    return None
