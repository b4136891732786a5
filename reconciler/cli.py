"""`vsr` command line: a thin dispatcher. Each command lives in `reconciler.commands.<name>` and exposes
`register(subparsers) -> argparse.ArgumentParser` and `run(args) -> int`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from reconciler import __version__
from reconciler.logsetup import configure_logging
from reconciler.vsphere.settings import credential_dirs_from_env, set_credential_dirs

COMMANDS = ("validate", "plan", "apply", "run", "events", "report", "schema", "status")


def default_journal() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "vsr" / "journal.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsr", description="vSphere security reconciler")
    parser.add_argument("--version", action="version", version=f"vsr {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--journal", type=Path, default=Path(os.environ.get("VSR_JOURNAL") or default_journal()),
                        help="event journal (SQLite); default under the user's state directory")
    common.add_argument("--log-format", choices=("console", "json"), default=os.environ.get("VSR_LOG_FORMAT", "console"))
    common.add_argument("--log-level", default=os.environ.get("VSR_LOG_LEVEL", "warning"))
    common.add_argument("--credentials-dir", action="append", metavar="DIR", default=None,
                        help="only read usernameFile, passwordFile, caFile and --password-file inside DIR "
                             "(symlinks resolved; repeatable; env VSR_CREDENTIALS_DIR, ':'-separated)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"reconciler.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"reconciler.commands.{name}":
                continue  # command not built yet
            raise
        command_parser = module.register(sub, common)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_format, args.log_level)
    dirs = getattr(args, "credentials_dir", None)
    set_credential_dirs(dirs if dirs else credential_dirs_from_env())
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
