"""Lockdown exception-user matching (reconciler.controllers.esx_users): table-driven, refusing when unsure."""

import pytest

from reconciler.controllers import esx_users

# (login vsr uses, exception entry on the host, is it the same account?)
CASES = [
    ("root", "root", True),
    ("svc-vsr", "svc-vsr", True),
    ("Root", "root", False),  # local accounts are case-sensitive (nothing documents otherwise)
    ("adv-user", "ADV-USER", False),
    ("adv-user", "OTHERDOMAIN\\ADV-USER", False),  # a domain account is never a local one
    ("adv-user", "OTHERDOMAIN\\adv-user", False),
    ("CORP\\adv-user", "adv-user", False),
    ("CORP\\adv-user", "CORP\\adv-user", True),
    ("CORP\\adv-user", "corp\\ADV-USER", True),  # Active Directory names ignore case
    ("CORP\\adv-user", "OTHER\\adv-user", False),
    ("CORP\\adv-user", "adv-user@corp.example.com", False),  # NetBIOS vs DNS domain: unknown, refuse
    ("adv-user@corp.example.com", "CORP\\adv-user", False),
    ("adv-user@corp.example.com", "adv-user@corp.example.com", False),  # UPN entries: not known to be honoured
    ("adv-user@corp.example.com", "adv-user", False),
    ("CORP\\usér", "corp\\USÉR", False),  # non-ASCII: case folding is not known to agree with AD's
    ("CORP\\usér", "CORP\\usér", True),
    ("", "", False),
    ("root", " root", False),
    ("a\\b\\c", "a\\b\\c", False),
    ("CORP\\", "CORP\\", False),
    ("\\user", "\\user", False),
    ("user@", "user@", False),
]


@pytest.mark.parametrize("login,entry,same", CASES)
def test_same_account(login, entry, same):
    assert esx_users.same_account(login, entry) is same


def test_parse_forms():
    assert esx_users.parse("root") == esx_users.Account("local", "root")
    assert esx_users.parse("CORP\\svc") == esx_users.Account("domain", "svc", "CORP")
    assert esx_users.parse("svc@corp.example.com") == esx_users.Account("upn", "svc", "corp.example.com")
    assert esx_users.parse("two words") is None and esx_users.parse("a@b@c") is None


def test_admitted_and_hints():
    assert esx_users.admitted("svc", ["backup", "svc"])
    assert not esx_users.admitted("svc", [])
    assert "log in as DOMAIN\\user" in esx_users.why_not("svc@corp.example.com")
    assert "case-sensitive" in esx_users.why_not("svc")
    assert "same domain" in esx_users.why_not("CORP\\svc")
