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
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
    if dockerfile == "Dockerfile":  # what the install needs
        assert not dockerignored("pyproject.toml") and not dockerignored("reconciler/cli.py")
        assert not dockerignored("requirements.lock")
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
    run = " ".join(args_of(ins, "RUN"))
    # dependencies only from the hash-checked lock; vsr itself offline, without resolving anything
    assert "pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock" in run
    assert "pip install --no-deps --no-build-isolation --no-index ." in run and "pip check" in run
    assert exec_form(args_of(ins, "ENTRYPOINT")[-1]) == ["vsr"]
    # the default command is a valid `vsr` invocation (parsed by the real CLI)
    cmd = exec_form(args_of(ins, "CMD")[-1])
    args = build_parser().parse_args(cmd)
    assert args.command == "run" and args.listen == "[::]:8080" and str(args.journal) == "/var/lib/vsr/journal.db"
    # pyproject's console script is what ENTRYPOINT runs
    assert 'vsr = "reconciler.cli:entry"' in (ROOT / "pyproject.toml").read_text()
    assert args_of(ins, "USER")[-1] == "10001:10001"


def test_simulator_image():
    ins = instructions(ROOT / "sim" / "Dockerfile")
    defaults = build_args(ins)
    assert defaults["DEBIAN_IMAGE"].startswith("debian:bookworm")
    # a static binary on a distroless base: no shell, no package manager, no libc
    assert defaults["RUNTIME_IMAGE"] == "gcr.io/distroless/static-debian12:nonroot"
    assert args_of(ins, "FROM")[-1] == "${RUNTIME_IMAGE}"
    run = " ".join(args_of(ins, "RUN"))
    assert "golang-go" in run and "golang-github-vmware-govmomi-dev" in run
    assert "CGO_ENABLED=0 VSR_GOCACHE=/tmp/gocache sim/build.sh /out/vsr-sim" in run and "ldd /out/vsr-sim" in run
    assert "export CGO_ENABLED=0" in (ROOT / "sim" / "build.sh").read_text()
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


# -- the lock, labels, the static simulator -----------------------------------------------------------------------

def lock_entries() -> dict[str, tuple[str, list[str]]]:
    """name -> (pinned version, sha256 hashes) of requirements.lock."""
    text = re.sub(r"\\\n", " ", (ROOT / "requirements.lock").read_text())
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req, *opts = line.split(" --hash=")
        name, _, version = req.split(";")[0].strip().partition("==")
        assert version, f"requirements.lock: {req!r} is not pinned with =="
        out[canonicalize_name(name)] = (version.strip(), [o.strip() for o in opts])
    return out


def test_lock_pins_every_dependency_of_pyproject_with_hashes():
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = lock_entries()
    wanted = [Requirement(r) for r in project["project"]["dependencies"]]
    wanted += [Requirement(r) for r in project["build-system"]["requires"]]  # --no-build-isolation uses them
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in lock, f"requirements.lock lacks {req}: regenerate it (docs/deploy.md, Images)"
        version, _ = lock[name]
        assert req.specifier.contains(version, prereleases=True), f"requirements.lock: {name}=={version} vs {req}"
    for name, (version, hashes) in lock.items():
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_lock_is_closed_over_the_dependencies_of_what_it_pins():
    # Every requirement (for Linux, Python 3.11) of a locked package is locked too, else --require-hashes fails
    # in the image build. Checked on the installed distributions where they are the locked versions.
    from importlib import metadata
    lock = lock_entries()
    env = {"sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    checked = 0
    for name, (version, _) in lock.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(env):
                assert canonicalize_name(req.name) in lock, f"{name} needs {req}, not in requirements.lock"
        checked += 1
    assert checked >= 8, checked  # the test environment has the locked runtime dependencies installed


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "sim/Dockerfile"])
def test_oci_labels(dockerfile):
    ins = instructions(ROOT / dockerfile)
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z]+)="([^"]*)"', " ".join(args_of(ins, "LABEL"))))
    assert {"title", "description", "source", "licenses", "version", "revision"} <= {k.rsplit(".", 1)[1]
                                                                                      for k in labels}
    assert labels["org.opencontainers.image.source"] == "https://github.com/vsr-dev/vsr"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"  # pyproject's license
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    # the ARGs are declared in the final stage (after its FROM), where LABEL can see them
    final = ins[max(i for i, (w, _) in enumerate(ins) if w == "FROM"):]
    assert f"VERSION={version}" in args_of(final, "ARG") and "REVISION=unknown" in args_of(final, "ARG")


def test_simulator_binary_is_static():
    # sim/build.sh (what sim/Dockerfile runs) must give a binary the distroless base can run: no ELF interpreter.
    import os
    binary = Path(os.environ.get("VSR_SIM_BIN", ROOT / "build" / "vsr-sim"))
    if not binary.is_file():
        pytest.skip(f"no simulator binary at {binary} (sim/build.sh builds it)")
    data = binary.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2  # 64-bit
    phoff, phentsize, phnum = (int.from_bytes(data[32:40], "little"), int.from_bytes(data[54:56], "little"),
                               int.from_bytes(data[56:58], "little"))
    types = [int.from_bytes(data[phoff + i * phentsize:phoff + i * phentsize + 4], "little") for i in range(phnum)]
    assert 3 not in types, "PT_INTERP present: dynamically linked (CGO_ENABLED=0 missing?)"
    assert 1 in types  # it has loadable segments at all
