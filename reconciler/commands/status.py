"""`vsr status [--url URL]`: the daemon's per-policy conditions, from its /status endpoint."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

from reconciler.cli import COMMANDS
from reconciler.report.escape import console


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = sub.add_parser("status", parents=[common], help=COMMANDS["status"], description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the daemon's --listen address")
    parser.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text",
                        help="output format (default text)")
    return parser


def run(args: argparse.Namespace) -> int:
    url = args.url if "://" in args.url else f"http://{args.url}"
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/status", timeout=10) as response:
            status = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"error: cannot read {url}/status: {exc}", file=sys.stderr)
        return 1
    if args.output == "json":
        json.dump(status, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.output == "yaml":
        from reconciler.report.yaml_out import to_yaml

        sys.stdout.write(to_yaml(status))
        return 0
    _print(f"ready: {status.get('ready')}   spec revision: {status.get('specRevision') or '-'}")
    for vc in status.get("vcenters") or []:
        _print(f"vCenter {vc.get('name')}: {'connected' if vc.get('connected') else 'disconnected'}"
              f"{'  last error: ' + vc['lastError'] if vc.get('lastError') else ''}")
    for policy in status.get("policies") or []:
        name = policy.get("name")
        conditions = {c["type"]: c for c in policy.get("conditions", [])}
        ready = conditions.get("Ready", {})
        counts = policy.get("counts", {})
        _print(f"{policy.get('kind', 'Policy')} {name}: Ready={ready.get('status')} ({ready.get('reason')}) "
              f"objects={counts.get('objects', 0)} drifted={counts.get('drifted', 0)} "
              f"waived={counts.get('waived', 0)} errors={counts.get('errors', 0)}")
        if ready.get("message"):
            _print(f"    {ready['message']}")
    return 0


def _print(text: str) -> None:
    sys.stdout.write(console(text) + "\n")
