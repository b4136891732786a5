"""Saved plans (`vsr plan --out FILE`, then `vsr apply FILE`): the consent to exactly those changes.

A saved plan is one JSON document, `"kind": "vsr.plan/v1"`: the spec paths, the spec revision, and per vCenter
its name, its server and every change that would be applied, with the observed (current) and desired values. It
holds no secret: connection credentials are taken again from the VCenter documents or the command line.

Applying it re-plans the same vCenters and then `restrict`s each fresh plan: a change is applied only when the
saved plan holds it with the same current and desired values; one whose values moved is skipped as `stale`, and
drift that is not in the saved plan is skipped as `notInSavedPlan`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.api.document import Document
from reconciler.controllers.contract import Skip
from reconciler.engine.planner import VCenterPlan
from reconciler.engine.types import Change, jsonable, render_path
from reconciler.gitrev import git_dirty, git_revision

KIND = "vsr.plan/v1"
_KIND_FIELD = re.compile(rb'"kind"\s*:\s*"vsr\.plan/v1"')

#: identity of a change within one vCenter: object type, moid, controller, rendered path, subject
Key = tuple[str, str, str, str, str]


class SavedPlanError(ValueError):
    """A saved plan that cannot be read; the message is one line naming the file."""


@dataclass(frozen=True)
class SavedChange:
    key: Key
    name: str
    current: Any
    desired: Any


@dataclass
class SavedVCenter:
    name: str
    server: str
    changes: dict[Key, SavedChange] = field(default_factory=dict)


@dataclass
class SavedPlan:
    file: str
    spec_paths: list[str]
    revision: dict[str, Any]
    created: str
    vcenters: dict[str, SavedVCenter]


def key_of(change: Change) -> Key:
    return (change.object.type, change.object.moid, change.controller, render_path(change.path), change.subject)


def _value(value: Any) -> Any:
    """A value as it reads back from the saved JSON, so that fresh and saved values compare alike."""
    return json.loads(json.dumps(jsonable(value), default=str))


def document(plans: Iterable[VCenterPlan], servers: Mapping[str, str], spec_paths: Iterable[str],
             revision: Mapping[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """The saved-plan document of these plans: their actionable changes only (nothing else would be applied)."""
    vcenters = []
    for vplan in plans:
        changes = [{
            "object": {"type": c.object.type, "moid": c.object.moid, "name": c.object.name},
            "controller": c.controller, "path": render_path(c.path), "subject": c.subject or None,
            "current": _value(c.current), "desired": _value(c.desired), "policy": c.policy, "source": c.source,
        } for c in vplan.plan.changes if c.actionable]
        vcenters.append({"name": vplan.vcenter, "server": servers.get(vplan.vcenter, ""), "changes": changes})
    return {
        "kind": KIND,
        "created": (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        "specPaths": [str(Path(p).resolve()) for p in spec_paths],
        "specRevision": dict(revision),
        "vcenters": vcenters,
    }


def write(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def sniff(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a saved plan, judged by its content (not its name): a JSON object of kind vsr.plan/v1."""
    p = Path(path)
    try:
        if not p.is_file():
            return False
        with p.open("rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and _KIND_FIELD.search(head) is not None


def load(path: str | os.PathLike[str]) -> SavedPlan:
    """Read a saved plan; any defect raises SavedPlanError with one line naming the file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SavedPlanError(f"{path}: cannot read the saved plan: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SavedPlanError(f"{path}:{exc.lineno}: not a saved plan: invalid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise SavedPlanError(f"{path}: not a saved plan: kind must be {KIND!r}")
    try:
        vcenters: dict[str, SavedVCenter] = {}
        for i, vc in enumerate(doc["vcenters"]):
            saved = SavedVCenter(str(vc["name"]), str(vc["server"]))
            for j, c in enumerate(vc["changes"]):
                obj = c["object"]
                key: Key = (str(obj["type"]), str(obj["moid"]), str(c["controller"]), str(c["path"]),
                            str(c.get("subject") or ""))
                if "current" not in c or "desired" not in c:
                    raise SavedPlanError(f"{path}: vcenters[{i}].changes[{j}]: needs current and desired")
                saved.changes[key] = SavedChange(key, str(obj.get("name", obj["moid"])), c["current"], c["desired"])
            vcenters[saved.name] = saved
        paths = [str(p) for p in doc["specPaths"]]
        revision = dict(doc.get("specRevision") or {})
    except SavedPlanError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise SavedPlanError(f"{path}: not a saved plan: missing or malformed field {exc}") from None
    if not paths:
        raise SavedPlanError(f"{path}: the saved plan names no spec path")
    return SavedPlan(str(path), paths, revision, str(doc.get("created", "")), vcenters)


def restrict(vplan: VCenterPlan, saved: SavedVCenter) -> list[str]:
    """Leave actionable only the fresh changes that the saved plan holds with the same current and desired
    values. Returns notes for saved changes that no longer appear at all (fixed meanwhile, or object gone)."""
    seen: set[Key] = set()
    for po in vplan.objects:
        po.changes = [_restricted(c, saved, seen) for c in po.changes]
    vplan.collect_changes()
    notes = []
    for key, change in sorted(saved.changes.items()):
        if key not in seen:
            notes.append(f"stale: {key[0]} {change.name} {key[3]}{f' [{key[4]}]' if key[4] else ''}: planned "
                         f"{_short(change.current)} -> {_short(change.desired)}, but it no longer differs; skipped")
    return notes


def _restricted(change: Change, saved: SavedVCenter, seen: set[Key]) -> Change:
    key = key_of(change)
    planned = saved.changes.get(key)
    if planned is not None:
        seen.add(key)
    if not change.actionable:
        return change
    if planned is None:
        return change.with_(reason=Skip.NOT_IN_SAVED_PLAN,
                            message="not in the saved plan (the drift appeared after it was saved); not applied")
    current, desired = _value(change.current), _value(change.desired)
    if current != planned.current:
        return change.with_(reason=Skip.STALE, message=f"stale: the live value is now {_short(current)}, the saved "
                                                      f"plan expected {_short(planned.current)}; not applied")
    if desired != planned.desired:
        return change.with_(reason=Skip.STALE, message=f"stale: the specs now want {_short(desired)}, the saved "
                                                      f"plan applies {_short(planned.desired)}; not applied")
    return change


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def spec_revision(paths: Iterable[str | os.PathLike[str]], documents: Iterable[Document]) -> dict[str, Any]:
    """`digest`: SHA-256 of the loaded documents (kind, name, content), always; `git`: the commit of the first
    spec path's repository when it is one (and `dirty` when its files differ from that commit)."""
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: (d.kind, d.name)):
        digest.update(f"{doc.kind}/{doc.name}\n".encode())
        digest.update(doc.model.model_dump_json().encode())
        digest.update(b"\n")
    out: dict[str, Any] = {"digest": f"sha256:{digest.hexdigest()}"}
    first = next(iter(paths), None)
    if first is not None:
        out.update(_git_revision(Path(first)))
    return out


def _git_revision(path: Path) -> dict[str, Any]:
    head = git_revision(path)
    if head is None:
        return {}
    out: dict[str, Any] = {"git": head}
    if git_dirty(path):
        out["dirty"] = True
    return out


def describe_revision(revision: Mapping[str, Any]) -> str:
    if revision.get("git"):
        return f"git {str(revision['git'])[:12]}{' (with uncommitted changes)' if revision.get('dirty') else ''}"
    return str(revision.get("digest", "unknown"))[:19]
