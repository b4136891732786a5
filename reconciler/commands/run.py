"""`vsr run PATH...`: the daemon. Converges continuously, records drift, serves /healthz /readyz /metrics /status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from reconciler.cli import COMMANDS
from reconciler.commands._connection import add_connection_options, cli_connection
from reconciler.commands._options import add_journal_option
from reconciler.daemon.liveness import DEFAULT_THRESHOLD
from reconciler.daemon.supervisor import Daemon, DaemonError, DaemonOptions, parse_shard
from reconciler.daemon.vcenter_loop import LoopOptions
from reconciler.events.timeutil import parse_duration


def duration(text: str) -> float:
    """A duration option in seconds: `10m`, `30s`, `1h30m`, `500ms` or plain seconds (the one parser vsr has)."""
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("run", parents=[common], help=COMMANDS["run"], description=__doc__,
                            epilog="examples:\n  vsr run specs/\n  vsr run specs/ --listen 0.0.0.0:8080 --shard 0/2 "
                                   "--log-format json")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories (watched)")
    parser.add_argument("--resync", type=duration, default=600.0, help="full resync period (default 10m)")
    parser.add_argument("--poll-interval", type=duration, default=None, metavar="DURATION",
                        help="re-read sources with no property updates (esxcli, lockdown exception users) this "
                             "often (default: each source's own, 10m)")
    parser.add_argument("--listen", default="127.0.0.1:8080",
                        help="address for /healthz, /readyz, /metrics and /status (default 127.0.0.1:8080)")
    parser.add_argument("--concurrency", type=int, default=4, help="objects reconciled at once per vCenter (default 4)")
    parser.add_argument("--qps", type=float, default=10.0, help="retry rate limit per vCenter (token bucket)")
    parser.add_argument("--burst", type=int, default=100, help="retry burst per vCenter")
    parser.add_argument("--flap-threshold", type=int, default=5,
                        help="remediations of one field within --flap-window that count as flapping")
    parser.add_argument("--flap-window", type=duration, default=600.0, help="see --flap-threshold (default 10m)")
    parser.add_argument("--mirror-events", action="store_true",
                        help="also post each event into vCenter's event history on the object")
    parser.add_argument("--shard", type=parse_shard, default=None, metavar="I/N",
                        help="reconcile only the vCenters of shard I of N (spec.shard, else rendezvous hashing of the name)")
    parser.add_argument("--stuck-after", type=duration, default=DEFAULT_THRESHOLD, metavar="DURATION",
                        help="/healthz fails when a vCenter loop makes no progress for this long (default 5m)")
    add_journal_option(parser)
    add_connection_options(parser)
    # the daemon speaks at info: every drift, fix, refusal, spec reload and connection change is one line
    parser.set_defaults(log_level=(os.environ.get("VSR_LOG_LEVEL") or "info").lower())
    return parser


def run(args: argparse.Namespace) -> int:
    loop = LoopOptions(resync=args.resync, concurrency=max(1, args.concurrency), qps=args.qps, burst=args.burst,
                       flap_threshold=args.flap_threshold, flap_window=args.flap_window,
                       mirror_events=args.mirror_events, poll_interval=args.poll_interval)
    options = DaemonOptions(paths=tuple(args.paths), journal=args.journal, listen=args.listen, loop=loop,
                            shard=args.shard, cli=cli_connection(args), stuck_after=args.stuck_after)
    daemon = Daemon(options)
    try:
        code = daemon.run()
    except DaemonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if daemon.abandoned or _foreign_threads():
        _exit_now(code)  # threads blocked in a vSphere call would hold up interpreter exit (thread-pool joins)
    return code


def _foreign_threads() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]


def _exit_now(code: int) -> None:
    """Exit without waiting for threads: the journal is already closed; flush what is buffered first."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
