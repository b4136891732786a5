"""Pure diff and guard details of the host controllers that the mutation check (scripts/mutation.py) showed
untested: reported current values, impacts, refusal wording, the network security vocabulary."""

from __future__ import annotations

from reconciler.controllers import netsec
from reconciler.controllers.contract import (
    ConnectionFacts,
    FieldDiff,
    Impact,
    ObjectState,
)
from reconciler.controllers.host_lockdown import (
    MODE,
    USERS,
    HostLockdown,
    _current_mode,
)
from reconciler.events.model import ObjectRef

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
DIRECT = ConnectionFacts("lab", False, "root", "192.168.10.7")


def state(mode: str | None = "lockdownDisabled", users: list[str] | None = None) -> ObjectState:
    props = {} if mode is None else {"config.lockdownMode": mode}
    s = ObjectState(REF, props)
    if users is not None:
        s.own("lockdown")["exceptions"] = users
    return s


def test_lockdown_mode_diff_reports_current_and_impact():
    c = HostLockdown()
    (d,) = c.diff({MODE: "normal"}, state("lockdownDisabled"))
    assert (d.path, d.current, d.desired, d.impact) == (MODE, "disabled", "normal", Impact.DISRUPTIVE)
    (d,) = c.diff({MODE: "strict"}, state("lockdownNormal"))
    assert (d.current, d.desired, d.impact) == ("normal", "strict", Impact.DISRUPTIVE)
    (d,) = c.diff({MODE: "disabled"}, state("lockdownStrict"))
    assert (d.current, d.desired, d.impact) == ("strict", "disabled", Impact.NONE), "leaving lockdown disrupts none"
    assert c.diff({MODE: "normal"}, state("lockdownNormal")) == []


def test_lockdown_unknown_mode_reads_as_none():
    assert _current_mode(state(None)) is None
    assert _current_mode(state("lockdownSomethingNew")) is None
    assert _current_mode(state("lockdownStrict")) == "strict"
    (d,) = HostLockdown().diff({MODE: "normal"}, state(None))
    assert (d.current, d.desired) == (None, "normal")


def test_exception_users_diff_reports_both_sides_sorted_and_deduplicated():
    c = HostLockdown()
    (d,) = c.diff({USERS: ["svc-b", "svc-a", "svc-b"]}, state(users=["root"]))
    assert (d.path, d.current, d.desired, d.impact) == (USERS, ["root"], ["svc-a", "svc-b"], Impact.NONE)
    (d,) = c.diff({USERS: []}, state())
    assert (d.current, d.desired) == (None, []), "unreadable exceptions are a change to make"
    assert c.diff({USERS: ["b", "a"]}, state(users=["a", "b"])) == []


def test_exception_users_refusal_says_whether_the_host_stays_in_lockdown():
    c = HostLockdown()
    users = FieldDiff(USERS, ["root"], ["svc"])
    stays = c.guard(users, {}, state("lockdownNormal", ["root"]), DIRECT)
    assert "the host stays in lockdown mode 'normal'" in stays
    entering = c.guard(users, {MODE: "normal"}, state("lockdownDisabled", ["root"]), DIRECT)
    assert "the host would be in lockdown mode 'normal'" in entering
    assert entering.startswith("refusing lockdown exception users ['svc']:")


def test_netsec_wanted_and_portgroup_selection():
    desired = {("networkSecurity", "allowPromiscuous"): 0, ("networkSecurity", "forgedTransmits"): "yes",
               ("networkSecurity", "distributedPortgroups"): ["DC0_*", "Capture"],
               ("networkSecurity", "excludePortgroups"): ["DC0_DVPG9"]}
    assert netsec.wanted(desired) == {"allowPromiscuous": False, "forgedTransmits": True}
    assert netsec.selects_portgroup("DC0_DVPG0", desired) is True
    assert netsec.selects_portgroup("Capture", desired) is True
    assert netsec.selects_portgroup("DC0_DVPG9", desired) is False, "excluded"
    assert netsec.selects_portgroup("capture", desired) is False, "globs are case-sensitive"
    assert netsec.excluded("DC0_DVPG9", desired) is True and netsec.excluded("DC0_DVPG0", desired) is False
    assert netsec.selects_portgroup("DC0_DVPG0", {}) is False, "not named: not managed"
    assert netsec.wanted({}) == {}
    assert set(netsec.SECURITY_FIELDS) == {"allowPromiscuous", "macChanges", "forgedTransmits"}


def test_why_not_names_the_rule_for_each_kind_of_login():
    from reconciler.controllers import esx_users
    assert esx_users.why_not("root") == "local account names must match exactly (case-sensitive, no domain)"
    assert esx_users.why_not("CORP\\svc") == "domain accounts must be listed as DOMAIN\\user with the same domain"
    assert esx_users.why_not("svc@corp.example") == (
        "'svc@corp.example' is a user@domain name; ESXi lists domain exception users as DOMAIN\\user and vsr "
        "cannot tell which entry is that account, so log in as DOMAIN\\user")
    for malformed in ("user@", "@corp.example", "CORP\\", "a b"):
        assert esx_users.why_not(malformed) == f"{malformed!r} is not a name ESXi lists as an exception user"
    assert esx_users.parse("svc@corp.example") == esx_users.Account("upn", "svc", "corp.example")
    assert esx_users.parse("CORP\\svc") == esx_users.Account("domain", "svc", "CORP")
