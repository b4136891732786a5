"""The Helm chart (charts/vsr), checked offline: `helm lint --strict`, `helm template` of several value scenarios,
every manifest validated with kubernetes-validate --strict at two Kubernetes versions, and assertions on what
matters (security contexts, daemon args, probes, RBAC, git-sync wiring, sharding, vcsim) plus the values schema
rejecting bad values. No cluster is needed (none can run here); `helm install`/`helm test` are not exercised."""

from __future__ import annotations

import shlex
from pathlib import Path

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError

from helmtool import ROOT
from reconciler.cli import build_parser

EXAMPLES = ROOT / "examples" / "gitops"
REPO = {"gitSync.repo": "https://git.example.com/infra/vsr-specs.git"}
KUBE_VERSIONS = ("1.28.0", "1.34.0")  # oldest supported with sharding, and a recent one
SERVICE_MONITOR = "monitoring.coreos.com/v1/ServiceMonitor"

SCENARIOS: dict[str, dict] = {
    "default": {"values": REPO},
    "vcsim": {"values": {**REPO, "vcsim.enabled": True, "gitSync.auth.type": "https",
                         "gitSync.auth.existingSecret": "git-token"}},
    "shards": {"values": {**REPO, "shards": 3, "persistence.enabled": True, "gitSync.auth.type": "ssh",
                          "gitSync.auth.existingSecret": "git-ssh", "vcenter.secretMounts": ["vc-a", "vc-b"],
                          "podDisruptionBudget.enabled": True}},
    "monitoring": {"values": {**REPO, "serviceMonitor.enabled": True, "networkPolicy.enabled": True,
                              "podDisruptionBudget.enabled": True, "vcsim.enabled": True},
                   "api_versions": (SERVICE_MONITOR,)},
    "vcenter": {"values": {**REPO, "vcenter.server": "vcsa.lab.example", "vcenter.existingSecret": "vc-lab",
                           "vcenter.ca.configMapName": "vc-lab-ca", "persistence.enabled": True}},
    "example-vcenter": {"files": [EXAMPLES / "values-vcenter.yaml"], "api_versions": (SERVICE_MONITOR,)},
    "example-vcsim": {"files": [EXAMPLES / "values-vcsim.yaml"]},
}


def render(helm, name: str, kube_version: str = "1.30.0") -> list[dict]:
    s = SCENARIOS[name]
    return helm.render(s.get("values"), files=s.get("files"), kube_version=kube_version,
                       api_versions=s.get("api_versions", ()))


def find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def daemon_workload(docs: list[dict]) -> dict:
    found = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
             and d["metadata"]["labels"].get("app.kubernetes.io/component") == "daemon"]
    assert len(found) == 1
    return found[0]


def container(pod_spec: dict, name: str) -> dict:
    return next(c for c in pod_spec.get("initContainers", []) + pod_spec["containers"] if c["name"] == name)


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            out.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            out.append((f"Pod/{d['metadata']['name']}", d["spec"]))
    return out


def daemon_args(docs: list[dict]):
    """The daemon container's args parsed by the real `vsr` CLI parser (so every flag must exist)."""
    vsr = container(daemon_workload(docs)["spec"]["template"]["spec"], "vsr")
    args = [a.replace("$(VSR_SHARD_INDEX)", "1") for a in vsr["args"]]  # what Kubernetes substitutes
    return build_parser().parse_args(args), vsr


# -- lint and validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["default", "vcsim", "shards", "monitoring", "vcenter"])
def test_helm_lint_strict(helm, name):
    s = SCENARIOS[name]
    proc = helm.run("lint", "--strict", str(ROOT / "charts" / "vsr"), *helm.value_args(s.get("values"), s.get("files")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_manifest_validates_strictly(helm, name, kube_version):
    docs = render(helm, name, kube_version)
    assert docs
    checked = 0
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD: not in the Kubernetes schemas
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except SchemaNotFoundError:  # pragma: no cover - every other kind is core
            pytest.fail(f"no schema for {doc['kind']}")
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {kube_version}: {exc.message} "
                        f"at {'.'.join(map(str, exc.path))}")
        checked += 1
    assert checked >= 4


def test_kinds_per_scenario(helm):
    kinds = {name: sorted(d["kind"] for d in render(helm, name)) for name in ("default", "vcsim", "shards", "monitoring")}
    assert kinds["default"] == ["Deployment", "Pod", "Service", "ServiceAccount"]
    assert kinds["vcsim"] == ["Deployment", "Deployment", "Pod", "Secret", "Service", "Service", "ServiceAccount"]
    assert kinds["shards"] == ["Pod", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "StatefulSet"]
    assert "ServiceMonitor" in kinds["monitoring"] and kinds["monitoring"].count("NetworkPolicy") == 2


# -- security -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["default", "vcsim", "shards", "monitoring", "vcenter"])
def test_restricted_security_contexts_everywhere(helm, name):
    docs = render(helm, name)
    for where, spec in pod_specs(docs):
        psc = spec.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, where
        assert psc.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        assert spec.get("automountServiceAccountToken") is False, where
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, (where, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (where, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (where, c["name"])
            assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, (where, c["name"])
            assert "privileged" not in sc and "hostNetwork" not in spec
            assert c["image"].split(":")[-1] != "latest" and (":" in c["image"] or "@sha256:" in c["image"])
            if c["name"] != "readyz":  # long-running containers get a writable /tmp on the read-only root
                assert "/tmp" in {m["mountPath"] for m in c["volumeMounts"]}, (where, c["name"])


def test_no_empty_role_and_no_token_is_mounted(helm):
    docs = render(helm, "default")
    sa = one(docs, "ServiceAccount")
    assert not find(docs, "Role") and not find(docs, "RoleBinding")  # the daemon needs no Kubernetes API today
    rules = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "update"]}]
    with_rules = helm.render({**REPO, "rbac.rules": rules})
    role, binding = one(with_rules, "Role"), one(with_rules, "RoleBinding")
    assert role["rules"] == rules
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": "vsr-system"}]
    pod = daemon_workload(docs)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    assert sa["automountServiceAccountToken"] is False and pod["automountServiceAccountToken"] is False
    # rbac.create=false / serviceAccount.create=false render neither, rules or not
    docs = helm.render({**REPO, "rbac.create": False, "serviceAccount.create": False, "rbac.rules": rules})
    assert not find(docs, "Role") and not find(docs, "ServiceAccount")
    assert daemon_workload(docs)["spec"]["template"]["spec"]["serviceAccountName"] == "default"


# -- the daemon ---------------------------------------------------------------------------------------------------

def test_default_is_one_replica_recreate_with_the_daemon_args(helm):
    docs = render(helm, "default")
    deploy = daemon_workload(docs)
    assert deploy["kind"] == "Deployment"
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"] == {"type": "Recreate"}
    args, vsr = daemon_args(docs)
    assert vsr["image"] == "ghcr.io/vsr-dev/vsr:0.1.0"
    assert vsr["args"][:2] == ["run", "/git/specs"]
    assert args.paths == ["/git/specs"] and args.listen == "[::]:8080" and args.shard is None
    assert str(args.journal) == "/var/lib/vsr/journal.db"
    assert (args.resync, args.concurrency, args.qps, args.burst) == (600.0, 4, 10.0, 100)
    assert (args.flap_threshold, args.flap_window, args.log_format) == (5, 600.0, "json")
    assert args.server is None and not args.insecure  # connection from the VCenter documents of the repo
    mounts = {m["mountPath"]: m for m in vsr["volumeMounts"]}
    volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/var/lib/vsr"]["name"]] == {"name": "journal", "emptyDir": {}}


def test_probes_use_the_named_port(helm):
    docs = render(helm, "default")
    _, vsr = daemon_args(docs)
    assert vsr["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert vsr["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert vsr["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    svc = one(docs, "Service")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"] == daemon_workload(docs)["spec"]["selector"]["matchLabels"]


def test_git_sync_wiring(helm):
    docs = render(helm, "default")
    pod = daemon_workload(docs)["spec"]["template"]["spec"]
    vsr, sync, init = container(pod, "vsr"), container(pod, "git-sync"), container(pod, "git-sync-init")
    assert sync["image"] == init["image"] == "registry.k8s.io/git-sync/git-sync:v4.4.0"
    flags = {a.split("=", 1)[0]: a.split("=", 1)[1] if "=" in a else True for a in sync["args"]}
    assert flags["--repo"] == REPO["gitSync.repo"] and flags["--ref"] == "HEAD"
    assert flags["--depth"] == "1" and flags["--period"] == "60s"
    assert "--one-time" in init["args"] and "--one-time" not in sync["args"]
    # The daemon's spec path is the link inside the volume git-sync writes to: <root>/<link>.
    root, link = flags["--root"], flags["--link"]
    spec_path = vsr["args"][1]
    assert spec_path == f"{root}/{link}"
    vsr_mount = next(m for m in vsr["volumeMounts"] if spec_path.startswith(m["mountPath"] + "/"))
    sync_mount = next(m for m in sync["volumeMounts"] if m["mountPath"] == root)
    assert vsr_mount["name"] == sync_mount["name"] and vsr_mount["mountPath"] == root
    assert vsr_mount.get("readOnly") is True and not sync_mount.get("readOnly")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[sync_mount["name"]]
    # git-sync runs as 65533 with HOME=/tmp (an emptyDir); the pod's fsGroup lets it write the shared volume.
    assert pod["securityContext"]["fsGroup"] == 65533
    assert sync["securityContext"]["runAsUser"] == 65533 and sync["securityContext"]["runAsGroup"] == 65533
    assert {"name": "HOME", "value": "/tmp"} in sync["env"]
    tmp = next(m for m in sync["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp["name"]]
    # a subdirectory of the repository
    args, _ = daemon_args(helm.render({**REPO, "specs.subPath": "clusters/prod/", "gitSync.link": "repo",
                                       "gitSync.root": "/data"}))
    assert args.paths == ["/data/repo/clusters/prod"]


@pytest.mark.parametrize("auth,flags,keys", [
    ("https", ["--password-file=/etc/git-secret/password"], ["password"]),
    ("ssh", ["--ssh-key-file=/etc/git-secret/ssh-privatekey", "--ssh-known-hosts=true",
             "--ssh-known-hosts-file=/etc/git-secret/known_hosts"], ["ssh-privatekey", "known_hosts"]),
])
def test_git_sync_auth_from_an_existing_secret(helm, auth, flags, keys):
    docs = helm.render({**REPO, "gitSync.auth.type": auth, "gitSync.auth.existingSecret": "git-creds"})
    pod = daemon_workload(docs)["spec"]["template"]["spec"]
    for name in ("git-sync", "git-sync-init"):
        c = container(pod, name)
        assert all(f in c["args"] for f in flags), c["args"]
        assert {"name": "git-secret", "mountPath": "/etc/git-secret", "readOnly": True} in c["volumeMounts"]
        env = {e["name"]: e for e in c["env"]}
        if auth == "https":
            assert env["GITSYNC_USERNAME"]["valueFrom"]["secretKeyRef"] == {"name": "git-creds", "key": "username"}
        else:
            assert "GITSYNC_USERNAME" not in env
    volume = next(v for v in pod["volumes"] if v["name"] == "git-secret")
    assert volume["secret"]["secretName"] == "git-creds"
    assert "git-secret" not in {m["name"] for m in container(pod, "vsr")["volumeMounts"]}  # the daemon never sees it


def test_chart_level_vcenter_connection(helm):
    docs = render(helm, "vcenter")
    args, vsr = daemon_args(docs)
    assert args.server == "vcsa.lab.example" and not args.insecure
    assert args.password_file == "/etc/vsr/credentials/password"
    env = {e["name"]: e for e in vsr["env"]}
    assert env["VSR_USERNAME"]["valueFrom"]["secretKeyRef"] == {"name": "vc-lab", "key": "username"}
    assert env["SSL_CERT_FILE"]["value"] == "/etc/vsr/ca/ca.crt"
    mounts = {m["mountPath"]: m["name"] for m in vsr["volumeMounts"]}
    volumes = {v["name"]: v for v in daemon_workload(docs)["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/etc/vsr/credentials"]]["secret"]["secretName"] == "vc-lab"
    assert volumes[mounts["/etc/vsr/ca"]]["configMap"] == {"name": "vc-lab-ca",
                                                          "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    # the PVC is used by the single replica
    pvc = one(docs, "PersistentVolumeClaim")
    assert volumes["journal"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    insecure, _ = daemon_args(helm.render({**SCENARIOS["vcenter"]["values"], "vcenter.insecure": True}))
    assert insecure.insecure


def test_secret_and_configmap_mounts_for_vcenter_documents(helm):
    docs = render(helm, "example-vcenter", "1.30.0")
    pod = daemon_workload(docs)["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in container(pod, "vsr")["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/etc/vsr/secrets/vc-lab"]]["secret"]["secretName"] == "vc-lab"
    assert volumes[mounts["/etc/vsr/configmaps/vc-lab-ca"]]["configMap"]["name"] == "vc-lab-ca"
    # the example VCenter document names exactly these files
    lab = (EXAMPLES / "spec-repo" / "vcenters" / "lab.yaml").read_text()
    for path in ("/etc/vsr/secrets/vc-lab/username", "/etc/vsr/secrets/vc-lab/password",
                 "/etc/vsr/configmaps/vc-lab-ca/ca.crt"):
        assert path in lab


# -- sharding -----------------------------------------------------------------------------------------------------

def test_shards_render_a_statefulset_with_one_pod_per_shard(helm):
    docs = render(helm, "shards")
    sts = daemon_workload(docs)
    assert sts["kind"] == "StatefulSet" and sts["spec"]["replicas"] == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    headless = one(docs, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    args, vsr = daemon_args(docs)
    assert "--shard=$(VSR_SHARD_INDEX)/3" in vsr["args"] and args.shard == (1, 3)
    env = {e["name"]: e for e in vsr["env"]}
    # The ordinal comes from the pod's StatefulSet index label (Kubernetes >= 1.28), expanded by the kubelet.
    assert env["VSR_SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.labels['apps.kubernetes.io/pod-index']"
    # one journal claim per shard
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["journal"]
    assert "journal" not in {v["name"] for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert not find(docs, "PersistentVolumeClaim")
    # the helm test checks every shard through the headless Service
    test_pod = one(docs, "Pod")
    urls = test_pod["spec"]["containers"][0]["args"][1:]
    assert urls == [f"http://vsr-{i}.vsr-headless:8080/readyz" for i in range(3)]
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("values,message", [
    ({"shards": 2, "vcsim.enabled": True}, "needs VCenter documents"),
    ({"shards": 2, "vcenter.server": "vc", "vcenter.existingSecret": "s"}, "needs VCenter documents"),
    ({"shards": 2, "persistence.enabled": True, "persistence.existingClaim": "pvc"}, "existingClaim"),
])
def test_sharding_refuses_combinations_that_cannot_work(helm, values, message):
    proc = helm.template({**REPO, **values})
    assert proc.returncode == 1 and message in proc.stderr


def test_sharding_needs_kubernetes_1_28(helm):
    proc = helm.template({**REPO, "shards": 2}, kube_version="1.27.0")
    assert proc.returncode == 1 and "1.28" in proc.stderr
    assert helm.template(REPO, kube_version="1.27.0").returncode == 0  # one shard works on older clusters


# -- vcsim --------------------------------------------------------------------------------------------------------

def test_vcsim_beside_the_daemon(helm):
    docs = render(helm, "vcsim")
    sim = one(docs, "Deployment", "vsr-vcsim")
    pod = sim["spec"]["template"]["spec"]
    c = container(pod, "vcsim")
    assert c["image"] == "vmware/vcsim:v0.52.0"
    assert "-l=0.0.0.0:8989" in c["args"] and "-api-version=7.0.3.0" in c["args"]
    assert pod["securityContext"]["runAsUser"] == 10001
    # credentials as files from the Secret (never the values on the command line)
    secret = one(docs, "Secret", "vsr-vcsim")
    assert set(secret["data"]) == {"username", "password"}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    cred_dir = mounts["credentials"]
    assert volumes["credentials"]["secret"]["secretName"] == "vsr-vcsim"
    assert f"-username={cred_dir}/username" in c["args"] and f"-password={cred_dir}/password" in c["args"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/about", "port": "https", "scheme": "HTTPS"}
    svc = one(docs, "Service", "vsr-vcsim")
    assert svc["spec"]["ports"][0]["port"] == 443 and svc["spec"]["ports"][0]["targetPort"] == "https"
    assert svc["spec"]["selector"] == sim["spec"]["selector"]["matchLabels"]
    # the daemon connects to that Service with the same Secret; the self-signed certificate cannot be verified
    args, vsr = daemon_args(docs)
    assert args.server == "vsr-vcsim:443" and args.insecure
    env = {e["name"]: e for e in vsr["env"]}
    assert env["VSR_USERNAME"]["valueFrom"]["secretKeyRef"] == {"name": "vsr-vcsim", "key": "username"}
    daemon_pod = daemon_workload(docs)["spec"]["template"]["spec"]
    dmounts = {m["mountPath"]: m["name"] for m in vsr["volumeMounts"]}
    dvolumes = {v["name"]: v for v in daemon_pod["volumes"]}
    assert dvolumes[dmounts[str(Path(args.password_file).parent)]]["secret"]["secretName"] == "vsr-vcsim"


def test_vcsim_image_override_tls_and_existing_secret(helm):
    docs = helm.render({**REPO, "vcsim.enabled": True, "vcsim.image.repository": "ghcr.io/vsr-dev/vsr-sim",
                        "vcsim.image.tag": "0.1.0", "vcsim.extraArgs": ["-drift"], "vcsim.tls.existingSecret": "sim-tls",
                        "vcsim.credentials.existingSecret": "sim-creds", "vcsim.esx": True})
    assert not find(docs, "Secret")
    c = container(one(docs, "Deployment", "vsr-vcsim")["spec"]["template"]["spec"], "vcsim")
    assert c["image"] == "ghcr.io/vsr-dev/vsr-sim:0.1.0"
    assert {"-esx", "-drift", "-tlscert=/etc/vcsim/tls/tls.crt", "-tlskey=/etc/vcsim/tls/tls.key"} <= set(c["args"])
    args, vsr = daemon_args(docs)
    assert not args.insecure  # verified against the Secret's CA
    env = {e["name"]: e for e in vsr["env"]}
    assert env["SSL_CERT_FILE"]["value"] == "/etc/vsr/ca/ca.crt"
    assert env["VSR_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == "sim-creds"


# -- monitoring, PDB, NetworkPolicy -----------------------------------------------------------------------------------

def test_service_monitor_only_when_enabled_and_the_api_exists(helm):
    assert not find(render(helm, "default"), "ServiceMonitor")
    no_api = helm.template({**REPO, "serviceMonitor.enabled": True})
    assert "kind: ServiceMonitor" not in no_api.stdout
    docs = render(helm, "monitoring")
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["endpoints"][0]["port"] == "http" and sm["spec"]["endpoints"][0]["path"] == "/metrics"
    selected = [s for s in find(docs, "Service")
                if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in selected] == ["vsr"]
    # sharded: the headless Service is not scraped a second time
    shard_docs = helm.render({**REPO, "shards": 2, "serviceMonitor.enabled": True}, api_versions=(SERVICE_MONITOR,))
    sm = one(shard_docs, "ServiceMonitor")
    assert [s["metadata"]["name"] for s in find(shard_docs, "Service")
            if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()] == ["vsr"]


def test_pdb_off_by_default(helm):
    assert not find(render(helm, "default"), "PodDisruptionBudget")


def test_network_policies(helm):
    docs = render(helm, "monitoring")
    daemon_np = one(docs, "NetworkPolicy", "vsr")
    assert daemon_np["spec"]["podSelector"]["matchLabels"] == daemon_workload(docs)["spec"]["selector"]["matchLabels"]
    assert daemon_np["spec"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    egress_ports = [p["port"] for rule in daemon_np["spec"]["egress"] for p in rule["ports"]]
    assert 53 in egress_ports and 443 in egress_ports and 22 in egress_ports and 8989 in egress_ports
    sim_np = one(docs, "NetworkPolicy", "vsr-vcsim")
    assert sim_np["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == \
        daemon_np["spec"]["podSelector"]["matchLabels"]


# -- helm test and NOTES -----------------------------------------------------------------------------------------------

def test_helm_test_pod_checks_readyz(helm):
    docs = render(helm, "default")
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    c = pod["spec"]["containers"][0]
    assert c["command"] == ["python", "-c"] and "urlopen" in c["args"][0]
    assert c["args"][1:] == ["http://vsr:8080/readyz"]
    assert c["image"] == container(daemon_workload(docs)["spec"]["template"]["spec"], "vsr")["image"]
    compile(c["args"][0], "readyz-check", "exec")  # the inline script is valid Python
    assert not find(helm.render({**REPO, "tests.enabled": False}), "Pod")


def test_notes_render(helm, tmp_path):
    # `helm install --dry-run` needs a cluster: render NOTES.txt as a YAML block of a throwaway template instead.
    import shutil

    import yaml
    chart = tmp_path / "vsr"
    shutil.copytree(ROOT / "charts" / "vsr", chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "notes-check.yaml").write_text(
        "notes: |\n" + "".join(f"  {line}\n" for line in notes.splitlines()))
    proc = helm.run("template", "vsr", str(chart), "--namespace", "x", "--show-only", "templates/notes-check.yaml",
                    *helm.value_args({**REPO, "vcsim.enabled": True}))
    assert proc.returncode == 0, proc.stderr
    text = yaml.safe_load(proc.stdout)["notes"]
    assert "Unsupported" in text and "port-forward svc/vsr" in text and "helm test vsr" in text
    assert "vsr-vcsim" in text and "{{" not in text


# -- the values schema ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values,field", [
    ({"shards": 0}, "shards"),
    ({"shards": "two"}, "shards"),
    ({"bogus": 1}, "bogus"),
    ({"gitSync.perod": "10s"}, "perod"),
    ({"gitSync.period": "often"}, "gitSync.period"),
    ({"gitSync.auth.type": "token"}, "gitSync.auth.type"),
    ({"vcsim.apiVersion": "latest"}, "vcsim.apiVersion"),
    ({"vcsim.enabled": "yes"}, "vcsim.enabled"),
    ({"vcenter.server": "https://vcsa.lab.example/sdk"}, "vcenter.server"),
    ({"daemon.logFormat": "xml"}, "daemon.logFormat"),
    ({"daemon.concurrency": 0}, "daemon.concurrency"),
    ({"persistence.size": "lots"}, "persistence.size"),
    ({"image.digest": "md5:abc"}, "image.digest"),
    ({"vcenter.secretMounts": ["Not_A_Name"]}, "vcenter.secretMounts"),
    ({"specs.extraPaths": ["relative/path"]}, "specs.extraPaths"),
])
def test_schema_rejects_bad_values(helm, values, field):
    proc = helm.template({**REPO, **values})
    assert proc.returncode == 1, proc.stderr
    assert "schema" in proc.stderr and field.split(".")[-1] in proc.stderr, proc.stderr


@pytest.mark.parametrize("values,message", [
    ({}, "gitSync.repo is required"),
    ({**REPO, "gitSync.auth.type": "ssh"}, "needs gitSync.auth.existingSecret"),
    ({**REPO, "vcenter.server": "vcsa.lab.example"}, "needs vcenter.existingSecret"),
    ({**REPO, "vcenter.ca.secretName": "a", "vcenter.ca.configMapName": "b"}, "not both"),
])
def test_template_guards_explain_missing_values(helm, values, message):
    proc = helm.template(values)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr


def test_schema_is_self_contained():
    text = (ROOT / "charts" / "vsr" / "values.schema.json").read_text()
    assert '"$ref"' not in text  # no remote (or local) references: helm validates offline


def test_values_yaml_documents_every_top_level_key():
    import json

    import yaml
    values = yaml.safe_load((ROOT / "charts" / "vsr" / "values.yaml").read_text())
    schema = json.loads((ROOT / "charts" / "vsr" / "values.schema.json").read_text())
    assert set(values) <= set(schema["properties"])


def test_chart_commands_in_docs_parse():
    # docs/deploy.md's `helm install` lines name values files that exist
    for line in (ROOT / "docs" / "deploy.md").read_text().splitlines():
        if line.strip().startswith("helm install"):
            words = shlex.split(line.strip().split("#")[0])
            for i, w in enumerate(words):
                if w == "-f":
                    assert (ROOT / words[i + 1]).is_file(), words[i + 1]
