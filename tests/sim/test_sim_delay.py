"""-delay MS and -delay-jitter MS: latency added to every SOAP call (LAN round trip plus vCenter service time).

Lower bounds are functional properties (the simulator sleeps at least that long); upper bounds are generous
(≥ 10× the expected figure) so that a loaded machine does not fail them.
"""

from __future__ import annotations

import time

import pytest
from pyVmomi import vim

from simulator import SimulatorError, objects_by_name, start_simulator

pytestmark = pytest.mark.integration


def timed(call, *args, **kwargs) -> float:
    """Seconds one call takes."""
    started = time.monotonic()
    call(*args, **kwargs)
    return time.monotonic() - started


def test_delay_applies_to_every_soap_call(sim_factory):
    handle = sim_factory("-delay", "50", "-vm-per-host", "0")
    si = handle.connect()
    host = objects_by_name(si, vim.HostSystem)["DC0_C0_H0"]
    om = host.configManager.advancedOption
    assert timed(si.CurrentTime) >= 0.05
    assert timed(om.QueryOptions, name="DCUI.Access") >= 0.05
    # a fault costs the round trip too (a wrong password is answered after the delay)
    started = time.monotonic()
    with pytest.raises(vim.fault.InvalidLogin):
        si.content.sessionManager.Login(userName=handle.username, password="wrong")
    assert time.monotonic() - started >= 0.05
    # the PBM endpoint is SOAP as well
    from pyVmomi import SoapStubAdapter, pbm

    stub = SoapStubAdapter(host=handle.host, port=handle.port, path="/pbm", version="pbm.version.version11",
                           sslContext=handle.ssl_context())
    stub.cookie = si._stub.cookie
    assert timed(pbm.ServiceInstance("ServiceInstance", stub).RetrieveContent) >= 0.05


def test_without_delay_calls_are_fast(sim):
    si = sim.connect()
    times = sorted(timed(si.CurrentTime) for _ in range(5))
    assert times[2] < 0.5  # median; 10× the 50 ms a -delay 50 call takes at least


def test_delay_jitter_stays_within_bounds(sim_factory):
    si = sim_factory("-delay", "100", "-delay-jitter", "300", "-vm-per-host", "0").connect()
    times = [timed(si.CurrentTime) for _ in range(6)]
    assert all(t >= 0.1 for t in times), times
    assert all(t < 0.1 + 0.3 + 1.0 for t in times), times  # 1 s slack for a loaded machine
    # uniform over 0..300 ms: six calls within 20 ms of each other has probability < 1e-5
    assert max(times) - min(times) >= 0.02, times


def test_jitter_alone_is_a_random_extra(sim_factory):
    si = sim_factory("-delay-jitter", "200", "-vm-per-host", "0").connect()
    times = [timed(si.CurrentTime) for _ in range(6)]
    assert all(t < 0.2 + 1.0 for t in times), times
    assert max(times) - min(times) >= 0.02, times


@pytest.mark.parametrize("flags", [("-delay", "-1"), ("-delay-jitter", "-5")])
def test_negative_delay_is_refused(flags):
    with pytest.raises(SimulatorError, match=r"-delay and -delay-jitter must be >= 0 \(ms\)"):
        start_simulator(*flags)
