"""The simulator's serving layer: verified TLS, strict credentials, API version, inventory, SIGTERM."""

from __future__ import annotations

import socket
import ssl
import hashlib

import pytest
from pyVim.connect import SmartConnect
from pyVmomi import vim

from simulator import SimulatorError, start_simulator


def _view(si, kind):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    try:
        return list(view.view)
    finally:
        view.DestroyView()


def test_login_over_verified_tls_negotiates_7_0_3(sim):
    si = sim.connect()
    about = si.content.about
    assert about.apiVersion == "7.0.3.0"
    assert about.apiType == "VirtualCenter"
    assert si._stub.version == "vim.version.v7_0_3_0"
    assert si.content.sessionManager.currentSession.userName == sim.username


def test_server_presents_the_generated_2048_bit_certificate(sim):
    ctx = sim.ssl_context()
    with socket.create_connection((sim.host, sim.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sim.host) as tls:
            der = tls.getpeercert(binary_form=True)
    digest = hashlib.sha256(der).hexdigest().upper()
    assert ":".join(digest[i:i + 2] for i in range(0, 64, 2)) == sim.thumbprint
    from cryptography import x509
    assert x509.load_der_x509_certificate(der).public_key().key_size == 2048


def test_bad_password_is_rejected(sim):
    with pytest.raises(vim.fault.InvalidLogin):
        sim.connect(password="wrong-password")
    with pytest.raises(vim.fault.InvalidLogin):
        sim.connect(username="someone-else")


def test_unknown_ca_is_refused(sim):
    ctx = ssl.create_default_context()  # system trust store: does not know the test CA
    with pytest.raises(ssl.SSLCertVerificationError):
        SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password, sslContext=ctx)


def test_unauthenticated_calls_fault(sim):
    si = sim.connect()
    stub = si._stub
    # a second, never logged-in stub: the session cookie is absent
    from pyVmomi import SoapStubAdapter
    anon = SoapStubAdapter(host=sim.host, port=sim.port, version=stub.version, sslContext=sim.ssl_context())
    anon_si = vim.ServiceInstance("ServiceInstance", anon)
    content = anon_si.RetrieveContent()
    with pytest.raises(vim.fault.NotAuthenticated):
        content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)


def test_default_inventory_names(sim):
    si = sim.connect()
    assert sorted(dc.name for dc in _view(si, vim.Datacenter)) == ["DC0"]
    assert sorted(c.name for c in _view(si, vim.ClusterComputeResource)) == ["DC0_C0"]
    hosts = {h.name: h for h in _view(si, vim.HostSystem)}
    assert sorted(hosts) == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "DC0_H0"]
    vms = _view(si, vim.VirtualMachine)
    assert len(vms) == 8
    for vm in vms:
        host_name, _, suffix = vm.name.rpartition("_")
        assert suffix in ("VM0", "VM1")
        assert vm.runtime.host.name == host_name
        assert vm.runtime.powerState == "poweredOn"
    pgs = sorted(pg.name for pg in _view(si, vim.dvs.DistributedVirtualPortgroup))
    assert pgs[0] == "DC0_DVPG0" and pgs[1].startswith("DVS0-DVUplinks-") and len(pgs) == 2
    assert [s.name for s in _view(si, vim.DistributedVirtualSwitch)] == ["DVS0"]


def test_esx_mode_and_api_version_flag(sim_factory):
    h = sim_factory("-esx", "-api-version", "7.0.2.0", "-vm-per-host", "3")
    si = h.connect()
    assert si.content.about.apiType == "HostAgent"
    assert si.content.about.apiVersion == "7.0.2.0"
    assert si._stub.version == "vim.version.v7_0_2_0"
    hosts = _view(si, vim.HostSystem)
    assert len(hosts) == 1
    assert sorted(vm.name for vm in _view(si, vim.VirtualMachine)) == ["ha-host_VM0", "ha-host_VM1", "ha-host_VM2"]


def test_shaped_inventory(sim_factory):
    h = sim_factory("-dc", "2", "-cluster", "2", "-host", "2", "-standalone-host", "0", "-vm-per-host", "1")
    si = h.connect()
    assert len(_view(si, vim.HostSystem)) == 8
    assert len(_view(si, vim.VirtualMachine)) == 8
    assert sorted(c.name for c in _view(si, vim.ClusterComputeResource)) == ["DC0_C0", "DC0_C1", "DC1_C0", "DC1_C1"]


def test_sigterm_exits_cleanly(sim_factory):
    h = sim_factory("-vm-per-host", "0")
    h.connect()
    assert h.stop() == 0
    assert not h.running


@pytest.mark.parametrize("flags, message", [
    (("-fail", "UpdateOptions:2"), "rate must be within 0..1"),
    (("-method-delay", "UpdateOptions"), "want Method:ms"),
    (("-cluster", "-1"), ">= 0"),
])
def test_bad_flags_are_reported(flags, message):
    with pytest.raises(SimulatorError, match=message):
        start_simulator(*flags)


@pytest.mark.slow
def test_large_inventory_starts_and_serves_a_bulk_fetch(sim_factory):
    from pyVmomi import vmodl

    h = sim_factory("-cluster", "4", "-host", "16", "-vm-per-host", "30", "-standalone-host", "0")
    si = h.connect()
    content = si.RetrieveContent()
    pcq = vmodl.query.PropertyCollector

    def fetch(kind, paths):
        view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
        spec = pcq.FilterSpec(
            objectSet=[pcq.ObjectSpec(obj=view, skip=True, selectSet=[
                pcq.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)])],
            propSet=[pcq.PropertySpec(type=kind, pathSet=paths)])
        res = content.propertyCollector.RetrievePropertiesEx([spec], pcq.RetrieveOptions())
        objs = list(res.objects)
        while res.token:
            res = content.propertyCollector.ContinueRetrievePropertiesEx(res.token)
            objs.extend(res.objects)
        view.DestroyView()
        return objs

    hosts = fetch(vim.HostSystem, ["name", "config.service", "config.firewall", "config.option", "config.lockdownMode"])
    assert len(hosts) == 64
    assert all(len(o.propSet) == 5 for o in hosts)
    vms = fetch(vim.VirtualMachine, ["name", "config.extraConfig", "config.version", "runtime.host"])
    assert len(vms) == 1920
    names = {p.val for o in vms for p in o.propSet if p.name == "name"}
    assert "DC0_C3_H15_VM29" in names


def test_idle_sessions_expire(sim_factory):
    import time

    h = sim_factory("-session-timeout", "1s", "-vm-per-host", "0")
    si = h.connect()
    assert si.CurrentTime()
    time.sleep(2.2)  # idle for more than two timeout periods
    with pytest.raises(vim.fault.NotAuthenticated):
        si.content.sessionManager.currentSession
    assert h.connect().CurrentTime()  # a new login works


def test_pbm_endpoint_has_the_vm_encryption_policy(sim):
    from pyVmomi import SoapStubAdapter, pbm

    si = sim.connect()
    stub = SoapStubAdapter(host=sim.host, port=sim.port, path="/pbm", version="pbm.version.version11",
                           sslContext=sim.ssl_context())
    stub.cookie = si._stub.cookie  # PBM shares the vCenter session (HTTP cookie)
    content = pbm.ServiceInstance("ServiceInstance", stub).RetrieveContent()
    pm = content.profileManager
    ids = pm.PbmQueryProfile(resourceType=pbm.profile.ResourceType(resourceType="STORAGE"),
                             profileCategory="REQUIREMENT")
    assert "VM Encryption Policy" in {p.name for p in pm.PbmRetrieveContent(profileIds=ids)}


def test_port_in_use_is_a_clear_error(sim):
    with pytest.raises(SimulatorError, match="cannot listen on"):
        start_simulator("-l", f"127.0.0.1:{sim.port}")
