"""The chart under operations (issue 20): readiness and `helm test`, Prometheus across namespaces, durations as
their consumers parse them, git-sync retries, stable simulator credentials with checksum restarts, upgrade
guards, scheduling and labels. Rendered with the pinned helm, validated as in test_chart.py."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
import yaml

from test_chart import EXAMPLES, REPO, SERVICE_MONITOR, container, daemon_args, daemon_workload, find, one
from helmtool import ROOT


def daemon_pod(docs: list[dict]) -> dict:
    return daemon_workload(docs)["spec"]["template"]["spec"]


def matches(selector: dict, labels: dict) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


# -- 1. readiness, the helm test hook, placement ------------------------------------------------------------------

def test_helm_test_pod_is_admitted_by_the_network_policy(helm):
    # With a restrictive ingressFrom, the `helm test` Pod must still reach /readyz.
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}]
    docs = helm.render({**REPO, "networkPolicy.enabled": True, "networkPolicy.ingressFrom": peers})
    test_pod = one(docs, "Pod")
    (rule,) = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert rule["from"][0] == peers[0]
    assert [p for p in rule["from"] if set(p) == {"podSelector"}
            and matches(p["podSelector"], test_pod["metadata"]["labels"])]
    # a daemon pod is not a test pod: the rule does not admit the release's other pods by accident
    daemon_labels = daemon_workload(docs)["spec"]["template"]["metadata"]["labels"]
    assert not [p for p in rule["from"] if set(p) == {"podSelector"} and matches(p["podSelector"], daemon_labels)]
    docs = helm.render({**REPO, "networkPolicy.enabled": True, "networkPolicy.ingressFrom": peers,
                        "tests.enabled": False})
    assert one(docs, "NetworkPolicy")["spec"]["ingress"][0]["from"] == peers


def test_sharded_test_hook_checks_each_shard_by_name_even_before_it_is_ready(helm):
    docs = helm.render({**REPO, "shards": 3})
    urls = one(docs, "Pod")["spec"]["containers"][0]["args"][1:]
    assert urls == [f"http://vsr-{i}.vsr-headless:8080/readyz" for i in range(3)]
    headless = one(docs, "Service", "vsr-headless")
    assert headless["spec"]["publishNotReadyAddresses"] is True
    sts = daemon_workload(docs)
    # Parallel affects scaling only; updates stay one pod at a time, gated on readiness
    assert sts["spec"]["podManagementPolicy"] == "Parallel" and sts["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


# -- 2. Prometheus in another namespace --------------------------------------------------------------------------

def test_metrics_from_another_namespace(helm):
    prometheus = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                  "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    docs = helm.render({**REPO, "networkPolicy.enabled": True, "serviceMonitor.enabled": True,
                        "networkPolicy.metricsFrom": [prometheus]}, api_versions=(SERVICE_MONITOR,))
    (rule,) = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert rule["from"][0] == {"podSelector": {}} and prometheus in rule["from"]  # the namespace, and Prometheus


def test_gitops_example_lets_its_prometheus_scrape(helm):
    docs = helm.render(files=[EXAMPLES / "values-vcenter.yaml"], api_versions=(SERVICE_MONITOR,))
    assert one(docs, "ServiceMonitor")
    (rule,) = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert any(p.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": "monitoring"}
               for p in rule["from"])


# -- 3. durations, as each consumer parses them -------------------------------------------------------------------

GO_OK = ["60s", "1m30s", "1.5m", "500ms", "2h", "1h2m3s", ".5s", "1.s", "10us", "3ns"]
GO_BAD = ["60", "1d", "1w", "", "s", "1.5", "1 m", "-1s", "1m 30s"]
PROM_OK = ["30s", "1m30s", "1h", "1d", "2w", "1y", "500ms", "0"]
PROM_BAD = ["1.5m", "30", "", "1h1d", "30sec", "1m 30s"]


@pytest.mark.parametrize("value,ok", [(v, True) for v in GO_OK] + [(v, False) for v in GO_BAD])
def test_git_sync_period_is_a_go_duration(helm, value, ok):
    proc = helm.template({**REPO, "gitSync.period": value})
    assert (proc.returncode == 0) is ok, proc.stderr
    if not ok:
        assert "period" in proc.stderr


@pytest.mark.parametrize("field", ["interval", "scrapeTimeout"])
@pytest.mark.parametrize("value,ok", [(v, True) for v in PROM_OK] + [(v, False) for v in PROM_BAD])
def test_service_monitor_durations_are_prometheus_durations(helm, field, value, ok):
    proc = helm.template({**REPO, f"serviceMonitor.{field}": value})
    assert (proc.returncode == 0) is ok, proc.stderr


def test_the_go_pattern_agrees_with_time_parse_duration(tmp_path):
    # The schema's pattern against the real consumer's syntax: Go's time.ParseDuration. The schema is stricter in
    # two ways on purpose (not compared here): no sign and no bare "0" (a period must be positive).
    import json
    import re
    go = shutil.which("go")
    if not go:
        pytest.skip("no Go toolchain")
    pattern = json.loads((ROOT / "charts" / "vsr" / "values.schema.json").read_text())[
        "properties"]["gitSync"]["properties"]["period"]["pattern"]
    values = GO_OK + [v for v in GO_BAD if not v.startswith("-")] + ["1.2.3s", "1e3s", "1h-1m", "1µs", "01s", "1__s"]
    (tmp_path / "main.go").write_text(
        'package main\nimport ("fmt"; "os"; "time")\n'
        'func main() { for _, a := range os.Args[1:] { _, err := time.ParseDuration(a); fmt.Println(err == nil) } }\n')
    proc = subprocess.run([go, "run", "main.go", *values], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GOCACHE": str(tmp_path / "cache"),
                               "GO111MODULE": "off", "GOFLAGS": "", "CGO_ENABLED": "0"})
    assert proc.returncode == 0, proc.stderr
    go_says = dict(zip(values, (line == "true" for line in proc.stdout.split())))
    schema_says = {v: re.fullmatch(pattern, v) is not None for v in values}
    assert schema_says == go_says


# -- 4. git-sync ----------------------------------------------------------------------------------------------------

def test_git_sync_sidecar_retries_forever_and_the_init_container_is_strict(helm):
    pod = daemon_pod(helm.render(REPO))
    assert "--max-failures=-1" in container(pod, "git-sync")["args"]
    assert "--max-failures=0" in container(pod, "git-sync-init")["args"]
    pod = daemon_pod(helm.render({**REPO, "gitSync.maxFailures": 30, "gitSync.initMaxFailures": 2}))
    assert "--max-failures=30" in container(pod, "git-sync")["args"]
    assert "--max-failures=2" in container(pod, "git-sync-init")["args"]


def test_git_sync_extra_env_and_mounts_for_a_private_ca_or_proxy(helm):
    env = [{"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"},
           {"name": "GIT_SSL_CAINFO", "value": "/etc/git-ca/ca.crt"}]
    mount = {"name": "git-ca", "mountPath": "/etc/git-ca", "readOnly": True}
    docs = helm.render({**REPO, "gitSync.extraEnv": env, "gitSync.extraVolumeMounts": [mount],
                        "extraVolumes": [{"name": "git-ca", "configMap": {"name": "corp-ca"}}]})
    pod = daemon_pod(docs)
    for name in ("git-sync", "git-sync-init"):
        c = container(pod, name)
        assert all(e in c["env"] for e in env) and mount in c["volumeMounts"], name
    assert "git-ca" not in {m["name"] for m in container(pod, "vsr")["volumeMounts"]}
    assert {"name": "git-ca", "configMap": {"name": "corp-ca"}} in pod["volumes"]


# -- 5. simulator credentials under GitOps -------------------------------------------------------------------------

def test_generated_vcsim_secret_is_stable_across_renders_and_pods_restart_on_change(helm):
    values = {**REPO, "vcsim.enabled": True}
    first, second = helm.render(values), helm.render(values)
    secret = one(first, "Secret", "vsr-vcsim")
    assert secret == one(second, "Secret", "vsr-vcsim")  # `helm template` (Argo CD) gives the same Secret each time
    other = one(helm.render(values, release="other"), "Secret", "other-vsr-vcsim")
    assert other["data"]["password"] != secret["data"]["password"]  # per release, not one password for everyone
    data = f'username: "{secret["data"]["username"]}"\npassword: "{secret["data"]["password"]}"'
    digest = hashlib.sha256(data.encode()).hexdigest()
    sim = one(first, "Deployment", "vsr-vcsim")["spec"]["template"]["metadata"]["annotations"]
    daemon = daemon_workload(first)["spec"]["template"]["metadata"]["annotations"]
    assert sim["checksum/credentials"] == daemon["checksum/vcsim-credentials"] == digest
    # another username changes the checksum of both pods (both restart, so they agree again)
    changed = helm.render({**values, "vcsim.credentials.username": "admin"})
    assert daemon_workload(changed)["spec"]["template"]["metadata"]["annotations"]["checksum/vcsim-credentials"] \
        != digest
    # an existing Secret: nothing generated, nothing to checksum
    docs = helm.render({**values, "vcsim.credentials.existingSecret": "sim-creds", "podAnnotations": {"a": "b"}})
    assert not find(docs, "Secret")
    assert daemon_workload(docs)["spec"]["template"]["metadata"]["annotations"] == {"a": "b"}
    assert "annotations" not in one(docs, "Deployment", "vsr-vcsim")["spec"]["template"]["metadata"]


# -- 6. upgrades ------------------------------------------------------------------------------------------------------

def guard_chart(tmp_path, existing: dict) -> object:
    """The chart plus a template calling the StatefulSet guard with `existing` as if `lookup` had found it."""
    chart = tmp_path / "vsr"
    shutil.copytree(ROOT / "charts" / "vsr", chart)
    (chart / "templates" / "guard-check.yaml").write_text(
        "{{- include \"vsr.checkStatefulSetChange\" (dict \"root\" . \"existing\" (fromYaml "
        + repr(yaml.safe_dump(existing)).replace("'", '"') + ")) }}\n")
    return chart


@pytest.mark.parametrize("had_claims,enabled,fails", [(False, True, True), (True, False, True),
                                                       (True, True, False), (False, False, False)])
def test_upgrade_guard_refuses_toggling_persistence_of_a_statefulset(helm, tmp_path, had_claims, enabled, fails):
    existing = {"kind": "StatefulSet", "spec": {"volumeClaimTemplates": [{"metadata": {"name": "journal"}}]
                                                if had_claims else []}}
    chart = guard_chart(tmp_path, existing)
    proc = helm.run("template", "vsr", str(chart), "--namespace", "ops", "--kube-version", "1.30.0",
                    *helm.value_args({**REPO, "shards": 2, "persistence.enabled": enabled}))
    assert proc.returncode == (1 if fails else 0), proc.stderr
    if fails:
        assert "volumeClaimTemplates of StatefulSet vsr" in proc.stderr
        assert "kubectl -n ops delete statefulset vsr --cascade=orphan" in proc.stderr


def test_pvc_retention_policy(helm):
    sts = daemon_workload(helm.render({**REPO, "shards": 2, "persistence.enabled": True}))
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    sts = daemon_workload(helm.render({**REPO, "shards": 2, "persistence.enabled": True,
                                       "persistence.retentionPolicy": {"whenDeleted": "Delete",
                                                                       "whenScaled": "Retain"}}))
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    assert "persistentVolumeClaimRetentionPolicy" not in daemon_workload(helm.render({**REPO, "shards": 2}))["spec"]
    bad = helm.template({**REPO, "persistence.retentionPolicy": {"whenDeleted": "Keep"}})
    assert bad.returncode == 1 and "whenDeleted" in bad.stderr


def render_notes(helm, tmp_path, values: dict) -> str:
    chart = tmp_path / "vsr"
    shutil.copytree(ROOT / "charts" / "vsr", chart, dirs_exist_ok=True)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "notes-check.yaml").write_text(
        "notes: |\n" + "".join(f"  {line}\n" for line in notes.splitlines()))
    proc = helm.run("template", "vsr", str(chart), "--namespace", "x", "--show-only", "templates/notes-check.yaml",
                    *helm.value_args({**REPO, **values}))
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)["notes"]


@pytest.mark.parametrize("repository,plain", [("vmware/vcsim", True), ("registry.example/mirror/vcsim", True),
                                              ("docker.io/vmware/vcsim", True), ("ghcr.io/vsr-dev/vsr-sim", False)])
def test_notes_detect_plain_vcsim_by_repository_suffix(helm, tmp_path, repository, plain):
    text = render_notes(helm, tmp_path, {"vcsim.enabled": True, "vcsim.image.repository": repository})
    assert ("lacks the host-hardening API" in text) is plain


def test_notes_warn_when_prometheus_may_be_fenced_off(helm, tmp_path):
    text = render_notes(helm, tmp_path, {"networkPolicy.enabled": True, "serviceMonitor.enabled": True})
    assert "networkPolicy.metricsFrom" in text
    text = render_notes(helm, tmp_path, {"networkPolicy.enabled": True, "serviceMonitor.enabled": True,
                                         "networkPolicy.metricsFrom": [{"namespaceSelector": {}}]})
    assert "networkPolicy.metricsFrom" not in text


# -- 7. small things -------------------------------------------------------------------------------------------------

def test_test_pod_scheduling(helm):
    tol = [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}]
    pod = one(helm.render({**REPO, "nodeSelector": {"pool": "ops"}, "tolerations": tol}), "Pod")["spec"]
    assert pod["nodeSelector"] == {"pool": "ops"} and pod["tolerations"] == tol  # the daemon's, by default
    pod = one(helm.render({**REPO, "nodeSelector": {"pool": "ops"}, "tests.nodeSelector": {"pool": "test"},
                           "tests.tolerations": []}), "Pod")["spec"]
    assert pod["nodeSelector"] == {"pool": "test"} and "tolerations" not in pod


@pytest.mark.parametrize("tag,expected", [(2, "2"), ("0.1.0", "0.1.0"), (20260101, "20260101"), (1.5, "1.5")])
def test_image_tags_may_be_numbers(helm, tag, expected):
    docs = helm.render({**REPO, "image.tag": tag, "gitSync.image.tag": tag, "vcsim.enabled": True,
                        "vcsim.image.tag": tag})
    pod = daemon_pod(docs)
    assert container(pod, "vsr")["image"] == f"ghcr.io/vsr-dev/vsr:{expected}"
    assert container(pod, "git-sync")["image"] == f"registry.k8s.io/git-sync/git-sync:{expected}"
    assert container(one(docs, "Deployment", "vsr-vcsim")["spec"]["template"]["spec"], "vcsim")["image"] == \
        f"vmware/vcsim:{expected}"


def test_topology_spread_constraints_default_to_the_daemon_selector(helm):
    zone = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
    own = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
           "labelSelector": {"matchLabels": {"x": "y"}}}
    docs = helm.render({**REPO, "shards": 3, "topologySpreadConstraints": [zone, own]})
    sts = daemon_workload(docs)
    got = sts["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert got == [{**zone, "labelSelector": {"matchLabels": sts["spec"]["selector"]["matchLabels"]}}, own]
    assert "topologySpreadConstraints" not in daemon_pod(helm.render(REPO))
    bad = helm.template({**REPO, "topologySpreadConstraints": [{"maxSkew": 1}]})
    assert bad.returncode == 1 and "topologySpreadConstraints" in bad.stderr, bad.stderr


def test_common_labels_on_every_object_but_not_in_selectors(helm):
    docs = helm.render({**REPO, "commonLabels": {"team": "secops"}, "vcsim.enabled": True,
                        "networkPolicy.enabled": True, "podDisruptionBudget.enabled": True,
                        "serviceMonitor.enabled": True, "rbac.rules": [{"apiGroups": [""], "resources": ["pods"],
                                                                        "verbs": ["get"]}]},
                       api_versions=(SERVICE_MONITOR,))
    assert len(docs) >= 12
    for d in docs:
        assert d["metadata"]["labels"]["team"] == "secops", d["kind"]
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            assert d["spec"]["template"]["metadata"]["labels"]["team"] == "secops"
            assert "team" not in d["spec"]["selector"]["matchLabels"]
        if d["kind"] == "Service":
            assert "team" not in d["spec"]["selector"]


def test_pdb_unhealthy_pod_eviction_policy(helm):
    values = {**REPO, "podDisruptionBudget.enabled": True}
    assert one(helm.render(values), "PodDisruptionBudget")["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert "unhealthyPodEvictionPolicy" not in one(helm.render(values, kube_version="1.26.0"),
                                                   "PodDisruptionBudget")["spec"]  # the field exists from 1.27
    off = one(helm.render({**values, "podDisruptionBudget.unhealthyPodEvictionPolicy": ""}), "PodDisruptionBudget")
    assert "unhealthyPodEvictionPolicy" not in off["spec"]


def test_daemon_listens_on_both_stacks_and_credentials_are_under_its_credentials_dir(helm):
    for values in ({**REPO, "vcsim.enabled": True, "vcsim.tls.existingSecret": "sim-tls"},
                   {**REPO, "vcenter.server": "vc", "vcenter.existingSecret": "vc", "vcenter.ca.secretName": "ca",
                    "vcenter.secretMounts": ["a"], "vcenter.configMapMounts": ["b"]}):
        docs = helm.render(values)
        args, vsr = daemon_args(docs)
        assert args.listen == "[::]:8080"
        env = {e["name"]: e.get("value") for e in vsr["env"]}
        root = env["VSR_CREDENTIALS_DIR"]
        assert root == "/etc/vsr"
        assert args.password_file.startswith(root + "/") and env["SSL_CERT_FILE"].startswith(root + "/")
        secret_mounts = [m["mountPath"] for m in vsr["volumeMounts"] if m["name"] not in ("git", "journal", "tmp")]
        assert secret_mounts and all(p.startswith(root + "/") for p in secret_mounts), secret_mounts
