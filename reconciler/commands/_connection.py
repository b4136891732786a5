"""Options shared by the commands that talk to vSphere."""

from __future__ import annotations

import argparse

from reconciler.engine.runner import CliConnection


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ad-hoc connection (instead of VCenter documents)")
    group.add_argument("--server", help="vCenter or ESXi host[:port] (env VSR_SERVER)")
    group.add_argument("--username", help="user name (env VSR_USERNAME)")
    group.add_argument("--password-file", help="file holding the password (or env VSR_PASSWORD)")
    group.add_argument("--ca-file", metavar="PEM", help="CA bundle that signs the server's certificate (env VSR_CA_FILE)")
    group.add_argument("--thumbprint", metavar="SHA256",
                       help="pin the server's certificate by its SHA-256 thumbprint (env VSR_THUMBPRINT)")
    group.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    parser.add_argument("--credentials-dir", action="append", metavar="DIR", default=None,
                        help="only read usernameFile, passwordFile, caFile and --password-file inside DIR "
                             "(symlinks resolved; repeatable; env VSR_CREDENTIALS_DIR, ':'-separated)")


def cli_connection(args: argparse.Namespace) -> CliConnection:
    """The ad-hoc connection options; `--insecure` is warned about once, when the connection is made."""
    return CliConnection(args.server, args.username, args.password_file, args.insecure,
                         ca_file=args.ca_file, thumbprint=args.thumbprint)
