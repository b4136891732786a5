"""Options shared by the commands that talk to vSphere."""

from __future__ import annotations

import argparse

import structlog

from reconciler.engine.runner import CliConnection


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ad-hoc connection (instead of VCenter documents)")
    group.add_argument("--server", help="vCenter or ESXi host[:port] (env VSR_SERVER)")
    group.add_argument("--username", help="user name (env VSR_USERNAME)")
    group.add_argument("--password-file", help="file holding the password (or env VSR_PASSWORD)")
    group.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")


def cli_connection(args: argparse.Namespace) -> CliConnection:
    if args.insecure:
        structlog.get_logger("vsr").warning("TLS verification is off (--insecure): the server is not authenticated")
    return CliConnection(args.server, args.username, args.password_file, args.insecure)
