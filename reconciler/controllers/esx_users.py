"""Is the account vsr logs in with one of a host's lockdown exception users? Pure, and refusing when unsure.

ESXi lists two kinds of exception users: host-local accounts (`root`, `svc-vsr`) and Active Directory accounts
written `DOMAIN\\user` (the vSphere Client and VMware's KB 425190 say to include the domain). The rules:

* a local account matches only the same local name, exactly: ESXi local accounts are Unix accounts, and nothing
  documents them as case-insensitive, so `Root` is not `root`;
* `DOMAIN\\user` matches `DOMAIN\\user` ignoring ASCII case (Active Directory names are case-insensitive); a
  name with non-ASCII letters must match exactly (case folding beyond ASCII is not known to agree with AD's);
* a local account never matches a domain account or the reverse: `OTHERDOMAIN\\ADV-USER` is not `adv-user`;
* `user@domain` (a UPN) matches nothing: the exception list is documented with `DOMAIN\\user` only, and a DNS
  domain cannot be related to a NetBIOS domain without asking AD, so vsr cannot know that the host admits it;
* anything else (empty, blanks, several separators) matches nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["local", "domain", "upn"]


@dataclass(frozen=True)
class Account:
    kind: Kind
    user: str
    domain: str = ""


def parse(name: str) -> Account | None:
    """The account a name denotes, or None when the form is not one ESXi lists."""
    if not name or any(ch.isspace() for ch in name) or name.count("\\") + name.count("@") > 1:
        return None
    if "\\" in name:
        domain, _, user = name.partition("\\")
        return Account("domain", user, domain) if domain and user else None
    if "@" in name:
        user, _, domain = name.partition("@")
        return Account("upn", user, domain) if domain and user else None
    return Account("local", name)


def _fold(text: str) -> str:
    return text.lower() if text.isascii() else text


def same_account(login: str, entry: str) -> bool:
    """True only when the host is known to treat the exception `entry` as the account `login`."""
    a, b = parse(login), parse(entry)
    if a is None or b is None or a.kind != b.kind:
        return False
    if a.kind == "local":
        return a.user == b.user
    if a.kind == "domain":
        return _fold(a.domain) == _fold(b.domain) and _fold(a.user) == _fold(b.user)
    return False  # upn: not known to be honoured by the exception list


def admitted(login: str, exceptions: Iterable[str]) -> bool:
    return any(same_account(login, entry) for entry in exceptions)


def why_not(login: str, label: str | None = None) -> str:
    """What to tell the operator when `login` is admitted by no exception entry, beyond "add it". `label` names
    the login in the message instead of its text (a user name read from a file is never echoed)."""
    account = parse(login)
    who = label or repr(login)
    if account is None:
        return f"{who} is not a name ESXi lists as an exception user"
    if account.kind == "upn":
        return (f"{who} is a user@domain name; ESXi lists domain exception users as DOMAIN\\user and vsr cannot "
                "tell which entry is that account, so log in as DOMAIN\\user")
    if account.kind == "local":
        return "local account names must match exactly (case-sensitive, no domain)"
    return "domain accounts must be listed as DOMAIN\\user with the same domain"
