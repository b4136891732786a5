"""`vsr` command line: a thin dispatcher. Each command lives in `reconciler.commands.<name>` and exposes
`register(subparsers, common) -> argparse.ArgumentParser` and `run(args) -> int`.

Start-up is kept short: only the module of the command being run is imported (`vsr --version` imports no command
at all). Exit codes: 0 compliant or converged, 1 error (usage errors included: argparse's usual 2 would read as
drift), 2 drift remains."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

from reconciler import __version__

# name -> one-line help; the command modules use the same text (tests/unit/cli/test_cli_parser.py checks it).
COMMANDS: dict[str, str] = {
    "validate": "check spec documents (schema and semantics), no vSphere",
    "plan": "show what would change (changes nothing)",
    "apply": "converge the estate once",
    "run": "run the reconciliation daemon",
    "events": "show recorded drift and change events",
    "report": "compliance report with control IDs (changes nothing)",
    "capture": "draft a policy from a reference host's or VM's live state (changes nothing)",
    "status": "show the daemon's status",
    "schema": "print the JSON Schema of the spec kinds",
    "explain": "document a spec kind or field: values, defaults and the controls it satisfies",
    "completion": "print a shell completion script (bash, zsh or fish)",
}
LOG_LEVELS = ("debug", "info", "warning", "error")
# Commands that log nothing below info: structlog (which imports rich) is set up for them only at info or debug.
QUIET_COMMANDS = frozenset({"validate", "explain", "completion", "schema"})
EXIT_ERROR = 1

EPILOG = """\
exit codes: 0 compliant or converged, 1 error (also a usage error), 2 drift remains

environment: VSR_JOURNAL, VSR_LOG_FORMAT, VSR_LOG_LEVEL, VSR_SERVER, VSR_USERNAME, VSR_PASSWORD, VSR_CA_FILE,
VSR_THUMBPRINT, NO_COLOR

examples:
  vsr validate specs/
  vsr plan specs/                       what would change, grouped; --detail lists every object
  vsr plan specs/ --out plan.json       save it, review it, then: vsr apply plan.json
  vsr apply specs/ -l 'esx-0*' --yes    only the hosts named esx-0*
  vsr report specs/ -o html --file report.html
  vsr explain HostSecurityPolicy.services
  vsr run specs/ --listen 0.0.0.0:8080"""


class VsrParser(argparse.ArgumentParser):
    """argparse with vsr's exit code for usage errors (1, not 2: 2 means drift remains)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks and shows each option's default when it has a meaningful one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings
                or isinstance(default, list)):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def common_options() -> argparse.ArgumentParser:
    """Options every command has: logging."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("logging")
    group.add_argument("--log-format", choices=("console", "json"), default=os.environ.get("VSR_LOG_FORMAT", "console"),
                       help="log line format on standard error (env VSR_LOG_FORMAT)")
    group.add_argument("--log-level", type=str.lower, choices=LOG_LEVELS,
                       default=(os.environ.get("VSR_LOG_LEVEL") or "warning").lower(),
                       help="least severe log level shown (env VSR_LOG_LEVEL)")
    return common


def _command_of(argv: list[str]) -> str | None:
    """The command named on the command line (top-level options are only --help and --version)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (given `command`) one where only that command's module is imported and the others
    are listed by name and help."""
    parser = VsrParser(prog="vsr", description="vSphere security reconciler: declare the security configuration "
                       "of vCenter, ESXi hosts and VMs; plan, apply, report and keep it converged.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"vsr {__version__}")
    common = common_options()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=VsrParser)
    for name, help_text in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(f"reconciler.commands.{name}")
        command_parser = module.register(sub, common)
        command_parser.formatter_class = HelpFormatter
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_of(argv) or "")
    args = parser.parse_args(argv)
    if args.command not in QUIET_COMMANDS or args.log_level in ("debug", "info"):
        from reconciler.logsetup import configure_logging  # structlog (and rich) only once a command runs

        configure_logging(args.log_format, args.log_level)
    dirs = getattr(args, "credentials_dir", None)
    if dirs is not None or os.environ.get("VSR_CREDENTIALS_DIR"):  # only the commands that read credential files
        from reconciler.vsphere.settings import credential_dirs_from_env, set_credential_dirs

        set_credential_dirs(dirs if dirs else credential_dirs_from_env())
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def entry() -> None:
    """The `vsr` console script: `main()`, then exit without the interpreter's final cyclic garbage collection,
    which would walk every object of the finished command once more (a quarter of `vsr validate`'s 0.38 s on the
    development machine: pydantic's schemas are many small objects). `gc.freeze()` only moves the objects out of
    the collector's reach; atexit handlers, flushing and reference-counted clean-up still run. Not in `main()`:
    tests call it in-process."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
