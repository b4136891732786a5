#!/usr/bin/env python3
"""Mutation check of the safety-critical modules (`make mutation`; not part of `make test`).

Drives mutmut (3.x) once per module, in a private copy of the tree under build/mutation/<module>/, so that each
module is mutated alone and only its fast test files run against its mutants. Prints the score per module and every
surviving mutant (as a diff); mutants known to be equivalent (listed in EQUIVALENT, explained in docs/testing.md)
are shown apart and left out of the adjusted score.

    python scripts/mutation.py                       # every module in MODULES
    python scripts/mutation.py engine/merge.py       # only the modules whose path contains this text
    python scripts/mutation.py --budget 120 --show   # at most 120 s per module, print the surviving diffs

Exit status: 0 when every measured module reaches --target (adjusted score), 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"

#: The one table to maintain: module (relative to reconciler/) -> the fast test files that must kill its mutants.
#: Unit tests are preferred; simulator tests only where the behaviour lives in the vSphere round trip.
MODULES: dict[str, list[str]] = {
    "controllers/host_lockdown.py": ["tests/unit/controllers/test_host_diffs.py",
                                     "tests/unit/controllers/test_host_mutants.py",
                                     "tests/unit/engine/test_guards.py",
                                     "tests/unit/controllers/test_host_controls_mutants.py"],
    "controllers/host_firewall.py": ["tests/unit/controllers/test_host_diffs.py",
                                     "tests/unit/controllers/test_host_mutants.py",
                                     "tests/unit/controllers/test_host_controls_mutants.py"],
    "controllers/host_services.py": ["tests/unit/controllers/test_host_diffs.py",
                                     "tests/unit/controllers/test_host_mutants.py",
                                     "tests/unit/controllers/test_host_controls_mutants.py"],
    "controllers/esx_users.py": ["tests/unit/controllers/test_esx_users.py",
                                 "tests/unit/controllers/test_host_mutants.py",
                                 "tests/unit/engine/test_guards.py"],
    "controllers/netsec.py": ["tests/unit/controllers/test_host_mutants.py"],
    "engine/merge.py": ["tests/unit/engine/test_merge_waivers.py",
                        "tests/unit/engine/test_engine_mutants.py"],
    "engine/waivers.py": ["tests/unit/engine/test_merge_waivers.py",
                          "tests/unit/engine/test_engine_mutants.py"],
    "engine/policies.py": ["tests/unit/engine/test_planner_policies.py", "tests/unit/engine/test_policies_mutants.py"],
    "engine/planner.py": ["tests/unit/engine/test_planner_policies.py",
                          "tests/unit/engine/test_guards.py",
                          "tests/unit/engine/test_planner_table.py",
                          "tests/unit/engine/test_planner_mutants.py",
                          "tests/integration/test_planner_snapshot.py"],
    "engine/guards.py": ["tests/unit/engine/test_guards.py", "tests/unit/engine/test_guard_mutants.py"],
    "engine/executor.py": ["tests/unit/engine/test_executor_mutants.py", "tests/integration/test_executor_outcomes.py"],
    "daemon/workqueue.py": ["tests/unit/daemon/test_daemon_workqueue.py", "tests/unit/daemon/test_workqueue_mutants.py",
                            "tests/unit/daemon/test_daemon_metrics.py"],
    "events/journal.py": ["tests/unit/events/test_journal.py", "tests/unit/events/test_journal_mutants.py",
                          "tests/unit/events/test_journal_intents.py"],
    "api/loader.py": ["tests/unit/api/test_api_loader.py", "tests/unit/api/test_api_loader_mutants.py"],
    "vsphere/tls.py": ["tests/unit/vsphere/test_tls.py", "tests/unit/vsphere/test_tls_details.py"],
    "vsphere/settings.py": ["tests/unit/vsphere/test_settings.py",
                            "tests/unit/vsphere/test_settings_mutants.py",
                            "tests/unit/vsphere/test_settings_named_files.py",
                            "tests/unit/vsphere/test_call.py",
                            "tests/unit/vsphere/test_tls.py"],
}

#: Surviving mutants that cannot be killed because they do not change behaviour: mutant name -> (the added line of
#: its diff, stripped, so that a renumbered mutant is not silently excused; the reason). Keep docs/testing.md in step.
_TIED = "a path is tied only while it has a winner, so the key is always there"
_TRUTHY = "SSLContext.check_hostname takes the truth value of what it is given: None is False"
_DVPG = ("the DV portgroup branch admits only `datacenters` (and `exclude`) selectors; `hosts: ['*']` matches any "
         "name, which reaches selection.matches as the object name or the placement host either way")
_ONE_SEPARATOR = "names with more than one separator are refused first, so both split at the same place"
_STRICT_NONE = "strict=None is falsy, the same as strict=False"
_SINGLE_ADDRESSES = ("ipAddress holds single addresses (the API's IpList; networks are in ipNetwork), which have no "
                     "host bits, so strict does not matter")
_DATA_OBJECT = "pyVmomi data objects have every declared property (unset is None), so the default is never used"
_ZONE = "only the text before the first % is kept ([0]); how often the rest is split does not matter"
_KIND_UNUSED = "only the account's user name is compared; the kind of the fallback Account is never read"
_DUMP_MODE = ("Waiver and Attestation specs differ between JSON and Python dumps only in `expires`, which from_spec "
              "parses from either a string or a date")
_DUMP_ALIAS = "Waiver and Attestation spec fields are single words: alias and attribute names are the same"
_DUMP_NONE = ("the only None-valued keys kept are unset selector dimensions, and selectors are read with .get, where "
              "None is the same as absent")
_POLICY_MODE = "policy models hold only str/int/bool/list/dict values (Literal, not Enum; no dates): both dumps are equal"
_MODEL_DEFAULT = "the model defaults the field (Enforce, 0) and exclude_none keeps it, so the key is always present"
_READ_MORE = "any read longer than max_bytes gives the same verdict (more than max_bytes: too large)"
_OUTSIDE_TREE = ("the view holds only the tree's types and the controllers' types; the others (DV switches and "
                 "portgroups) then get their placement from their own entity instead of their folder's: the same "
                 "datacenter and no cluster or host either way, and their selection and waivers read only the datacenter")
_READ_AT_NONE = "a change of a controller that polls nothing already has read_at None: with_(read_at=None) is equal"
_EMPTY_PREFETCH = ("with no targets every prefetch returns without reading (each checks its states or desired values "
                   "first), and the base prefetch does nothing, so calling it or not changes nothing")
_NO_FIELDS = "a policy without the controller's fields gives None instead of {}: both falsy, dropped by `if c`"
_NO_SINGLES = "fetch_singletons with no types finds no references and returns {} without a round trip"
_SINGLE_NAME = ("no controller of a singleton type declares `name` (property_specs adds it only to managed entities), "
                "so the filter removes nothing either way")
_TODAY = ("`today` is handed down to read_back_many, which reads nothing from it (the read-back settles by the "
          "re-read state alone)")
_JOURNAL_GIVEN = "_apply_object's only caller (_apply_with_power) always passes a journal"
_DEFAULT_CONCURRENCY = ("the default only bounds how many objects are written at once; the outcomes are the same, "
                        "so only timing tells 8 from 9 (the bound itself is tested with concurrency=2)")
_WAITER = ("the shared task waiter changes only how a task is waited for (tasks.run falls back to wait_one), never "
           "its outcome; the executor itself waits for no task")
_SHUTDOWN = "pool.map's results are all listed before the pool is shut down, so there is nothing left to wait for"
_EVERY_OBJECT = "fetch_objects returns an entry for every requested object (a missing one with errors['*'])"
EQUIVALENT: dict[str, tuple[str, str]] = {
    "reconciler.vsphere.tls.x_build_context__mutmut_28": ("ctx.check_hostname = None", _TRUTHY),
    "reconciler.vsphere.tls.x_build_context__mutmut_32": ("ctx.check_hostname = None", _TRUTHY),
    "reconciler.vsphere.tls.x_build_context__mutmut_38": ("ctx.check_hostname = None", _TRUTHY),
    "reconciler.vsphere.tls.x_connection_class__mutmut_16": (
        'der = self.sock.getpeercert(binary_form=True) or b"XXXX"',
        "after a completed handshake the server has presented a certificate, so the fallback is never used"),
    "reconciler.vsphere.tls.x_connection_class__mutmut_28": (
        'raise ThumbprintMismatch(pin or "XXXX", fingerprint(der))',
        "the pin is checked only when one is given (`expected is not None`), so `pin` is never empty there"),
    "reconciler.vsphere.tls.x_server_fingerprint__mutmut_1": (
        "def server_fingerprint(host: str, port: int, timeout: float = 6.0) -> str | None:",
        "the default timeout only bounds a hung handshake: 5 or 6 s cannot be told apart without waiting 5 s"),
    "reconciler.vsphere.settings.x_parse_server__mutmut_10": (
        'text = re.sub(r"^https?://", "", text, flags=re.IGNORECASE).split("/", )[0]',
        "only the text before the first / is kept ([0]); how often the rest is split does not matter"),
    "reconciler.vsphere.settings.x_parse_server__mutmut_24": (
        'text = re.sub(r"^https?://", "", text, flags=re.IGNORECASE).split("/", 2)[0]',
        "only the text before the first / is kept ([0]); how often the rest is split does not matter"),
    "reconciler.vsphere.settings.x_parse_server__mutmut_21": (
        'text = re.sub(r"^HTTPS?://", "", text, flags=re.IGNORECASE).split("/", 1)[0]',
        "the pattern is matched with re.IGNORECASE: its letter case does not matter"),
    "reconciler.vsphere.settings.x_read_secret_file__mutmut_10": (
        'text = Path(path).expanduser().read_bytes().decode("UTF-8")', "Python codec names are case-insensitive"),
    "reconciler.vsphere.settings.x_settings_from_spec__mutmut_54": (
        'password, _ = _credential(creds, "password", environ, ENV_PASSWORD, allow_inline=None)',
        "allow_inline is only tested for truth (`if not allow_inline`): None is False"),
    "reconciler.engine.merge.x_merge__mutmut_33": ("winners.pop(conflict.path, )", _TIED),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_28": (
        'return selection.matches({"hosts": ["*"], **self.selector}, None, name,', _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_35": (
        'return selection.matches({"XXhostsXX": ["*"], **self.selector}, "HostSystem", name,', _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_36": (
        'return selection.matches({"HOSTS": ["*"], **self.selector}, "HostSystem", name,', _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_38": (
        'return selection.matches({"hosts": ["*"], **self.selector}, "XXHostSystemXX", name,', _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_39": (
        'return selection.matches({"hosts": ["*"], **self.selector}, "hostsystem", name,', _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_40": (
        'return selection.matches({"hosts": ["*"], **self.selector}, "HOSTSYSTEM", name,', _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_42": ("Placement(place.datacenter, None, None))", _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_44": ("Placement(place.datacenter, name))", _DVPG),
    "reconciler.engine.waivers.xǁWaiverRuleǁcovers__mutmut_45": ("Placement(place.datacenter, None, ))", _DVPG),
    "reconciler.controllers.esx_users.x_parse__mutmut_16": ('domain, _, user = name.rpartition("\\\\")',
                                                           _ONE_SEPARATOR),
    "reconciler.controllers.esx_users.x_parse__mutmut_33": ('user, _, domain = name.rpartition("@")', _ONE_SEPARATOR),
    "reconciler.controllers.esx_users.x__fold__mutmut_3": (
        "return text.upper() if text.isascii() else text",
        "both sides are folded the same way; equal ASCII lower case is equal upper case"),
    "reconciler.controllers.host_lockdown.x__current_mode__mutmut_7": (
        "return SPEC_MODES.get(str(raw)) if (raw is not None) or True else None",
        'SPEC_MODES.get("None") is None as well'),
    "reconciler.controllers.host_firewall.x_allows__mutmut_9": (
        "return any(net.version == ip.version and not _mapped(None) and ip in net for net in allowed)",
        "wire_address turns every IPv4-mapped source into IPv4, and a mapped IPv6 network (prefix >= 96 under "
        "::ffff:0:0) holds only mapped addresses, so no IPv6 source can fall in one: the _mapped test is a safety net"),
    "reconciler.controllers.host_firewall.x_ip_list__mutmut_16": (
        "return vim.host.Ruleset.IpList(ipAddress=sorted(addresses), ipNetwork=networks)",
        "pyVmomi initialises an unset boolean property to False, the value written explicitly"),
    "reconciler.controllers.host_firewall.x_normalize_allowed__mutmut_10": (
        "return frozenset(ipaddress.ip_network(str(v), strict=None) for v in value)", _STRICT_NONE),
    "reconciler.controllers.host_firewall.x_observed_allowed__mutmut_16": (
        "nets = {ipaddress.ip_network(a, strict=None) for a in (hosts.ipAddress or [])}", _STRICT_NONE),
    "reconciler.controllers.host_firewall.x_observed_allowed__mutmut_18": (
        "nets = {ipaddress.ip_network(a, ) for a in (hosts.ipAddress or [])}", _SINGLE_ADDRESSES),
    "reconciler.controllers.host_firewall.x_observed_allowed__mutmut_19": (
        "nets = {ipaddress.ip_network(a, strict=True) for a in (hosts.ipAddress or [])}", _SINGLE_ADDRESSES),
    "reconciler.controllers.host_firewall.x_observed_allowed__mutmut_24": (
        'nets |= {ipaddress.ip_network(f"{n.network}/{n.prefixLength}", strict=None) for n in (hosts.ipNetwork or [])}',
        _STRICT_NONE),
    "reconciler.controllers.host_firewall.x_observed_allowed__mutmut_6": (
        'hosts = getattr(ruleset, "allowedHosts", )', _DATA_OBJECT),
    "reconciler.controllers.host_firewall.x_wire_address__mutmut_6": (
        'ip = ipaddress.ip_address(address.split("%", )[0])', _ZONE),
    "reconciler.controllers.host_firewall.x_wire_address__mutmut_9": (
        'ip = ipaddress.ip_address(address.split("%", 2)[0])', _ZONE),
    "reconciler.controllers.host_lockdown.x__near_miss__mutmut_5": (
        'mine = (esx_users.parse(login) or esx_users.Account(None, login)).user.lower()', _KIND_UNUSED),
    "reconciler.controllers.host_lockdown.x__near_miss__mutmut_9": (
        'mine = (esx_users.parse(login) or esx_users.Account("XXlocalXX", login)).user.lower()', _KIND_UNUSED),
    "reconciler.controllers.host_lockdown.x__near_miss__mutmut_10": (
        'mine = (esx_users.parse(login) or esx_users.Account("LOCAL", login)).user.lower()', _KIND_UNUSED),
    "reconciler.controllers.host_lockdown.x__near_miss__mutmut_16": (
        'similar = sorted(u for u in users if (esx_users.parse(u) or esx_users.Account(None, u)).user.lower() == mine)',
        _KIND_UNUSED),
    "reconciler.controllers.host_lockdown.x__near_miss__mutmut_20": (
        'similar = sorted(u for u in users if (esx_users.parse(u) or esx_users.Account("XXlocalXX", u)).user.lower() '
        '== mine)', _KIND_UNUSED),
    "reconciler.controllers.host_lockdown.x__near_miss__mutmut_21": (
        'similar = sorted(u for u in users if (esx_users.parse(u) or esx_users.Account("LOCAL", u)).user.lower() '
        '== mine)', _KIND_UNUSED),
    "reconciler.engine.policies.x_compile_documents__mutmut_13": ('spec = doc.model.spec.model_dump(mode=None, by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_35": ('spec = doc.model.spec.model_dump(mode=None, by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_16": ('spec = doc.model.spec.model_dump(by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_38": ('spec = doc.model.spec.model_dump(by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_19": ('spec = doc.model.spec.model_dump(mode="XXjsonXX", by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_41": ('spec = doc.model.spec.model_dump(mode="XXjsonXX", by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_20": ('spec = doc.model.spec.model_dump(mode="JSON", by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_42": ('spec = doc.model.spec.model_dump(mode="JSON", by_alias=True, exclude_none=True)', _DUMP_MODE),
    "reconciler.engine.policies.x_compile_documents__mutmut_14": ('spec = doc.model.spec.model_dump(mode="json", by_alias=None, exclude_none=True)', _DUMP_ALIAS),
    "reconciler.engine.policies.x_compile_documents__mutmut_36": ('spec = doc.model.spec.model_dump(mode="json", by_alias=None, exclude_none=True)', _DUMP_ALIAS),
    "reconciler.engine.policies.x_compile_documents__mutmut_17": ('spec = doc.model.spec.model_dump(mode="json", exclude_none=True)', _DUMP_ALIAS),
    "reconciler.engine.policies.x_compile_documents__mutmut_39": ('spec = doc.model.spec.model_dump(mode="json", exclude_none=True)', _DUMP_ALIAS),
    "reconciler.engine.policies.x_compile_documents__mutmut_21": ('spec = doc.model.spec.model_dump(mode="json", by_alias=False, exclude_none=True)', _DUMP_ALIAS),
    "reconciler.engine.policies.x_compile_documents__mutmut_43": ('spec = doc.model.spec.model_dump(mode="json", by_alias=False, exclude_none=True)', _DUMP_ALIAS),
    "reconciler.engine.policies.x_compile_documents__mutmut_18": ('spec = doc.model.spec.model_dump(mode="json", by_alias=True, )', _DUMP_NONE),
    "reconciler.engine.policies.x_compile_documents__mutmut_40": ('spec = doc.model.spec.model_dump(mode="json", by_alias=True, )', _DUMP_NONE),
    "reconciler.engine.policies.x_compile_documents__mutmut_22": ('spec = doc.model.spec.model_dump(mode="json", by_alias=True, exclude_none=False)', _DUMP_NONE),
    "reconciler.engine.policies.x_compile_documents__mutmut_44": ('spec = doc.model.spec.model_dump(mode="json", by_alias=True, exclude_none=False)', _DUMP_NONE),
    "reconciler.engine.policies.x_compile_policy__mutmut_2": ('spec = doc.model.spec.model_dump(mode=None, by_alias=True, exclude_none=True)', _POLICY_MODE),
    "reconciler.engine.policies.x_compile_policy__mutmut_5": ('spec = doc.model.spec.model_dump(by_alias=True, exclude_none=True)', _POLICY_MODE),
    "reconciler.engine.policies.x_compile_policy__mutmut_8": ('spec = doc.model.spec.model_dump(mode="XXjsonXX", by_alias=True, exclude_none=True)', _POLICY_MODE),
    "reconciler.engine.policies.x_compile_policy__mutmut_9": ('spec = doc.model.spec.model_dump(mode="JSON", by_alias=True, exclude_none=True)', _POLICY_MODE),
    "reconciler.engine.policies.x_compile_policy__mutmut_38": ('enforce=spec.get("enforcement", None) == "Enforce", suspended=bool(spec.get("suspend")),', _MODEL_DEFAULT),
    "reconciler.engine.policies.x_compile_policy__mutmut_40": ('enforce=spec.get("enforcement", ) == "Enforce", suspended=bool(spec.get("suspend")),', _MODEL_DEFAULT),
    "reconciler.engine.policies.x_compile_policy__mutmut_43": ('enforce=spec.get("enforcement", "XXEnforceXX") == "Enforce", suspended=bool(spec.get("suspend")),', _MODEL_DEFAULT),
    "reconciler.engine.policies.x_compile_policy__mutmut_44": ('enforce=spec.get("enforcement", "enforce") == "Enforce", suspended=bool(spec.get("suspend")),', _MODEL_DEFAULT),
    "reconciler.engine.policies.x_compile_policy__mutmut_45": ('enforce=spec.get("enforcement", "ENFORCE") == "Enforce", suspended=bool(spec.get("suspend")),', _MODEL_DEFAULT),
    "reconciler.engine.policies.x_compile_policy__mutmut_56": ('priority=int(spec.get("priority", None)), source=f"{start.file}:{start.line}",', _MODEL_DEFAULT),
    "reconciler.engine.policies.x_compile_policy__mutmut_58": ('priority=int(spec.get("priority", )), source=f"{start.file}:{start.line}",', _MODEL_DEFAULT),
    "reconciler.engine.policies.x_compile_policy__mutmut_61": ('priority=int(spec.get("priority", 1)), source=f"{start.file}:{start.line}",', _MODEL_DEFAULT),
    "reconciler.engine.planner.x__in_tree__mutmut_1": (
        "return obj.ref is not None or isinstance(obj.ref, tuple(tree))", _OUTSIDE_TREE),
    "reconciler.engine.planner.x_diff_object__mutmut_49": (
        "changes.append(change.with_(read_at=read_at) if (read_at) or True else change)", _READ_AT_NONE),
    "reconciler.engine.planner.x_plan_objects__mutmut_200": (
        "if not targets and type(controller).prefetch is Controller.prefetch:", _EMPTY_PREFETCH),
    "reconciler.engine.planner.x_plan_objects__mutmut_90": (
        "contributions = [c for c in (p.fields.get(controller.name, None) for p in matching", _NO_FIELDS),
    "reconciler.engine.planner.x_plan_objects__mutmut_92": (
        "contributions = [c for c in (p.fields.get(controller.name, ) for p in matching", _NO_FIELDS),
    "reconciler.engine.planner.x_snapshot__mutmut_49": (
        "objects.update(sources.fetch_singletons(conn, singles) if (singles) or True else {})", _NO_SINGLES),
    "reconciler.engine.planner.x_snapshot__mutmut_5": (
        'singles = {t: [p for p in paths if p != "XXnameXX"] for t, paths in specs.items() if not issubclass(t, '
        'vim.ManagedEntity)}', _SINGLE_NAME),
    "reconciler.engine.planner.x_snapshot__mutmut_6": (
        'singles = {t: [p for p in paths if p != "NAME"] for t, paths in specs.items() if not issubclass(t, '
        'vim.ManagedEntity)}', _SINGLE_NAME),
    "reconciler.api.loader.x_discover__mutmut_6": ("key = None", "add() is given only paths that exist (path.exists() or is_file(follow_symlinks=True)), and those resolve"),
    "reconciler.api.loader.x_read_text__mutmut_17": ("data = fh.read(None)", _READ_MORE),
    "reconciler.api.loader.x_read_text__mutmut_19": ("data = fh.read(max_bytes + 2)", _READ_MORE),
    "reconciler.api.loader.x_read_text__mutmut_35": ('return data.decode("UTF-8-SIG"), None', "Python codec names are case-insensitive"),
    "reconciler.daemon.workqueue.xǁBucketRateLimiterǁwhen__mutmut_24": (
        "return 0.0 if self._tokens > 0 else -self._tokens / self.qps",
        "with exactly 0 tokens left the mutant returns -0.0 / qps = -0.0, which is 0.0"),
    "reconciler.daemon.workqueue.xǁWorkQueueǁadd_after__mutmut_10": (
        "if current is not None and current < ready:",
        "a second add_after for the same ready time pushes a heap entry that _promote_locked skips as stale "
        "(the key is no longer waiting once the first entry promoted it)"),
    "reconciler.events.journal.x__statements__mutmut_5": ('lines = [line.split("--", )[0] for line in script.splitlines()]',
                                                         _ZONE.replace("%", "--")),
    "reconciler.events.journal.x__statements__mutmut_8": ('lines = [line.split("--", 2)[0] for line in script.splitlines()]',
                                                         _ZONE.replace("%", "--")),
    "reconciler.events.journal.x__statements__mutmut_6": (
        'lines = [line.rsplit("--", 1)[0] for line in script.splitlines()]',
        ("SQLite itself ignores a line after `--`; the one schema line with two (`-- change sequence for --follow`) "
         "keeps a valid comment either way")),
    "reconciler.events.journal.x__dump__mutmut_1": (
        "return None if (value is None) and False else json.dumps(value, default=str, sort_keys=True)",
        'None is then stored as the JSON text "null", which _load reads back as None'),
    "reconciler.engine.executor.x__apply_object__mutmut_13": ('problems, touched = _write_object(conn, vplan, po, controllers, journal if (journal is not None) or True else NoJournal())', _JOURNAL_GIVEN),
    "reconciler.engine.executor.x__apply_object__mutmut_20": ('problems.extend(read_back(conn, vplan, po, touched, None))', _TODAY),
    "reconciler.engine.executor.x__apply_with_power__mutmut_7": ('return _apply_object(conn, vplan, po, controllers, None, journal)', _TODAY),
    "reconciler.engine.executor.x__apply_with_power__mutmut_76": ('return _apply_object(conn, vplan, po, controllers, None, journal)', _TODAY),
    "reconciler.engine.executor.x__apply_with_power__mutmut_51": ('return [ObjectProblem(po.state.ref, str(exc))] + _apply_object(conn, vplan, po, controllers, None,', _TODAY),
    "reconciler.engine.executor.x_apply_object__mutmut_16": ('problems = _apply_with_power(conn, vplan, po, controllers, None, journal)', _TODAY),
    "reconciler.engine.executor.x_apply_plan__mutmut_20": ('day = None', _TODAY),
    "reconciler.engine.executor.x_apply_plan__mutmut_21": ('day = today and dt.date.today()', _TODAY),
    "reconciler.engine.executor.x_apply_plan__mutmut_42": ('problems = _apply_with_power(conn, vplan, po, controllers, None, recorder)', _TODAY),
    "reconciler.engine.executor.x_apply_plan__mutmut_121": ('read = read_back_many(conn, vplan, [(w.po, w.touched) for w in pending if w.touched], None)', _TODAY),
    "reconciler.engine.executor.x_apply_plan__mutmut_159": ('results.append(rolling.run(conn, vplan, windowed, _window(conn, vplan, controllers, recorder, None, finish)))', _TODAY),
    "reconciler.engine.executor.x_read_back__mutmut_8": ('return read_back_many(conn, vplan, [(po, touched)], None).get(po.state.ref.moid, [])', _TODAY),
    "reconciler.engine.executor.x__window__mutmut_41": ('return rolling.Window(guard=lambda po: guards.guard_object(po, vplan.facts, Outcome.SKIPPED), write=write, read_back=lambda po, touched: read_back(conn, vplan, po, touched, None),', _TODAY),
    "reconciler.engine.executor.x_apply_plan__mutmut_1": ('def apply_plan(conn: Connection, vplan: VCenterPlan, concurrency: int = 9,', _DEFAULT_CONCURRENCY),
    "reconciler.engine.executor.x_apply_plan__mutmut_90": ('with tasks.shared_waiter(None), contextlib.ExitStack() as stack:', _WAITER),
    "reconciler.engine.executor.x_apply_plan__mutmut_93": ('stack.callback(pool.shutdown, wait=None)', _SHUTDOWN),
    "reconciler.engine.executor.x_apply_plan__mutmut_95": ('stack.callback(pool.shutdown, )', _SHUTDOWN),
    "reconciler.engine.executor.x_apply_plan__mutmut_96": ('stack.callback(pool.shutdown, wait=False)', _SHUTDOWN),
    "reconciler.engine.executor.x__read_back_many__mutmut_24": ('fresh: dict[str, Any] = fetched.get(po.state.ref.moid, None)', _EVERY_OBJECT),
    "reconciler.engine.executor.x__read_back_many__mutmut_26": ('fresh: dict[str, Any] = fetched.get(po.state.ref.moid, )', _EVERY_OBJECT),
}

#: Modules whose SQL text (SQLite) and sqlite3.Row keys are read case-insensitively: a mutant that only changes the
#: letter case of such a line is equivalent (see sql_case_only; keep docs/testing.md in step).
SQL_MODULES = {"events/journal.py"}
_SQL_CASE = ("only the letter case of SQL text or of a sqlite3.Row key changes; SQLite keywords and identifiers "
             "and Row keys are case-insensitive")
_SQL_WORD = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|WHERE|FROM|VALUES|ORDER BY|AND|OR|IN|GLOB|IS NULL|"
                       r"COALESCE|COUNT|JOIN|ON|BEGIN IMMEDIATE|COMMIT|ROLLBACK)\b|[=<>] \?\"|\br\[\"intent_")
# (upper-case SQL as the module writes it, or a Row key)


def sql_case_only(diff: str) -> bool:
    """One line changed, only in letter case, and that line is SQL text or a Row lookup (r["intent_..."])."""
    minus = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    plus = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    if len(minus) != len(plus) or not minus:
        return False
    changed = [(a, b) for a, b in zip(minus, plus) if a != b]
    return bool(changed) and all(a.lower() == b.lower() and _SQL_WORD.search(a) for a, b in changed)


KILLED = {"killed", "timeout"}


@dataclass
class ModuleResult:
    module: str
    counts: dict[str, int] = field(default_factory=dict)
    survivors: dict[str, str] = field(default_factory=dict)   # name -> diff
    equivalents: dict[str, str] = field(default_factory=dict)  # name -> reason
    seconds: float = 0.0
    timed_out: bool = False
    error: str = ""

    @property
    def checked(self) -> int:
        return sum(n for status, n in self.counts.items() if status not in {"not checked", "skipped"})

    @property
    def killed(self) -> int:
        return sum(self.counts.get(s, 0) for s in KILLED)

    def score(self, adjusted: bool) -> float | None:
        denominator = self.checked - (len(self.equivalents) if adjusted else 0)
        return None if denominator <= 0 else 100.0 * self.killed / denominator


def mutmut_bin() -> str:
    """mutmut from the interpreter's own environment (the project venv)."""
    candidate = Path(sys.executable).parent / "mutmut"
    return str(candidate) if candidate.exists() else "mutmut"


def prepare(module: str, tests: list[str]) -> Path:
    """A fresh private tree for one module: the package, the tests and a pyproject that configures mutmut."""
    workdir = WORK / module.replace("/", "_").removesuffix(".py")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "reconciler", workdir / "reconciler", ignore=ignore)
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=ignore)
    import tomllib
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    lines = ["[tool.pytest.ini_options]",
             f"addopts = {json.dumps(pytest_ini.get('addopts', ''))}",
             f"timeout = {int(pytest_ini.get('timeout', 300))}",
             f"markers = {json.dumps(pytest_ini.get('markers', []))}",
             "", "[tool.mutmut]",
             'source_paths = ["reconciler"]',
             f"only_mutate = {json.dumps(['reconciler/' + module])}",
             f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
             'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]',
             ""]
    (workdir / "pyproject.toml").write_text("\n".join(lines))
    return workdir


def run_module(module: str, tests: list[str], budget: float, workers: int) -> ModuleResult:
    result = ModuleResult(module)
    present = [t for t in tests if (ROOT / t).exists()]
    if not present:
        result.error = f"no test file exists of: {', '.join(tests)}"
        return result
    tests = present
    workdir = prepare(module, tests)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # tests must import the mutated copy
    env.setdefault("VSR_SIM_BIN", str(ROOT / "build" / "vsr-sim"))
    started = time.monotonic()
    with open(workdir / "mutmut-run.log", "w") as logfile:
        proc = subprocess.Popen([mutmut_bin(), "run", "--max-children", str(workers)], cwd=workdir, env=env,
                                stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            result.timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    result.seconds = time.monotonic() - started
    if proc.returncode not in (0, None) and not result.timed_out:
        tail = (workdir / "mutmut-run.log").read_text(errors="replace")[-600:]
        result.error = f"mutmut exited {proc.returncode}: {tail.strip().splitlines()[-1] if tail.strip() else ''}"
    statuses = collect(workdir, env)
    open_ = [n for n, s in statuses.items() if s not in KILLED and s not in {"not checked", "skipped"}]
    diffs = show(workdir, env, open_)
    for name, status in statuses.items():
        result.counts[status] = result.counts.get(status, 0) + 1
        if name not in diffs:
            continue
        diff = diffs[name]
        known = EQUIVALENT.get(name)
        if known and known[0] in {line[1:].strip() for line in diff.splitlines() if line.startswith("+")}:
            result.equivalents[name] = known[1]
        elif module in SQL_MODULES and sql_case_only(diff):
            result.equivalents[name] = _SQL_CASE
        else:
            result.survivors[name] = f"[{status}]\n{diff}"
    return result


def collect(workdir: Path, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run([mutmut_bin(), "results", "--all", "true"], cwd=workdir, env=env,
                         capture_output=True, text=True, check=False).stdout
    statuses: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status.strip()
    return statuses


SHOW = """
import json, sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant
out = {}
for name in json.loads(sys.stdin.read()):
    out[name] = get_diff_for_mutant(name, path=find_mutant(name).path)
print(json.dumps(out))
"""


def show(workdir: Path, env: dict[str, str], names: list[str]) -> dict[str, str]:
    """The diffs of these mutants, from mutmut's own code, in one process (`mutmut show` costs a start each)."""
    if not names:
        return {}
    proc = subprocess.run([sys.executable, "-c", SHOW], cwd=workdir, env=env, input=json.dumps(names),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {name: f"(no diff: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '?'})"
                for name in names}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(score: float | None) -> str:
    return "   -  " if score is None else f"{score:5.1f}%"


def report(results: list[ModuleResult], show_diffs: bool) -> None:
    print(f"\n{'module':34} {'mutants':>7} {'checked':>7} {'killed':>6} {'surv':>5} {'equiv':>5} "
          f"{'score':>6} {'adj.':>6} {'time':>6}")
    total = ModuleResult("TOTAL")
    for r in results:
        survived = len(r.survivors)
        note = " (time budget hit)" if r.timed_out else ""
        note += f" ERROR {r.error}" if r.error else ""
        print(f"{r.module:34} {sum(r.counts.values()):7} {r.checked:7} {r.killed:6} {survived:5} "
              f"{len(r.equivalents):5} {fmt(r.score(False)):>6} {fmt(r.score(True)):>6} {r.seconds:5.0f}s{note}")
        for status, n in r.counts.items():
            total.counts[status] = total.counts.get(status, 0) + n
        total.survivors.update(r.survivors)
        total.equivalents.update(r.equivalents)
        total.seconds += r.seconds
    print(f"{'TOTAL':34} {sum(total.counts.values()):7} {total.checked:7} {total.killed:6} "
          f"{len(total.survivors):5} {len(total.equivalents):5} {fmt(total.score(False)):>6} "
          f"{fmt(total.score(True)):>6} {total.seconds:5.0f}s")
    if total.survivors:
        print("\nSurviving mutants" + ("" if show_diffs else " (diffs with --show)") + ":")
        for name, diff in sorted(total.survivors.items()):
            print(f"  {name} {diff.splitlines()[0]}")
            if show_diffs:
                print("\n".join("      " + line for line in diff.splitlines()[1:]))
    if total.equivalents:
        print("\nEquivalent mutants (see docs/testing.md):")
        for name, reason in sorted(total.equivalents.items()):
            print(f"  {name}: {reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="run only modules whose path contains one of these texts")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds per module (default 240)")
    parser.add_argument("--workers", type=int, default=1, help="mutmut children (default 1)")
    parser.add_argument("--target", type=float, default=90.0, help="adjusted score every module must reach")
    parser.add_argument("--show", action="store_true", help="print the diff of every surviving mutant")
    parser.add_argument("--list", action="store_true", help="print the module table and exit")
    args = parser.parse_args(argv)
    selected = {m: t for m, t in MODULES.items() if not args.modules or any(s in m for s in args.modules)}
    if args.list:
        for module, tests in MODULES.items():
            print(f"reconciler/{module}: {' '.join(tests)}")
        return 0
    if not selected:
        print(f"no module matches {args.modules}; see --list", file=sys.stderr)
        return 2
    results = []
    for module, tests in selected.items():
        print(f">> {module} ({len(tests)} test files, budget {args.budget:.0f}s)", flush=True)
        results.append(run_module(module, tests, args.budget, args.workers))
    report(results, args.show)
    below = [r.module for r in results if r.error or (r.score(True) or 0.0) < args.target]
    if below:
        print(f"\nbelow {args.target:.0f}%: {', '.join(below)}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
