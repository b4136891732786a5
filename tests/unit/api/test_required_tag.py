"""Unfilled baseline site parameters (`!required NAME`) get a message that says what to do."""

from reconciler.api import load_text


def test_required_tag_names_the_parameter_and_the_fix():
    text = ("apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: site}\nspec:\n"
            "  selector: {hosts: [\"*\"]}\n  advancedSettings: {Syslog.global.logHost: !required SYSLOG_HOSTS}\n")
    result = load_text(text, "site.yaml")
    (issue,) = result.errors
    assert (issue.file, issue.line, issue.column) == ("site.yaml", 6, 45)
    assert issue.path == "spec.advancedSettings.Syslog.global.logHost"
    assert "site parameter SYSLOG_HOSTS is not filled in" in issue.message
    assert 'replace "!required SYSLOG_HOSTS"' in issue.message
    assert result.documents == []
