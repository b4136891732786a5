"""The dispatcher (issue 14 items 7, 9, 10): exit 1 on usage errors, lazy command modules, help, completion."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reconciler.cli import COMMANDS, build_parser, main


def test_usage_errors_exit_1_not_2(capsys):
    for argv in (["plan"], ["no-such-command"], [], ["validate", "x", "--bogus"], ["run", "x", "--shard", "9"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 1, argv
    assert "vsr: error:" in capsys.readouterr().err


def test_every_command_has_the_help_of_the_table():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {a.dest: a.help for a in sub._choices_actions} == COMMANDS


def test_version_imports_no_command_module():
    code = ("import sys\nfrom reconciler.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('reconciler.commands', 'pyVmomi', 'pydantic',"
            " 'structlog', 'rich'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]"), out


def test_one_command_imports_only_its_module():
    code = ("import sys\nfrom reconciler.cli import build_parser\nbuild_parser('validate')\n"
            "print(sorted(m for m in sys.modules if m.startswith('reconciler.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['reconciler.commands.validate']"


def test_the_console_script_exits_with_mains_code_after_freezing_the_collector(tmp_path):
    """`entry` (the `vsr` script) = main() + gc.freeze() + exit; atexit handlers still run."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: HostSecurityPolicy\n")
    code = ("import atexit, gc, sys\nimport reconciler.cli as cli\n"
            "atexit.register(lambda: print('atexit ran, frozen', gc.get_freeze_count() > 0))\n"
            f"sys.argv = ['vsr', 'validate', {str(bad)!r}]\ncli.entry()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr                        # main()'s exit code: the spec is invalid
    assert "bad.yaml" in done.stdout + done.stderr
    assert done.stdout.strip().endswith("atexit ran, frozen True")


def test_help_shows_examples_env_vars_and_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "examples:" in out and "VSR_SERVER" in out and "NO_COLOR" in out
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default 127.0.0.1:8080)" in out and "(default 4)" in out and "(default 10m)" in out
    assert "{debug,info,warning,error}" in out and "env VSR_JOURNAL; default " in out


def test_options_only_where_they_do_something():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("validate", "schema", "status", "explain", "completion"):
        assert "--journal" not in sub.choices[name]._option_string_actions, name
    for name in ("plan", "apply", "report", "events", "run"):
        assert "--journal" in sub.choices[name]._option_string_actions, name


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_name_the_commands(shell, capsys):
    assert main(["completion", shell]) == 0
    out = capsys.readouterr().out
    assert "explain" in out and "validate" in out and "--target" in out


def test_explain_a_field_with_its_controls(capsys):
    assert main(["explain", "HostSecurityPolicy.services.TSM-SSH.running"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "HostSecurityPolicy.services.TSM-SSH.running"
    assert "  type: boolean" in out and "esxi-8.deactivate-ssh (esxi-8.deactivate-ssh, ESXI-80-000193)" in out


def test_explain_unknown_field_suggests(capsys):
    assert main(["explain", "HostSecurityPolicy.servics"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: HostSecurityPolicy has no field 'servics' (did you mean 'services'?); fields: ")
    assert main(["explain", "HostSecurityPolcy"]) == 1
    assert "(did you mean 'HostSecurityPolicy'?)" in capsys.readouterr().err
