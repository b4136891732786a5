"""YAML 1.2 core scalars (issue 12 item 9): what an unquoted scalar becomes, and that text stays text."""

from __future__ import annotations

import pytest

from reconciler.api import load_text
from reconciler.api.fields import managed_fields
from reconciler.api.yamlpos import parse_documents

HEAD = "apiVersion: vsr.dev/v1alpha1\n"


def host_policy(body: str) -> str:
    return f"{HEAD}kind: HostSecurityPolicy\nmetadata:\n  name: p\nspec:\n  selector: {{hosts: ['*']}}\n{body}"


@pytest.mark.parametrize("text, value", [
    ("0777", "0777"), ("007", "007"), ("1:30", "1:30"), ("12:30", "12:30"), ("0x13", "0x13"), ("0o17", "0o17"),
    ("0b101", "0b101"), ("1_000", "1_000"), ("yes", "yes"), ("No", "No"), ("on", "on"), ("OFF", "OFF"), ("y", "y"),
    ("true", True), ("False", False), ("TRUE", True), ("~", None), ("null", None), ("NULL", None), ("", None),
    ("0", 0), ("-12", -12), ("+7", 7), ("1.5", 1.5), ("1e3", 1000.0), ("-2.5E-1", -0.25), (".5", 0.5),
    ("=", "="), ("<<", "<<"),
])
def test_plain_scalars_follow_yaml12_core(text: str, value: object) -> None:
    docs, errors = parse_documents(f"a: {text}\n")
    assert errors == [] and docs[0].errors == []
    got = docs[0].data["a"]
    assert got == value and type(got) is type(value)


def test_inf_and_nan_spellings() -> None:
    docs, _ = parse_documents("a: .inf\nb: -.Inf\nc: .NaN\n")
    data = docs[0].data
    assert data["a"] == float("inf") and data["b"] == float("-inf") and data["c"] != data["c"]


def test_advanced_setting_keeps_the_text_as_written() -> None:
    """Today's main turned `Annotations.WelcomeMessage: 12:30` into 750 (YAML 1.1 base 60)."""
    result = load_text(host_policy("  advancedSettings:\n    Annotations.WelcomeMessage: 12:30\n"
                                   "    UserVars.Hex: 0x13\n    UserVars.Quoted: '0777'\n    UserVars.Word: on\n"))
    assert result.ok, result.issues
    spec = result.documents[0].model.spec
    assert managed_fields(spec) == {
        ("advancedSettings", "Annotations.WelcomeMessage"): "12:30", ("advancedSettings", "UserVars.Hex"): "0x13",
        ("advancedSettings", "UserVars.Quoted"): "0777", ("advancedSettings", "UserVars.Word"): "on"}
    warned = {w.path for w in result.warnings}  # the unquoted ambiguous ones are said, the quoted one is not
    assert warned == {"spec.advancedSettings.Annotations.WelcomeMessage", "spec.advancedSettings.UserVars.Hex",
                      "spec.advancedSettings.UserVars.Word"}


def test_string_fields_keep_yaml11_words_and_times() -> None:
    text = (f"{HEAD}kind: HostSecurityPolicy\nmetadata:\n  name: p\n  labels: {{approved: yes, window: 12:30}}\n"
            "  annotations: {mode: 0777}\nspec:\n  selector: {hosts: ['*']}\n"
            "  services: {TSM-SSH: {policy: off}, TSM: {policy: on}}\n")
    result = load_text(text)
    assert result.ok, result.issues
    meta = result.documents[0].model.metadata
    assert meta.labels == {"approved": "yes", "window": "12:30"} and meta.annotations == {"mode": "0777"}
    services = result.documents[0].model.spec.services
    assert services["TSM-SSH"].policy == "off" and services["TSM"].policy == "on"


@pytest.mark.parametrize("value, words", [
    ("0777", ["got 0777 (unquoted)", "octal 511", "write 777"]),
    ("1:30", ["got 1:30 (unquoted)", "base-60 number 90", "write 90"]),
    ("0x13", ["got 0x13 (unquoted)", "decimal only", "write 19"]),
    ("1_000", ["YAML 1.1 reads it as 1000", "write 1000"]),
    ("'7'", ["got '7'", "write 7 without quotes"]),
])
def test_integer_field_says_how_to_write_it(value: str, words: list[str]) -> None:
    result = load_text(host_policy(f"  priority: {value}\n"), "p.yaml")
    [error] = result.errors
    assert (error.file, error.line, error.column, error.path) == ("p.yaml", 7, 3, "spec.priority")
    assert error.message.startswith("must be an integer")
    for word in words:
        assert word in error.message


@pytest.mark.parametrize("value, fix", [("yes", "write true"), ("off", "write false"), ("N", "write false")])
def test_boolean_field_says_how_to_write_it(value: str, fix: str) -> None:
    [error] = load_text(host_policy(f"  suspend: {value}\n"), "p.yaml").errors
    assert error.path == "spec.suspend" and error.message.startswith("must be true or false")
    assert error.message.endswith(fix)


def test_number_out_of_range_is_said_at_the_value() -> None:
    """Today's main said "write 1e999 without quotes" about an unquoted 1e999."""
    [error] = load_text(host_policy("  priority: 1e999\n"), "p.yaml").errors
    assert (error.line, error.column, error.path) == (7, 13, "spec.priority")
    assert error.message == "number 1e999 is out of range (the largest is about 1.8e308)"


@pytest.mark.parametrize("key, read_as", [("1", "an integer"), ("true", "a boolean"), ("~", "null"),
                                          ("2.5", "a number")])
def test_non_string_keys_name_the_key(key: str, read_as: str) -> None:
    """Today's main said "Keys should be strings" with the path spec[1] / spec.True."""
    [error] = load_text(host_policy(f"  {key}: x\n"), "p.yaml").errors
    assert (error.line, error.column, error.path) == (7, 3, f"spec.{key}")
    assert error.message == f'the key {key} is read as {read_as}, but keys must be strings: write "{key}" in quotes'


def test_string_field_receiving_a_number_says_to_quote() -> None:
    [error] = load_text(host_policy("  lockdown: {exceptionUsers: [1234]}\n"), "p.yaml").errors
    assert error.message == 'must be a string, got 1234; YAML reads the unquoted 1234 as an integer: write "1234" in quotes'
