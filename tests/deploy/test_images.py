"""The Dockerfiles cannot be built here (no container engine): check what can be checked without building.
Files they COPY exist and survive .dockerignore, bases are pinned releases, users are non-root, entrypoints and
default commands match the CLIs, and the chart's images and arguments agree with them."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from helmtool import ROOT
from reconciler.cli import build_parser


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def args_of(ins: list[tuple[str, str]], word: str) -> list[str]:
    return [rest for w, rest in ins if w == word]


def exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list), f"{text!r}: use the exec (JSON) form"
    return value


def build_args(ins: list[tuple[str, str]]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in args_of(ins, "ARG") if "=" in a)


def dockerignored(rel: str) -> bool:
    """Docker's .dockerignore semantics for the patterns used here (last match wins, ! re-includes)."""
    ignored = False
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = rel.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "sim/Dockerfile"])
def test_copied_files_exist_and_are_in_the_build_context(dockerfile):
    ins = instructions(ROOT / dockerfile)
    copies = [c for c in args_of(ins, "COPY") if not c.startswith("--from")]
    assert copies
    for copy in copies:
        *sources, _dest = shlex.split(copy)
        for src in sources:
            path = ROOT / src
            assert path.exists(), f"{dockerfile}: COPY {src}: missing"
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            kept = [f for f in files if not dockerignored(str(f.relative_to(ROOT)))]
            assert kept, f"{dockerfile}: COPY {src}: excluded by .dockerignore"
    if dockerfile == "Dockerfile":  # what `pip install .` needs
        assert not dockerignored("pyproject.toml") and not dockerignored("reconciler/cli.py")
        assert dockerignored(".venv/bin/python") and dockerignored("build/vsr-sim") and dockerignored(".git/HEAD")
    else:
        assert not dockerignored("sim/main.go") and not dockerignored("sim/build.sh")


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "sim/Dockerfile"])
def test_bases_are_pinned_releases_and_users_non_root(dockerfile):
    ins = instructions(ROOT / dockerfile)
    defaults = build_args(ins)
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], f.split()[0]) for f in args_of(ins, "FROM")]
    assert len(bases) == 2  # a build stage and a runtime stage
    for base in bases:
        assert ":" in base and not base.endswith(":latest"), base
    users = args_of(ins, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert int(users[-1].split(":")[0]) >= 10000  # matches the chart's runAsUser, away from host uids


def test_reconciler_image():
    ins = instructions(ROOT / "Dockerfile")
    base = build_args(ins)["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-bookworm)?", base), base
    assert any("pip install ." in r for r in args_of(ins, "RUN"))
    assert exec_form(args_of(ins, "ENTRYPOINT")[-1]) == ["vsr"]
    # the default command is a valid `vsr` invocation (parsed by the real CLI)
    cmd = exec_form(args_of(ins, "CMD")[-1])
    args = build_parser().parse_args(cmd)
    assert args.command == "run" and args.listen == ":8080" and str(args.journal) == "/var/lib/vsr/journal.db"
    # pyproject's console script is what ENTRYPOINT runs
    assert 'vsr = "reconciler.cli:main"' in (ROOT / "pyproject.toml").read_text()
    assert args_of(ins, "USER")[-1] == "10001:10001"


def test_simulator_image():
    ins = instructions(ROOT / "sim" / "Dockerfile")
    defaults = build_args(ins)
    assert defaults["DEBIAN_IMAGE"].startswith("debian:bookworm")
    assert defaults["DEBIAN_SLIM_IMAGE"].startswith("debian:bookworm") and "slim" in defaults["DEBIAN_SLIM_IMAGE"]
    run = " ".join(args_of(ins, "RUN"))
    assert "golang-go" in run and "golang-github-vmware-govmomi-dev" in run and "sim/build.sh /out/vsr-sim" in run
    assert "COPY --from=build /out/vsr-sim /usr/local/bin/vsr-sim" in [f"COPY {c}" for c in args_of(ins, "COPY")]
    entry = exec_form(args_of(ins, "ENTRYPOINT")[-1])
    assert entry == ["/usr/local/bin/vsr-sim"]
    # the default and the chart's flags are flags the simulator defines (sim/main.go)
    main = (ROOT / "sim" / "main.go").read_text()
    defined = set(re.findall(r'fs\.\w+Var\(&c\.\w+, "([\w-]+)"', main))
    cmd = exec_form(args_of(ins, "CMD")[-1])
    assert cmd == ["-l", "0.0.0.0:8989"]
    chart_flags = {"l", "username", "password", "api-version", "dc", "cluster", "host", "standalone-host", "esx",
                   "tlscert", "tlskey", "drift"}
    assert chart_flags <= defined, chart_flags - defined


def test_chart_runs_the_images_as_built():
    values = yaml.safe_load((ROOT / "charts" / "vsr" / "values.yaml").read_text())
    chart = yaml.safe_load((ROOT / "charts" / "vsr" / "Chart.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 10001 and values["vcsim"]["podSecurityContext"]["runAsUser"] == 10001
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert chart["appVersion"] == version  # the image tag defaults to appVersion
    assert values["vcsim"]["image"]["tag"] != "latest" and values["gitSync"]["image"]["tag"].startswith("v4.")
