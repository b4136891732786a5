"""localAccounts: the pure diff of listed accounts and the guard for vsr's own account."""

from __future__ import annotations

from types import SimpleNamespace as NS

from reconciler.controllers.contract import ConnectionFacts, FieldDiff, ObjectRef, ObjectState, Skip
from reconciler.controllers.host_accounts import HostLocalAccounts, account_diffs, observed

ROLES = [NS(roleId=-1, name="Admin"), NS(roleId=-2, name="ReadOnly")]
SEEN = observed([NS(principal="root", fullName="Administrator", shellAccess=True, group=False),
                 NS(principal="ops", fullName="", shellAccess=False, group=False)],
                [NS(principal="root", roleId=-1, group=False), NS(principal="ops", roleId=-2, group=False)], ROLES)


def paths(diffs):
    return [(d.path[2], d.current, d.desired, d.skip) for d in diffs]


def test_a_missing_account_is_created_only_with_a_password_file():
    assert paths(account_diffs("new", {"present": True, "role": "Admin", "passwordFile": "/pw"}, SEEN)) == [
        ("present", False, True, None), ("role", None, "Admin", None)]
    (created,) = account_diffs("new", {"present": True}, SEEN)
    assert created.skip is Skip.INVALID and "passwordFile" in created.message


def test_an_existing_account_compares_description_shell_and_role_never_the_password():
    want = {"present": True, "description": "ops", "shellAccess": False, "role": "ReadOnly", "passwordFile": "/pw"}
    assert paths(account_diffs("ops", want, SEEN)) == [("description", "", "ops", None)]


def test_removal_and_unknown_role():
    assert paths(account_diffs("ops", {"present": False}, SEEN)) == [("present", True, False, None)]
    assert account_diffs("gone", {"present": False}, SEEN) == []
    (bad,) = account_diffs("ops", {"present": True, "role": "Auditor"}, SEEN)
    assert bad.skip is Skip.INVALID and "Admin, ReadOnly" in bad.message
    assert paths(account_diffs("ops", {"present": True, "role": "none"}, SEEN)) == [("role", "ReadOnly", "none", None)]


def guard(login, path, desired, is_vcenter=False):
    facts = ConnectionFacts("esx", is_vcenter, login, None)
    state = ObjectState(ObjectRef("HostSystem", "ha-host", "esx", "esx"), {})
    return HostLocalAccounts().guard(FieldDiff(("localAccounts", *path), None, desired), {}, state, facts)


def test_guard_refuses_removing_or_demoting_vsrs_own_account_only():
    assert "refusing to remove" in guard("svc-vsr", ("svc-vsr", "present"), False)
    assert "needs the Admin role" in guard("svc-vsr", ("svc-vsr", "role"), "none")
    assert guard("svc-vsr", ("svc-vsr", "role"), "Admin") is None
    assert guard("svc-vsr", ("other", "present"), False) is None
    assert guard("Svc-vsr", ("svc-vsr", "present"), False) is None  # local names are case-sensitive
    assert guard("svc-vsr", ("svc-vsr", "present"), False, is_vcenter=True) is None
