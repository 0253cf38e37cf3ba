"""The Kubernetes manifests, offline: every rendered resource validates against the 1.31 API
schemas (kubernetes-validate, strict), and the manifests agree with the code they deploy.

* Every process has its Deployment, Service, ServiceAccount, Secret, HPA, PDB and NetworkPolicy,
  hardened (non-root, read-only root, no capabilities, RuntimeDefault seccomp) with probes and
  resources.
* Environment: every variable ``ops/stack.py`` gives a process is set, every variable set is one
  the process reads, and the settings classes accept the result.
* NetworkPolicies: evaluated connection by connection (tests/deploy/netpol.py), ingress to each
  gRPC port is exactly the callers in ``services/<svc>/access.py``, egress exactly ``PEERS`` in
  ``ops/stack.py``, the database and Redis only for the processes configured with them, and the
  internet only for provider.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from ops.pki import IssuedFiles
from ops.stack import PEERS, PROCESSES
from services.common.client import service_config
from services.common.settings import DEFAULT_GRPC_PORTS
from services.provider.standin.app import base_urls
from tests.deploy import cluster, envcheck
from tests.deploy.cluster import (
    CTL_WORKLOAD,
    NAME_LABEL,
    OVERLAYS,
    callers,
    container,
    find,
    network_policies,
    of_kind,
    rendered,
    tool_resources,
    world,
)
from tests.deploy.kustomize import Resource, Unsupported, pod_spec, render, split_image
from tests.deploy.netpol import Endpoint, connection_allowed, egress_allowed, ingress_allowed

KUBERNETES_VERSION = "1.31.0"
RUN_AS_USER = 10001
HEALTH_PORT = 8081
METRICS_PORT = 9464
DEV_NAMESPACE = "tokenmart-dev"
DEV_TAG = "dev"
TLS_MOUNT = "/etc/tokenmart/tls"
REPO_ROOT = Path(__file__).resolve().parents[2]
ALL_OVERLAYS = tuple(OVERLAYS)


def _all_resources() -> Iterator[tuple[str, Resource]]:
    for overlay in ALL_OVERLAYS:
        for resource in rendered(overlay):
            yield overlay, resource
    for resource in tool_resources():
        yield "tools", resource


@pytest.mark.parametrize(
    ("origin", "resource"),
    list(_all_resources()),
    ids=[f"{o}/{r['kind']}/{r['metadata']['name']}" for o, r in _all_resources()],
)
def test_every_resource_validates_against_the_api_schema(origin: str, resource: Resource) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
def test_renderer_agrees_with_kubectl_kustomize(overlay: str) -> None:
    """Our renderer is what the tests validate; kubectl's is what gets applied."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the renderer is checked against it where it is")
    output = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS[overlay])],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout

    def key(resource: Resource) -> str:
        meta = resource["metadata"]
        return f"{resource['kind']}/{meta.get('namespace')}/{meta['name']}"

    theirs = {key(r): r for r in yaml.safe_load_all(output) if r}
    ours = {key(r): r for r in rendered(overlay)}
    assert sorted(ours) == sorted(theirs)
    for name, resource in ours.items():
        assert json.loads(json.dumps(resource)) == theirs[name], name


def test_the_renderer_refuses_what_it_cannot_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(Unsupported):
        render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\npatches:\n  - target: {kind: Deployment}\n    patch: 'spec: {}'\n"
    )
    with pytest.raises(Unsupported):
        render(tmp_path)


# --- the workloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_has_its_objects(overlay: str, process: str) -> None:
    resources = rendered(overlay)
    deployment = find(resources, "Deployment", process)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels[NAME_LABEL] == process
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"

    account = find(resources, "ServiceAccount", process)
    assert account["automountServiceAccountToken"] is False
    spec = pod_spec(deployment)
    assert spec is not None
    assert spec["serviceAccountName"] == process
    assert spec["automountServiceAccountToken"] is False

    service = find(resources, "Service", process)
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {port["name"]: port for port in container(deployment)["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports, f"{process}: Service targets a port the pod lacks"
        assert port["port"] == ports[port["targetPort"]]["containerPort"]
    main_port = "http" if process == "gateway" else "grpc"
    assert main_port in {port["name"] for port in service["spec"]["ports"]}
    if process != "gateway":
        assert ports["grpc"]["containerPort"] == DEFAULT_GRPC_PORTS[process]

    hpa = find(resources, "HorizontalPodAutoscaler", process)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": process,
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    if overlay == "base":
        assert hpa["spec"]["minReplicas"] >= 2, "production keeps two replicas up"

    pdb = find(resources, "PodDisruptionBudget", process)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"].get("maxUnavailable") == 1

    find(resources, "Secret", f"{process}-secrets")
    find(resources, "NetworkPolicy", process)


def _pod_workloads() -> list[tuple[str, Resource]]:
    cases = [
        (overlay, resource)
        for overlay in ALL_OVERLAYS
        for resource in rendered(overlay)
        if pod_spec(resource) is not None
    ]
    cases += [("tools", r) for r in tool_resources() if pod_spec(r) is not None]
    return cases


@pytest.mark.parametrize(
    ("origin", "workload"),
    _pod_workloads(),
    ids=[f"{o}/{r['kind']}/{r['metadata']['name']}" for o, r in _pod_workloads()],
)
def test_every_pod_is_hardened(origin: str, workload: Resource, repo_root: Path) -> None:
    spec = pod_spec(workload)
    assert spec is not None
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == RUN_AS_USER == _dockerfile_user(repo_root)
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec.get("automountServiceAccountToken") is False
    assert spec.get("enableServiceLinks") is False
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(forbidden)
    assert not any("hostPath" in volume for volume in spec.get("volumes", []))
    item = container(workload)
    security = item["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security.get("privileged", False) is False
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # A read-only root still needs a scratch /tmp (Python's tempfile, libraries' caches).
    tmp = [mount for mount in item["volumeMounts"] if mount["mountPath"] == "/tmp"]
    assert len(tmp) == 1
    volume = next(v for v in spec["volumes"] if v["name"] == tmp[0]["name"])
    assert "emptyDir" in volume and volume["emptyDir"].get("sizeLimit")
    for bound in ("requests", "limits"):
        assert set(item["resources"][bound]) >= {"cpu", "memory"}, bound
    image, tag, digest = split_image(item["image"])
    assert image.startswith("tokenmart/")
    if origin != "base":
        assert (tag and tag != "latest") or digest, f"{item['image']}: pin a tag or digest"


def _dockerfile_user(repo_root: Path) -> int:
    users = [
        line.split()[1]
        for line in (repo_root / "deploy" / "Dockerfile").read_text().splitlines()
        if line.startswith("USER ")
    ]
    assert len(users) == 1
    return int(users[0].split(":")[0])


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
@pytest.mark.parametrize("process", PROCESSES)
def test_probes_and_metrics(overlay: str, process: str, repo_root: Path) -> None:
    deployment = find(rendered(overlay), "Deployment", process)
    item = container(deployment)
    env = {entry["name"]: entry.get("value") for entry in item["env"]}
    ports = {port["name"]: port["containerPort"] for port in item["ports"]}
    prefix = f"TOKENMART_{process.upper()}_"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probe in item, f"{process}: {probe} missing"
    if process == "gateway":
        # /healthz is 200 only while every backend is SERVING: readiness, not liveness, so a
        # backend outage takes gateways out of rotation without restarting them.
        assert item["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert item["livenessProbe"]["httpGet"]["path"] != "/healthz"
        app = (repo_root / "services" / "gateway" / "app.py").read_text()
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            path = item[probe]["httpGet"]["path"]
            assert f'"{path}"' in app, f"the gateway serves no {path}"
        assert env[f"{prefix}PORT"] == str(ports["http"])
    else:
        health = env[f"{prefix}HEALTH_LISTEN"]
        assert health == f"0.0.0.0:{HEALTH_PORT}"
        assert ports["health"] == HEALTH_PORT != ports["grpc"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert item[probe]["grpc"] == {"port": HEALTH_PORT}, f"{process} {probe}"
        assert env[f"{prefix}GRPC_LISTEN"] == f"0.0.0.0:{ports['grpc']}"
    assert env[envcheck.METRICS[process]] == f"0.0.0.0:{METRICS_PORT}"
    assert ports["metrics"] == METRICS_PORT
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": "/metrics",
    }


def test_dev_overlay() -> None:
    resources = rendered("dev")
    namespace = find(resources, "Namespace", DEV_NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == DEV_NAMESPACE, resource["metadata"]
    for hpa in of_kind(resources, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] == hpa["spec"]["maxReplicas"] == 1
    for resource in resources:
        spec = pod_spec(resource)
        if spec is not None:
            assert split_image(container(resource)["image"])[1] == DEV_TAG
    # Provider calls the stand-in, at the URLs make run would give it.
    standin = find(resources, "Service", "standin")
    origin = f"http://standin:{standin['spec']['ports'][0]['port']}"
    env = {
        e["name"]: e.get("value")
        for e in container(find(resources, "Deployment", "provider"))["env"]
    }
    for upstream, url in base_urls(origin).items():
        assert env[f"TOKENMART_PROVIDER_{upstream.upper()}_BASE_URL"] == url


def secret_keys(secret: Resource) -> tuple[set[str], set[str]]:
    """(required, optional) keys a Secret declares in its annotations."""
    annotations = secret["metadata"]["annotations"]
    required = set(annotations["secrets.tokenmart.dev/keys"].split())
    optional = set(annotations.get("secrets.tokenmart.dev/optional-keys", "").split())
    return required, optional


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
def test_secrets_declare_their_keys_and_carry_no_values(overlay: str) -> None:
    """Values come from the secret store; an apply of these manifests must never overwrite
    them (kubectl apply leaves alone fields it did not write), so the Secrets hold no data."""
    secrets = of_kind(rendered(overlay), "Secret")
    assert {s["metadata"]["name"] for s in secrets} == {
        *(f"{name}-secrets" for name in PROCESSES),
        "migrate-secrets",
    }
    for secret in secrets:
        assert "data" not in secret and "stringData" not in secret, secret["metadata"]["name"]
        required, optional = secret_keys(secret)
        assert required and not required & optional


# --- environment -----------------------------------------------------------------------------


def _environment(
    overlay: str,
    process: str,
    pki: dict[str, IssuedFiles],
    values: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The container's environment with secrets resolved (to ``values``, the Secret's data,
    else dummy values) and TLS paths mapped onto files of a real PKI; and the problems found
    resolving it."""
    resources = rendered(overlay)
    deployment = find(resources, "Deployment", process)
    spec = pod_spec(deployment)
    assert spec is not None
    item = container(deployment)
    secret_name = f"{process}-secrets"
    required_keys, optional_keys = secret_keys(find(resources, "Secret", secret_name))
    keys = required_keys | optional_keys
    problems: list[str] = []
    environ: dict[str, str] = {}
    used_keys: set[str] = set()
    for entry in item["env"]:
        name = entry["name"]
        if name in environ:
            problems.append(f"{name} is set twice")
        if "value" in entry:
            environ[name] = entry["value"]
            continue
        reference = entry["valueFrom"]["secretKeyRef"]
        if reference["name"] != secret_name:
            problems.append(f"{name} comes from {reference['name']}, not {secret_name}")
        if reference["key"] not in keys:
            problems.append(f"{name}: key {reference['key']} is not in {secret_name}")
        if reference.get("optional", False) != (reference["key"] in optional_keys):
            problems.append(f"{name}: optional must be set exactly for the optional keys")
        used_keys.add(reference["key"])
        source = envcheck.DUMMY_SECRETS if values is None else values
        if reference["key"] in source:
            environ[name] = source[reference["key"]]
        elif not reference.get("optional"):
            problems.append(f"{name}: {secret_name} has no {reference['key']}")
    # TLS files: the paths must be files of the mounted tls volume, from this process's Secret.
    volume = next(v for v in spec["volumes"] if v["name"] == "tls")
    assert volume["secret"]["secretName"] == secret_name
    mounted = {f"{TLS_MOUNT}/{i['path']}": i["key"] for i in volume["secret"]["items"]}
    used_keys.update(mounted.values())
    assert {m["mountPath"] for m in item["volumeMounts"] if m["name"] == "tls"} == {TLS_MOUNT}
    files = pki[process]
    by_key = {"ca.pem": files.ca_file, "cert.pem": files.cert_file, "key.pem": files.key_file}
    for suffix in ("TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"):
        name = f"TOKENMART_{process.upper()}_{suffix}"
        path = environ.get(name, "")
        if path not in mounted:
            problems.append(f"{name}={path} is not a file of the mounted tls volume")
            continue
        environ[name] = str(by_key[mounted[path]])
    unused = keys - used_keys
    if unused:
        problems.append(f"{secret_name} holds keys no one uses: {sorted(unused)}")
    return environ, problems


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
@pytest.mark.parametrize("process", PROCESSES)
def test_environment_matches_what_the_process_reads(
    overlay: str, process: str, pki: dict[str, IssuedFiles]
) -> None:
    environ, problems = _environment(overlay, process, pki)
    assert problems == []
    required = envcheck.required_variables(process, standin=overlay == "dev")
    assert required <= set(environ), f"missing: {sorted(required - set(environ))}"
    foreign = [n for n in environ if not n.startswith(f"TOKENMART_{process.upper()}_")]
    assert foreign == [], "a process gets only its own TOKENMART_<SVC>_* variables"
    read = envcheck.parse(process, environ)
    assert envcheck.unread(process, environ, read) == set()


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
@pytest.mark.parametrize("process", PROCESSES)
def test_peer_targets_name_the_peer_services(overlay: str, process: str) -> None:
    resources = rendered(overlay)
    env = {
        e["name"]: e.get("value") for e in container(find(resources, "Deployment", process))["env"]
    }
    targets = {name for name in env if name.endswith("_TARGET")}
    assert targets == {
        f"TOKENMART_{process.upper()}_{peer.upper()}_TARGET" for peer in PEERS[process]
    }
    for peer in PEERS[process]:
        service = find(resources, "Service", peer)
        grpc_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert env[f"TOKENMART_{process.upper()}_{peer.upper()}_TARGET"] == f"{peer}:{grpc_port}"


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
@pytest.mark.parametrize("service", ["auth", "wallet", "provider", "review"])
def test_grpc_services_are_headless_so_callers_balance_over_pods(
    overlay: str, service: str
) -> None:
    # A ClusterIP would pin every caller's long-lived HTTP/2 connection to one pod; headless,
    # the name resolves to every ready pod and the channels balance round-robin over them.
    spec = find(rendered(overlay), "Service", service)["spec"]
    assert spec.get("clusterIP") == "None"
    config = json.loads(service_config(f"tokenmart.{service}.v1.X", ()))
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]


def test_the_gateway_service_keeps_a_virtual_ip() -> None:
    for overlay in ALL_OVERLAYS:
        assert find(rendered(overlay), "Service", "gateway")["spec"].get("clusterIP") != "None"


@pytest.fixture(scope="module")
def generated_secrets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The dev Secrets ``deploy/dev_secrets.py --kubernetes`` writes: name → data."""
    directory = tmp_path_factory.mktemp("k8s") / "secrets"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "deploy" / "dev_secrets.py"),
            str(directory),
            "--kubernetes",
            "--database-host",
            "postgresql.databases:5432",
            "--redis-url",
            "redis://redis-master.databases:6379/0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    secrets = {}
    for path in sorted((directory / "kubernetes").glob("*.yaml")):
        (secret,) = yaml.safe_load_all(path.read_text())
        kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
        secrets[secret["metadata"]["name"]] = secret["stringData"]
    return secrets


def test_generated_dev_secrets_fill_exactly_the_declared_keys(
    generated_secrets: dict[str, dict[str, str]],
) -> None:
    declared = {s["metadata"]["name"]: secret_keys(s) for s in of_kind(rendered("dev"), "Secret")}
    assert set(generated_secrets) == set(declared)
    for name, data in generated_secrets.items():
        required, optional = declared[name]
        assert required <= set(data) <= required | optional, name


@pytest.mark.parametrize("process", PROCESSES)
def test_the_dev_overlay_starts_with_the_generated_secrets(
    process: str, generated_secrets: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    data = generated_secrets[f"{process}-secrets"]
    files = {}
    for key in ("ca.pem", "cert.pem", "key.pem"):
        files[key] = tmp_path / key
        files[key].write_text(data[key])
    issued = IssuedFiles(files["ca.pem"], files["cert.pem"], files["key.pem"])
    environ, problems = _environment("dev", process, {process: issued}, values=data)
    assert problems == []
    envcheck.parse(process, environ)


def test_migrate_job_carries_everything_ops_migrate_reads(repo_root: Path) -> None:
    from ops.__main__ import migrate_settings
    from ops.database import DOMAIN_SERVICES

    for overlay in ALL_OVERLAYS:
        resources = rendered(overlay)
        job = find(resources, "Job", "migrate")
        keys, optional = secret_keys(find(resources, "Secret", "migrate-secrets"))
        assert optional == set()
        environ: dict[str, str] = {}
        for entry in container(job)["env"]:
            if "value" in entry:
                environ[entry["name"]] = entry["value"]
            else:
                reference = entry["valueFrom"]["secretKeyRef"]
                assert reference["name"] == "migrate-secrets"
                assert reference["key"] in keys
                environ[entry["name"]] = (
                    "postgresql://postgres:pw@postgresql:5432/tokenmart"
                    if reference["key"] == "database-url"
                    else "p" * 24
                )
        recording = envcheck.RecordingEnviron(environ)
        _, prefix, passwords = migrate_settings(recording)
        assert set(environ) <= recording.read, "the Job sets variables ops migrate ignores"
        assert set(passwords) == {
            f"{prefix}_{s}{suffix}" for s in DOMAIN_SERVICES for suffix in ("", "_owner")
        }
        assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
        assert job["spec"]["backoffLimit"] >= 1
        assert container(job).get("command") is None, "the image's entrypoint runs ops migrate"


def test_the_operator_pod_reaches_the_services_that_admit_ctl() -> None:
    pod = find(tool_resources(), "Pod", CTL_WORKLOAD)
    env = {e["name"]: e["value"] for e in container(pod)["env"]}
    expected_targets = {
        f"TOKENMART_CTL_{service.upper()}_TARGET": f"{service}:{DEFAULT_GRPC_PORTS[service]}"
        for service in cluster.ACCESS
        if CTL_WORKLOAD in callers(service)
    }
    assert {k: v for k, v in env.items() if k.endswith("_TARGET")} == expected_targets
    assert {k for k in env if "_TLS_" in k} == {
        f"TOKENMART_CTL_TLS_{part}_FILE" for part in ("CA", "CERT", "KEY")
    }


# --- NetworkPolicies -------------------------------------------------------------------------


def _grpc_port(endpoint: Endpoint) -> int:
    return endpoint.ports["grpc"][0]


def ingress_problems(overlay: str) -> list[str]:
    """Each gRPC port admits exactly its allowlist's callers; nothing else is reachable."""
    policies = network_policies(overlay)
    places = world(overlay)
    problems = []
    sources = [*places.workloads.values(), *places.others.values()]
    for service in cluster.ACCESS:
        target = places[service]
        expected = callers(service)
        for source in sources:
            for port_name, (port, protocol) in target.ports.items():
                allowed = ingress_allowed(
                    policies, destination=target, source=source, port=port, protocol=protocol
                )
                if port_name == "grpc":
                    should = source.name in expected and source.namespace == target.namespace
                elif port_name == "metrics":
                    should = source.name == "prometheus"
                else:  # the health port is for the kubelet, which policies never block
                    should = False
                if allowed != should:
                    problems.append(
                        f"{source.name} -> {service}:{port_name} is "
                        f"{'allowed' if allowed else 'denied'}"
                    )
    return problems


def egress_problems(overlay: str) -> list[str]:
    """Each workload reaches exactly the peers it calls, and the stores it is configured for."""
    policies = network_policies(overlay)
    places = world(overlay)
    problems = []
    for name, source in places.workloads.items():
        if name in PEERS:
            calls = set(PEERS[name])
            required = envcheck.required_variables(name, standin=overlay == "dev")
            database = any(v.endswith("_DATABASE_URL") for v in required)
            redis = any(v.endswith("_REDIS_URL") for v in required)
        elif name == CTL_WORKLOAD:
            calls = {s for s in cluster.ACCESS if CTL_WORKLOAD in callers(s)}
            database = redis = False
        else:  # migrate and the stand-in call no service
            calls = set()
            database, redis = name == "migrate", False
        expectations: list[tuple[str, int, str, bool]] = [
            (service, _grpc_port(places[service]), "TCP", service in calls)
            for service in cluster.ACCESS
        ]
        expectations += [
            ("postgresql", 5432, "TCP", database),
            ("redis", 6379, "TCP", redis),
            ("kube-dns", 53, "UDP", True),
            ("kube-dns", 53, "TCP", True),
            ("internet", 443, "TCP", name == "provider"),
            ("internet-v6", 443, "TCP", name == "provider"),
            ("internet", 80, "TCP", False),
            ("cloud-metadata", 80, "TCP", False),
            ("cloud-metadata", 443, "TCP", False),
            ("private-host", 443, "TCP", False),
            ("gateway", 8080, "TCP", False),
        ]
        for destination, port, protocol, should in expectations:
            allowed = egress_allowed(
                policies,
                source=source,
                destination=places[destination],
                port=port,
                protocol=protocol,
            )
            if allowed != should:
                problems.append(
                    f"{name} -> {destination}:{port}/{protocol} is "
                    f"{'allowed' if allowed else 'denied'}"
                )
    return problems


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
def test_grpc_ingress_is_exactly_the_allowlisted_callers(overlay: str) -> None:
    assert ingress_problems(overlay) == []


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
def test_egress_is_exactly_the_peers_each_process_calls(overlay: str) -> None:
    assert egress_problems(overlay) == []


@pytest.mark.parametrize("overlay", ALL_OVERLAYS)
def test_only_the_gateway_takes_traffic_from_outside(overlay: str) -> None:
    policies = network_policies(overlay)
    places = world(overlay)
    outsiders = ["ingress-controller", "impostor-gateway", "internet", "stranger"]
    for name, target in places.workloads.items():
        for outsider in outsiders:
            for port, protocol in target.ports.values():
                allowed = ingress_allowed(
                    policies,
                    destination=target,
                    source=places[outsider],
                    port=port,
                    protocol=protocol,
                )
                should = name == "gateway" and target.ports.get("http") == (port, protocol)
                assert allowed == should, f"{outsider} -> {name}:{port}"


def test_dev_overlay_lets_only_provider_reach_the_stand_in() -> None:
    policies = network_policies("dev")
    places = world("dev")
    standin = places["standin"]
    port, protocol = standin.ports["http"]
    for name, source in places.workloads.items():
        allowed = connection_allowed(
            policies, source=source, destination=standin, port=port, protocol=protocol
        )
        assert allowed == (name == "provider"), name
    assert not egress_allowed(
        policies, source=standin, destination=places["internet"], port=443, protocol="TCP"
    )


def test_a_new_caller_without_a_policy_change_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The policy checks read the allowlists: granting review a provider method (or provider a
    review one) without opening the NetworkPolicy is reported."""
    monkeypatch.setitem(
        cluster.ACCESS["review"].CALLERS, "ListBounties", ("gateway", "ctl", "provider")
    )
    assert "provider -> review:grpc is denied" in ingress_problems("dev")
    monkeypatch.setitem(PEERS, "provider", ("auth", "wallet", "review"))
    assert any(p.startswith("provider -> review:") for p in egress_problems("dev"))
