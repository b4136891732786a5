"""Start and stop the project's vCenter simulator (``build/vsr-sim``, Go, see sim/ and docs/simulator.md).

    handle = start_simulator("-esx", "-drift")     # -> SimHandle, also a context manager
    si = handle.connect()                          # pyVmomi ServiceInstance over verified TLS
    handle.stop()

Every simulator listens on a free loopback port with TLS (a 2048-bit certificate generated once per test
process, SAN 127.0.0.1/localhost) and a username/password given to it as files.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import hashlib
import os
import selectors
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BIN = REPO / "build" / "vsr-sim"
USERNAME = "vsr-admin"
PASSWORD = "S3cret-sim-pass!"  # test-only credential for the throwaway simulator

__all__ = ["PropertyWatch", "SimHandle", "SimulatorError", "start_simulator", "simulator_binary", "test_pki"]


class SimulatorError(RuntimeError):
    """The simulator could not be built or did not start."""


_build_lock = threading.Lock()
_built: Path | None = None


def simulator_binary() -> Path:
    """Path of the simulator binary: ``$VSR_SIM_BIN``, else ``build/vsr-sim`` built on demand with sim/build.sh."""
    global _built
    env = os.environ.get("VSR_SIM_BIN")
    if env:
        path = Path(env)
        if not os.access(path, os.X_OK):
            raise SimulatorError(f"VSR_SIM_BIN={env} is not an executable file")
        return path
    with _build_lock:
        if _built is None:
            proc = subprocess.run([str(REPO / "sim" / "build.sh"), str(DEFAULT_BIN)], cwd=REPO,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SimulatorError(f"sim/build.sh failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
            _built = DEFAULT_BIN
    return _built


@dataclass(frozen=True)
class TestPKI:
    """A self-signed 2048-bit RSA certificate for 127.0.0.1 and its key, as PEM files."""

    __test__ = False  # not a pytest test class

    directory: Path
    cert_file: Path
    key_file: Path
    thumbprint: str  # SHA-256 of the DER certificate, "AA:BB:..."


_pki: TestPKI | None = None
_pki_lock = threading.Lock()


def test_pki() -> TestPKI:
    """The per-process test certificate (generated on first use, removed at exit)."""
    global _pki
    with _pki_lock:
        if _pki is None:
            _pki = _generate_pki()
    return _pki


test_pki.__test__ = False  # type: ignore[attr-defined]


def _generate_pki() -> TestPKI:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    directory = Path(tempfile.mkdtemp(prefix="vsr-sim-pki-"))
    atexit.register(shutil.rmtree, directory, True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vsr-sim test"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vsr tests")])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(hours=1))
        .not_valid_after(now + _dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=True,
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "cert.pem"
    key_file = directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return TestPKI(directory, cert_file, key_file, ":".join(digest[i:i + 2] for i in range(0, 64, 2)))


@dataclass
class SimHandle:
    """A running simulator. Stop it with :meth:`stop` (or use it as a context manager)."""

    url: str
    host: str
    port: int
    username: str
    password: str
    ca_file: str
    thumbprint: str
    flags: tuple[str, ...]
    workdir: Path
    process: subprocess.Popen = field(repr=False)
    startup_seconds: float = 0.0
    _connections: list = field(default_factory=list, repr=False)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def username_file(self) -> Path:
        return self.workdir / "username"

    @property
    def password_file(self) -> Path:
        return self.workdir / "password"

    @property
    def log_file(self) -> Path:
        return self.workdir / "sim.log"

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying context that trusts only this simulator's certificate."""
        return ssl.create_default_context(cafile=self.ca_file)

    def connect(self, username: str | None = None, password: str | None = None):
        """Log in with pyVmomi over verified TLS; the connection is closed by :meth:`stop`."""
        from pyVim.connect import SmartConnect

        si = SmartConnect(host=self.host, port=self.port, user=username or self.username,
                          pwd=self.password if password is None else password, sslContext=self.ssl_context())
        self._connections.append(si)
        return si

    def vcenter_yaml(self, name: str = "sim") -> str:
        """A VCenter document for this simulator (credentials by *File, TLS verified against ca_file)."""
        return (
            "apiVersion: vsr.dev/v1alpha1\n"
            "kind: VCenter\n"
            f"metadata: {{name: {name}}}\n"
            "spec:\n"
            f"  server: \"{self.host}:{self.port}\"\n"
            f"  credentials: {{usernameFile: \"{self.username_file}\", passwordFile: \"{self.password_file}\"}}\n"
            f"  tls: {{verify: true, caFile: \"{self.ca_file}\"}}\n"
        )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the simulator and wait; returns its exit code (0 on a clean shutdown)."""
        from pyVim.connect import Disconnect

        for si in self._connections:
            try:
                Disconnect(si)
            except Exception:  # noqa: BLE001 - the simulator may already be gone
                pass
        self._connections.clear()
        code = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait(5)
        if self.process.stdout:
            self.process.stdout.close()
        keep = os.environ.get("VSR_SIM_LOG_DIR")  # keep simulator logs (e.g. race-detector builds)
        if keep and self.log_file.exists():
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_file, Path(keep) / f"{self.workdir.name}.log")
        shutil.rmtree(self.workdir, ignore_errors=True)
        _running[:] = [h for h in _running if h is not self]
        return code

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


_running: list[SimHandle] = []


@atexit.register
def _stop_leftovers() -> None:
    """Never leave simulators behind when the test process exits without stopping them."""
    for handle in list(_running):
        if handle.running:
            handle.process.kill()
            handle.process.wait(5)
        shutil.rmtree(handle.workdir, ignore_errors=True)


def start_simulator(*flags: str, username: str = USERNAME, password: str = PASSWORD,
                    timeout: float = 60.0, new_session: bool = False) -> SimHandle:
    """Start ``vsr-sim`` on a free loopback port with TLS and credentials, wait until it prints its URL.
    ``new_session``: in its own session, so a terminal's Ctrl-C does not reach it (the caller stops it)."""
    binary = simulator_binary()
    pki = test_pki()
    workdir = Path(tempfile.mkdtemp(prefix="vsr-sim-"))
    (workdir / "username").write_text(username + "\n")
    (workdir / "password").write_text(password + "\n")
    (workdir / "password").chmod(0o600)
    argv = [str(binary), "-l", "127.0.0.1:0", "-tlscert", str(pki.cert_file), "-tlskey", str(pki.key_file),
            "-username", str(workdir / "username"), "-password", str(workdir / "password"), *flags]
    started = time.monotonic()
    log = open(workdir / "sim.log", "wb")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, cwd=workdir,
                                start_new_session=new_session)
    finally:
        log.close()
    line = _read_line(proc, timeout)
    if not line.startswith("https://"):
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        text = (workdir / "sim.log").read_text(errors="replace")
        shutil.rmtree(workdir, ignore_errors=True)
        raise SimulatorError(f"vsr-sim {' '.join(flags)} did not start (exit {proc.returncode}): {line!r}\n{text}")
    hostport = line.split("://", 1)[1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    handle = SimHandle(url=line, host=host, port=int(port), username=username, password=password,
                       ca_file=str(pki.cert_file), thumbprint=pki.thumbprint, flags=tuple(flags), workdir=workdir,
                       process=proc, startup_seconds=time.monotonic() - started)
    _running.append(handle)
    return handle


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return buf.decode(errors="replace") + " (timed out)"
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    finally:
        sel.close()
    return buf.decode(errors="replace").split("\n", 1)[0].strip()


class PropertyWatch:
    """A private PropertyCollector with one filter on ``paths`` of ``obj``, for WaitForUpdatesEx checks.

        with PropertyWatch(si, host, ["config.firewall.ruleset"]) as watch:
            ...change something...
            changes, seconds = watch.wait(timeout=1.0)   # {path: value}, time until the update arrived
    """

    def __init__(self, si, obj, paths):
        from pyVmomi import vmodl

        pcq = vmodl.query.PropertyCollector
        self._pcq = pcq
        self.pc = si.RetrieveContent().propertyCollector.CreatePropertyCollector()
        spec = pcq.FilterSpec(objectSet=[pcq.ObjectSpec(obj=obj)],
                              propSet=[pcq.PropertySpec(type=type(obj), pathSet=list(paths))])
        self.pc.CreateFilter(spec, partialUpdates=True)
        first = self.pc.WaitForUpdatesEx("", pcq.WaitOptions(maxWaitSeconds=0))
        self.version = first.version if first is not None else ""
        self.initial = _changes(first)

    def wait(self, timeout: float = 1.0) -> tuple[dict, float]:
        """Wait up to ``timeout`` (whole seconds, rounded up) for the next update; ({} , elapsed) if none."""
        import math

        started = time.monotonic()
        res = self.pc.WaitForUpdatesEx(self.version, self._pcq.WaitOptions(maxWaitSeconds=max(1, math.ceil(timeout))))
        elapsed = time.monotonic() - started
        if res is None:
            return {}, elapsed
        self.version = res.version
        return _changes(res), elapsed

    def close(self) -> None:
        try:
            self.pc.DestroyPropertyCollector()
        except Exception:  # noqa: BLE001 - best effort
            pass

    def __enter__(self) -> PropertyWatch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def objects_by_name(si, vim_type) -> dict:
    """Every object of `vim_type` in the simulator's inventory, by name (one ContainerView)."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        return {o.name: o for o in view.view}
    finally:
        view.DestroyView()


def _changes(update_set) -> dict:
    out: dict = {}
    if update_set is None:
        return out
    for fs in update_set.filterSet or []:
        for obj in fs.objectSet or []:
            for ch in obj.changeSet or []:
                out[ch.name] = ch.val
    return out
