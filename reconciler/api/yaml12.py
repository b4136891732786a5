"""YAML 1.2 core scalar resolution for PyYAML (which implements YAML 1.1), and notes on ambiguous scalars.

Resolved implicitly (plain scalars only; quoted scalars are always strings):
  null   ~, null, Null, NULL, empty          bool   true/True/TRUE, false/False/FALSE
  int    [-+]?(0|[1-9][0-9]*) (decimal)      float  1.5, .5, 1., 1e3, 1.5E-3, [-+].inf, .nan (all spellings)
  date   YYYY-MM-DD and date-times (kept from YAML 1.1: `expires` uses it)

Everything else is a string, in particular the forms YAML 1.1 reads as numbers or booleans (`yes`, `on`, `0777`,
`1:30`, `1_000`, `0b101`) and, on purpose, the hex and octal forms of YAML 1.2 (`0x13`, `0o17`): vsr reads
integers in decimal only, so a string setting keeps exactly what was written. `ambiguity()` describes such a
scalar so that a typed field receiving one can say how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import yaml

_TAG = "tag:yaml.org,2002:"
_TIMESTAMP = next(regexp for first in ("2",) for tag, regexp in yaml.resolver.Resolver.yaml_implicit_resolvers[first]
                  if tag == f"{_TAG}timestamp")


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core implicit resolvers (see the module docstring)."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}  # not SafeLoader's 1.1 table


def _add(tag: str, pattern: str, first: str | list[str]) -> None:
    CoreLoader.add_implicit_resolver(f"{_TAG}{tag}", re.compile(pattern, re.VERBOSE), list(first))


_add("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_add("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_add("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789")
_add("float", r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)
                  |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", "-+.0123456789")
CoreLoader.add_implicit_resolver(f"{_TAG}timestamp", _TIMESTAMP, list("0123456789"))
_add("merge", r"^<<$", "<")

INF_SPELLINGS = {s + w for s in ("", "+", "-") for w in (".inf", ".Inf", ".INF")}


@dataclass(frozen=True)
class Ambiguity:
    """A plain scalar vsr keeps as text although some YAML reader takes it for a number or boolean."""

    text: str
    wants: str  # "bool" or "int": the type a reader might have meant
    meaning: str  # e.g. "YAML 1.1 reads it as true, YAML 1.2 as text"
    fix: str  # e.g. "write true"


_BOOL11 = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_LEADING_ZERO = re.compile(r"^([-+]?)0([0-9]+)$")
_BASED = re.compile(r"^([-+]?)0([xob])([0-9a-fA-F_]+)$")
_SEXAGESIMAL = re.compile(r"^([-+]?)([0-9][0-9_]*(?::[0-5]?[0-9])+)$")
_UNDERSCORED = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?$")
_BASES = {"x": (16, "hexadecimal"), "o": (8, "octal"), "b": (2, "binary")}


def ambiguity(text: str) -> Ambiguity | None:
    """How `text`, read as a plain string, could have been meant as a number or boolean; None if it could not."""
    if _BOOL11.match(text):
        truth = text.lower() in ("y", "yes", "on")
        return Ambiguity(text, "bool", f"YAML 1.1 reads it as {str(truth).lower()}, YAML 1.2 as text",
                         f"write {str(truth).lower()}")
    m = _LEADING_ZERO.match(text)
    if m:
        sign, digits = m.groups()
        decimal = int(sign + digits)
        if set(digits) <= set("01234567"):
            octal = int(sign + digits, 8)
            meaning = f"YAML 1.1 reads it as octal {octal}, YAML 1.2 as {decimal}"
            also = f" (or {octal} if you meant octal)" if octal != decimal else ""
            return Ambiguity(text, "int", meaning, f"write {decimal}{also}")
        return Ambiguity(text, "int", f"YAML 1.2 reads it as {decimal}, YAML 1.1 as text", f"write {decimal}")
    m = _BASED.match(text)
    if m:
        sign, letter, digits = m.groups()
        base, name = _BASES[letter]
        try:
            value = int(sign + digits.replace("_", ""), base)
        except ValueError:
            return None
        return Ambiguity(text, "int", f"vsr reads integers in decimal only, and {text} is {name} for {value}",
                         f"write {value}")
    m = _SEXAGESIMAL.match(text)
    if m:
        sign, body = m.groups()
        value = 0
        for part in body.replace("_", "").split(":"):
            value = value * 60 + int(part)
        value = -value if sign == "-" else value
        return Ambiguity(text, "int", f"YAML 1.1 reads it as the base-60 number {value}, YAML 1.2 as text",
                         f"write {value}")
    if "_" in text and _UNDERSCORED.match(text) and not text.endswith("_"):
        cleaned = text.replace("_", "")
        return Ambiguity(text, "int", f"YAML 1.1 reads it as {cleaned}, YAML 1.2 as text", f"write {cleaned}")
    return None
