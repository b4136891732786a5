"""JSON Schema of the spec kinds, generated from the models (one file per kind plus one for all kinds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from .models import API_VERSION, KINDS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ALL_KINDS_FILE = "vsr.schema.json"


def kind_file(kind: str) -> str:
    """`HostSecurityPolicy` -> `hostsecuritypolicy.schema.json`."""
    return f"{kind.lower()}.schema.json"


def kind_schema(kind: str) -> dict[str, Any]:
    """The schema of one kind's documents."""
    schema = KINDS[kind].model_json_schema(by_alias=True, mode="validation")
    return {"$schema": DIALECT, "$id": kind_file(kind), **schema}


def all_kinds_schema() -> dict[str, Any]:
    """One schema accepting a document of any kind (`oneOf`, selected by `kind`), shared `$defs`."""
    _, defs = models_json_schema([(model, "validation") for model in KINDS.values()], by_alias=True,
                                 ref_template="#/$defs/{model}")
    return {
        "$schema": DIALECT,
        "$id": ALL_KINDS_FILE,
        "title": f"vsr spec document ({API_VERSION})",
        "description": "A vsr spec document: VCenter, HostSecurityPolicy, VMSecurityPolicy, Waiver or Attestation.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "oneOf": [{"$ref": f"#/$defs/{kind}"} for kind in KINDS],
        "$defs": defs["$defs"],
    }


def render(schema: dict[str, Any]) -> str:
    """Stable text form (what `vsr schema` prints and `specs/schema/` holds)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def schema_files() -> dict[str, str]:
    """File name -> content of every generated schema file."""
    files = {kind_file(kind): render(kind_schema(kind)) for kind in KINDS}
    files[ALL_KINDS_FILE] = render(all_kinds_schema())
    return files


def write_schemas(directory: Path) -> list[Path]:
    """Write (only changed) schema files into `directory`; returns every file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_files().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path) -> list[str]:
    """Names of schema files in `directory` that are missing or differ from the models."""
    stale = []
    for name, text in schema_files().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale
