"""The Kubernetes manifests: valid, consistent with each other and with the image, and runnable.

Core resources are validated against Kubernetes' own OpenAPI schemas (kubernetes-validate ships
them), strictly, for the oldest version the manifests support (1.28: the pod-index label) and
the newest it knows. The Prometheus Operator's resources have no schema offline: they are
checked field by field, and the rules they carry by promtool. The containers' arguments are
run, as the kubelet would expand them, against the ConfigMap's config and the Secret's files.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

import exporter
from tests.deploy.image import IMAGE_CONFIG_DIR, IMAGE_SECRETS_DIR, PORT, Image, final_stage
from tests.helpers.paths import ROOT

KUBERNETES = ROOT / "deploy" / "kubernetes"
APPLIED = sorted(KUBERNETES.glob("*.yaml"))  # what `kubectl apply -f deploy/kubernetes/` applies
SHARDED = KUBERNETES / "sharded" / "statefulset.yaml"
SECRET = KUBERNETES / "examples" / "secret.yaml"
CORE = [
    p
    for p in [*APPLIED, SHARDED, SECRET]
    if p.name not in {"servicemonitor.yaml", "prometheusrule.yaml"}
]
VERSIONS = ["1.28.0", kubernetes_validate.latest_version() + ".0"]
NAME = "oceanbase-backup-exporter"
SECRETS_MOUNT = f"{IMAGE_SECRETS_DIR}/{NAME}"
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
# The sizing figures of docs/deployment.md ("Sizing"): CPU seconds per upstream request,
# requests per obshell poll, and RSS as a line through 65 MB at 10 targets and 85 MB at 100.
CPU_PER_REQUEST, REQUESTS_PER_POLL, INTERVAL = 0.0006, 45, 60.0
MB_BASE, MB_PER_TARGET = 65 - 10 * (20 / 90), 20 / 90
SIZED_FOR = {"Deployment": 100, "StatefulSet": math.ceil(1000 / 3)}  # targets (per pod)
# Prometheus Operator's duration pattern for `for`, `interval` and `scrapeTimeout`.
DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def workloads() -> list[dict[str, Any]]:
    return [load(KUBERNETES / "deployment.yaml"), load(SHARDED)]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kubernetes_generate", KUBERNETES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration))


# ------------------------------------------------------------------------------------ validity


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", CORE, ids=lambda p: p.relative_to(KUBERNETES).as_posix())
def test_core_manifest_is_valid_for_kubernetes(path: Path, version: str) -> None:
    kubernetes_validate.validate(load(path), version, strict=True)


def test_kubectl_apply_of_the_directory_takes_one_of_each() -> None:
    kinds = sorted(load(p)["kind"] for p in APPLIED)
    assert kinds == ["ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceMonitor"]
    for path in [*APPLIED, SHARDED, SECRET]:
        metadata = load(path)["metadata"]
        assert metadata["name"] == NAME and metadata["labels"] == {"app.kubernetes.io/name": NAME}
        assert "namespace" not in metadata  # kubectl -n picks it


def test_servicemonitor_scrapes_the_service_port() -> None:
    monitor = load(KUBERNETES / "servicemonitor.yaml")
    service = load(KUBERNETES / "service.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) == {"selector", "endpoints"}
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout"}
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert DURATION.match(endpoint["interval"]) and DURATION.match(endpoint["scrapeTimeout"])
    assert seconds(endpoint["scrapeTimeout"]) <= seconds(endpoint["interval"])


def test_prometheusrule_is_generated_from_the_rule_files() -> None:
    committed = (KUBERNETES / "prometheusrule.yaml").read_text()
    assert committed == generator().render(), "run: python3 deploy/kubernetes/generate.py"
    groups = load(KUBERNETES / "prometheusrule.yaml")["spec"]["groups"]
    sources = [
        yaml.safe_load((ROOT / "prometheus" / name).read_text())["groups"]
        for name in ("recording.yml", "alerts.yml")
    ]
    assert groups == sources[0] + sources[1]


def test_prometheusrule_has_the_shape_the_operator_accepts() -> None:
    rule = load(KUBERNETES / "prometheusrule.yaml")
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert set(rule["spec"]) == {"groups"}
    names = [group["name"] for group in rule["spec"]["groups"]]
    assert len(names) == len(set(names))
    for group in rule["spec"]["groups"]:
        assert set(group) <= {
            "name",
            "interval",
            "rules",
            "limit",
            "partial_response_strategy",
            "query_offset",
        }
        for item in group["rules"]:
            assert set(item) <= {
                "alert",
                "record",
                "expr",
                "for",
                "keep_firing_for",
                "labels",
                "annotations",
            }
            assert ("alert" in item) != ("record" in item) and item["expr"]
            assert DURATION.match(item.get("for", "0")), item
            assert all(
                isinstance(v, str)
                for v in {**item.get("labels", {}), **item.get("annotations", {})}.values()
            )


def test_prometheusrule_rules_pass_promtool(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(load(KUBERNETES / "prometheusrule.yaml")["spec"]))
    result = subprocess.run(
        ["promtool", "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["kind"])
def test_workload_selects_its_pods_and_the_service_finds_them(workload: dict[str, Any]) -> None:
    service = load(KUBERNETES / "service.yaml")
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert workload["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (service_port,) = service["spec"]["ports"]
    (container_port,) = container(workload)["ports"]
    assert service_port["targetPort"] == container_port["name"] == service_port["name"]
    assert service_port["port"] == container_port["containerPort"] == PORT


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["kind"])
def test_probes_ask_the_health_and_ready_endpoints(workload: dict[str, Any]) -> None:
    spec = container(workload)
    port = spec["ports"][0]["name"]
    assert spec["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": port}
    assert spec["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": port}


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["kind"])
def test_pod_runs_the_image_as_its_user_with_config_and_secrets_mounted(
    workload: dict[str, Any],
) -> None:
    pod = workload["spec"]["template"]["spec"]
    spec = container(workload)
    assert spec["image"] == f"{NAME}:{exporter.__version__}"
    uid, gid = final_stage().last("USER").rest.split(":")
    context = pod["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"], context["runAsNonRoot"]) == (
        int(uid),
        int(gid),
        True,
    )
    assert spec["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["automountServiceAccountToken"] is False
    mounts = {m["name"]: (m["mountPath"], m["readOnly"]) for m in spec["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts == {"config": (IMAGE_CONFIG_DIR, True), "secrets": (SECRETS_MOUNT, True)}
    assert (
        volumes["config"]["configMap"]["name"]
        == load(KUBERNETES / "configmap.yaml")["metadata"]["name"]
    )
    assert volumes["secrets"]["secret"]["secretName"] == load(SECRET)["metadata"]["name"]
    # The image's CMD is what `args` replaces: the first argument keeps the config path.
    assert spec["args"][0] == final_stage().last("CMD").exec_form()[0]


def test_statefulset_takes_its_shard_from_the_pod_index() -> None:
    statefulset = load(SHARDED)
    assert (
        statefulset["spec"]["serviceName"] == load(KUBERNETES / "service.yaml")["metadata"]["name"]
    )
    assert load(KUBERNETES / "service.yaml")["spec"]["clusterIP"] == "None"  # governing: headless
    spec = container(statefulset)
    env = {e["name"]: e for e in spec["env"]}
    assert env["SHARD_INDEX"]["valueFrom"] == {"fieldRef": {"fieldPath": POD_INDEX}}
    assert env["SHARD_COUNT"]["value"] == str(statefulset["spec"]["replicas"])
    assert "--shard=$(SHARD_INDEX)/$(SHARD_COUNT)" in spec["args"]


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["kind"])
def test_resources_follow_the_sizing_formula(workload: dict[str, Any]) -> None:
    resources = container(workload)["resources"]
    targets = SIZED_FOR[workload["kind"]]
    cpu = targets * REQUESTS_PER_POLL * CPU_PER_REQUEST / INTERVAL
    memory = (MB_BASE + MB_PER_TARGET * targets) * 1e6 / 2**20  # MiB
    requested_cpu = int(resources["requests"]["cpu"].removesuffix("m")) / 1000
    requested_memory = int(resources["requests"]["memory"].removesuffix("Mi"))
    assert cpu <= requested_cpu <= 1.5 * cpu
    assert memory <= requested_memory <= 1.5 * memory
    assert int(resources["limits"]["memory"].removesuffix("Mi")) >= 2 * requested_memory
    assert "cpu" not in resources["limits"]  # throttled polls come late


# ---------------------------------------------------------------------------------- runnable


def downward(variable: dict[str, Any], index: int) -> str:
    """An env variable's value in the pod of ordinal `index`."""
    if "value" in variable:
        return str(variable["value"])
    assert variable["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX
    return str(index)


def expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's $(VAR) expansion in args."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), text)


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["kind"])
def test_container_args_accept_the_configmap_and_the_secret(
    workload: dict[str, Any], venv: Path, tmp_path: Path
) -> None:
    image = Image(venv, tmp_path)
    for key, text in load(KUBERNETES / "configmap.yaml")["data"].items():
        (image.config_dir / key).write_text(image.path(text))
    secrets = Path(image.path(SECRETS_MOUNT))
    secrets.mkdir(parents=True)
    for key, text in load(SECRET)["stringData"].items():
        (secrets / key).write_text(text)
    spec = container(workload)
    replicas = workload["spec"]["replicas"]
    for index in range(replicas):
        env = {e["name"]: downward(e, index) for e in spec.get("env", [])}
        args = [expand(arg, env) for arg in spec["args"]]
        result = image.run(image.command(*args, "--config.check"))
        assert result.returncode == 0, (args, result.stderr)
        assert "OK, 2 targets" in result.stdout
