"""Helpers for end-to-end tests: a spec directory for a simulator, `vsr` run in-process, quick pyVmomi lookups."""

from __future__ import annotations

import json
import socket
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyVmomi import vim

from reconciler.cli import main as vsr_main
from reconciler.events.journal import Journal


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.out)

    def changes(self, **match: Any) -> list[dict[str, Any]]:
        """Changes from a `-o json` run whose fields equal `match` (object name via `name=`)."""
        out = []
        for change in self.json["changes"]:
            if "name" in match and change["object"]["name"] != match["name"]:
                continue
            if all(change.get(k) == v for k, v in match.items() if k != "name"):
                out.append(change)
        return out


class Workspace:
    """A spec directory with a VCenter document for `sim`, and a journal beside it."""

    def __init__(self, root: Path, sim: Any, name: str = "sim"):
        self.root = root
        self.specs = root / "specs"
        self.specs.mkdir(parents=True, exist_ok=True)
        self.journal = root / "journal.db"
        self.sim = sim
        (self.specs / "vcenter.yaml").write_text(sim.vcenter_yaml(name))

    def write(self, name: str, text: str) -> Path:
        path = self.specs / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def policy(self, name: str, spec: str, kind: str = "HostSecurityPolicy") -> Path:
        body = textwrap.indent(textwrap.dedent(spec).strip(), "  ")
        return self.write(f"{name}.yaml", f"apiVersion: vsr.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n{body}\n")

    def vsr(self, capsys: Any, *args: str) -> Run:
        capsys.readouterr()
        command, rest = args[0], list(args[1:])
        extra = ["--yes"] if command == "apply" else []
        code = vsr_main([command, str(self.specs), "-o", "json", "--journal", str(self.journal), *extra, *rest])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def events(self, reason: str | None = None) -> list[Any]:
        with Journal(self.journal) as journal:
            return journal.query(reason=reason)


def by_name(si: Any, vim_type: type, name: str) -> Any:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        for obj in view.view:
            if obj.name == name:
                return obj
    finally:
        view.DestroyView()
    raise LookupError(f"no {vim_type.__name__} named {name}")


def host(si: Any, name: str) -> vim.HostSystem:
    return by_name(si, vim.HostSystem, name)


def service(host_system: Any, key: str) -> Any:
    return next(s for s in host_system.configManager.serviceSystem.serviceInfo.service if s.key == key)


def ruleset(host_system: Any, key: str) -> Any:
    return next(r for r in host_system.configManager.firewallSystem.firewallInfo.ruleset if r.key == key)


def option(host_system: Any, key: str) -> Any:
    return host_system.configManager.advancedOption.QueryOptions(name=key)[0].value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy (returned), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of a GET on the daemon's HTTP port; (0, "") when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""
