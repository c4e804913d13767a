"""deploy/k8s validates offline, and its pieces fit each other and the application.

Core objects (Deployment, Service, Job, ...) are validated with the Kubernetes JSON schemas
bundled in kubernetes-validate, in strict mode (unknown fields are errors), for the oldest and
newest Kubernetes minor versions this project supports. KEDA's objects have no bundled schema:
they are checked against a subset of KEDA v2's CRD schema written out below, plus what the
CRD cannot say (the target exists, the list is the Celery queue of the Deployment it scales
and one the gateway routes to, min <= max). Nothing is fetched from the network.
"""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.routing import route_queues
from shared.config import ConfigError, Settings
from shared.models import queue_for

kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra)")
yaml = pytest.importorskip("yaml", reason="PyYAML (required by kubernetes-validate)")
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (kubernetes-validate needs it)")

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "bgremove"

# Oldest Kubernetes minor the manifests promise to work on, and the newest bundled schemas.
OLDEST_VERSION = "1.30"
LATEST_VERSION = ".".join(kv.latest_version().split(".")[:2])
VERSIONS = sorted({OLDEST_VERSION, LATEST_VERSION})

# The three images built from deploy/Dockerfile.*, and which one each workload runs.
IMAGES = {"bgremove-gateway", "bgremove-worker-cpu", "bgremove-worker-gpu"}
WORKLOAD_IMAGE = {
    ("Deployment", "gateway"): "bgremove-gateway",
    ("Deployment", "worker-cpu"): "bgremove-worker-cpu",
    ("Deployment", "worker-gpu"): "bgremove-worker-gpu",
    ("Job", "migrate"): "bgremove-gateway",
}
APP_UID = 10001  # USER in every Dockerfile
PROXY_CONTAINER = "proxy"  # nginx in the gateway pod (deploy/nginx/nginx.conf)
EVALUATION_ONLY = {"redis", "postgres", "minio"}
KEDA_API = "keda.sh/v1alpha1"
POD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
# Secret keys that are not application settings: the evaluation services' own passwords.
EVALUATION_SECRET_KEYS = {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
# Environment variables the app reads outside shared/config.Settings.
EXTRA_APP_ENV = {"GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_WORKER_CONNECTIONS",
                 "GUNICORN_WORKER_CLASS", "GUNICORN_THREADS",
                 "WORKER_CONCURRENCY", "WORKER_MAX_TASKS_PER_CHILD"}
SETTINGS_ENV = {name.upper() for name in Settings.__dataclass_fields__}


# --- loading ---------------------------------------------------------------------------------

def _load_text(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.fixture(scope="module")
def by_file() -> dict[str, list[dict[str, Any]]]:
    return {p.name: _load_text(p.read_text()) for p in _manifest_files()}


@pytest.fixture(scope="module")
def objects(by_file: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc for docs in by_file.values() for doc in docs]


def _get(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _pod_spec(obj)
    return spec.get("initContainers", []) + spec["containers"]


def _app_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers running our images (the gateway pod's nginx `proxy` is not one)."""
    return [c for c in _containers(obj) if c["name"] != PROXY_CONTAINER]


def _workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in POD_KINDS]


def _configmap(objects: list[dict[str, Any]]) -> dict[str, str]:
    return _get(objects, "ConfigMap", "bgremove-config")["data"]


def _secret(objects: list[dict[str, Any]]) -> dict[str, str]:
    return _get(objects, "Secret", "bgremove-secrets")["stringData"]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _is_keda(obj: dict[str, Any]) -> bool:
    return obj["apiVersion"] == KEDA_API


def _setting(objects: list[dict[str, Any]], container: dict[str, Any], name: str) -> str:
    """A setting as a pod resolves it: its literal env, else the ConfigMap, else the default."""
    literal = _env(container).get(name.upper(), {}).get("value")
    return literal or _configmap(objects).get(
        name.upper(), Settings.__dataclass_fields__[name].default)


def _queue_name(objects: list[dict[str, Any]], deployment: str) -> str:
    """The queue a Deployment's pods consume: QUEUE_NAME.MODEL_NAME, as the app resolves it."""
    (container,) = _pod_spec(_get(objects, "Deployment", deployment))["containers"]
    return queue_for(_setting(objects, container, "queue_name"),
                     _setting(objects, container, "model_name"))


def _route_queues(objects: list[dict[str, Any]]) -> list[str]:
    """The gateway's queues, in order, via the gateway's own parsing (ROUTE_QUEUES)."""
    settings = Settings.from_env({**_configmap(objects), "APP_ENV": "development"})
    return route_queues(SimpleNamespace(settings=settings))  # type: ignore[arg-type]


# --- validators --------------------------------------------------------------------------------

def core_problems(obj: dict[str, Any], version: str) -> list[str]:
    """Errors of one core-API object against the bundled strict schema ([] = valid)."""
    try:
        kv.validate(obj, version, strict=True)
    except kv.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return [f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}"]
    return []


_INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_HPA_RULES = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "tolerance": {"type": ["string", "number"]},
        "policies": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["type", "value", "periodSeconds"],
            "properties": {"type": {"enum": ["Pods", "Percent"]},
                           "value": {"type": "integer", "minimum": 1},
                           "periodSeconds": {"type": "integer", "minimum": 1,
                                             "maximum": 1800}}}},
    },
}
_OBJECT_META = {
    "type": "object", "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                   "namespace": {"type": "string"},
                   "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                   "annotations": {"type": "object",
                                   "additionalProperties": {"type": "string"}}},
}
# Metadata keys KEDA's redis (lists) scaler reads, as documented for KEDA v2.x.
REDIS_TRIGGER_KEYS = {"address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv",
                      "usernameFromEnv", "passwordFromEnv", "listName", "listLength",
                      "activationListLength", "databaseIndex", "enableTLS", "unsafeSsl"}
_DIGITS = {"type": "string", "pattern": r"^[0-9]+$"}

# A subset of the openAPIV3Schema of KEDA v2's CRDs (keda.sh_scaledobjects.yaml,
# keda.sh_triggerauthentications.yaml): the fields these manifests may use, closed with
# additionalProperties: false so a misspelt field fails here as it would be pruned or refused
# by the API server.
SCALED_OBJECT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": KEDA_API},
        "kind": {"const": "ScaledObject"},
        "metadata": _OBJECT_META,
        "spec": {
            "type": "object", "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object", "additionalProperties": False, "required": ["name"],
                    "properties": {"apiVersion": {"type": "string"},
                                   "kind": {"type": "string"},
                                   "name": {"type": "string", "minLength": 1},
                                   "envSourceContainerName": {"type": "string"}}},
                "pollingInterval": _INT32,
                "initialCooldownPeriod": _INT32,
                "cooldownPeriod": _INT32,
                "idleReplicaCount": _INT32,
                "minReplicaCount": _INT32,
                "maxReplicaCount": _INT32,
                "fallback": {
                    "type": "object", "additionalProperties": False,
                    "required": ["failureThreshold", "replicas"],
                    "properties": {"failureThreshold": _INT32, "replicas": _INT32,
                                   "behavior": {"type": "string"}}},
                "advanced": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object", "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {
                                    "type": "object", "additionalProperties": False,
                                    "properties": {"scaleUp": _HPA_RULES,
                                                   "scaleDown": _HPA_RULES}}}}}},
                "triggers": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object", "additionalProperties": False,
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "metadata": {"type": "object",
                                         "additionalProperties": {"type": "string"}},
                            "authenticationRef": {
                                "type": "object", "additionalProperties": False,
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "kind": {"enum": ["TriggerAuthentication",
                                                      "ClusterTriggerAuthentication"]}}}},
                        # The redis scaler: known keys only, the list and target required.
                        "if": {"properties": {"type": {"const": "redis"}}},
                        "then": {"properties": {"metadata": {
                            "propertyNames": {"enum": sorted(REDIS_TRIGGER_KEYS)},
                            "required": ["listName", "listLength"],
                            "anyOf": [{"required": ["address"]},
                                      {"required": ["addressFromEnv"]},
                                      {"required": ["host", "port"]}],
                            "properties": {"listLength": _DIGITS,
                                           "activationListLength": _DIGITS,
                                           "databaseIndex": _DIGITS,
                                           "address": {"type": "string",
                                                       "pattern": r"^[^:/\s]+:[0-9]+$"}}}}},
                    }},
            },
        },
    },
}
TRIGGER_AUTHENTICATION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": KEDA_API},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _OBJECT_META,
        "spec": {
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {
                "secretTargetRef": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["parameter", "name", "key"],
                    "properties": {"parameter": {"type": "string"}, "name": {"type": "string"},
                                   "key": {"type": "string"}}}},
                "env": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["parameter", "name"],
                    "properties": {"parameter": {"type": "string"}, "name": {"type": "string"},
                                   "containerName": {"type": "string"}}}},
            },
        },
    },
}
KEDA_SCHEMAS = {"ScaledObject": SCALED_OBJECT_SCHEMA,
                "TriggerAuthentication": TRIGGER_AUTHENTICATION_SCHEMA}


def keda_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Errors of the KEDA objects: schema, then references and meaning ([] = valid)."""
    problems: list[str] = []
    keda = [o for o in objects if _is_keda(o)]
    for obj in keda:
        schema = KEDA_SCHEMAS.get(obj.get("kind"))
        if schema is None:
            problems.append(f"no schema for KEDA kind {obj.get('kind')!r}")
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for err in validator.iter_errors(obj):
            path = ".".join(str(p) for p in err.absolute_path)
            problems.append(f"{obj['kind']}/{obj['metadata'].get('name')}: {path}: {err.message}")
    if problems:
        return problems

    deployments = {o["metadata"]["name"] for o in _of_kind(objects, "Deployment")}
    auths = {o["metadata"]["name"]: o for o in keda if o["kind"] == "TriggerAuthentication"}
    secrets = {o["metadata"]["name"]: {**o.get("data", {}), **o.get("stringData", {})}
               for o in _of_kind(objects, "Secret")}
    services = {o["metadata"]["name"]: o for o in _of_kind(objects, "Service")}
    routed = _route_queues(objects)
    redis_url = urlsplit(_secret(objects)["REDIS_URL"])
    for so in (o for o in keda if o["kind"] == "ScaledObject"):
        name, spec = so["metadata"]["name"], so["spec"]
        ref = spec["scaleTargetRef"]
        if ref.get("kind", "Deployment") != "Deployment" or \
                ref.get("apiVersion", "apps/v1") != "apps/v1" or ref["name"] not in deployments:
            problems.append(f"{name}: scaleTargetRef {ref} is not a Deployment in deploy/k8s")
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if low > high:
            problems.append(f"{name}: minReplicaCount {low} > maxReplicaCount {high}")
        redis = [t for t in spec["triggers"] if t["type"] == "redis"]
        if not redis:
            problems.append(f"{name}: no redis trigger")
        for trigger in redis:
            meta = trigger["metadata"]
            if ref["name"] in deployments:
                queue = _queue_name(objects, ref["name"])
                if meta["listName"] != queue:
                    problems.append(f"{name}: listName {meta['listName']!r} is not QUEUE_NAME "
                                    f"{queue!r} of Deployment {ref['name']}")
            if meta["listName"] not in routed:
                problems.append(f"{name}: listName {meta['listName']!r} is not in "
                                f"ROUTE_QUEUES {routed}")
            if int(meta["listLength"]) < 1:
                problems.append(f"{name}: listLength must be at least 1")
            host, _, port = meta.get("address", "").rpartition(":")
            labels = host.split(".")
            # <service>.<namespace>.svc...: the Redis Service REDIS_URL names, seen from KEDA's
            # own namespace, on the same port and database.
            if labels[0] != redis_url.hostname or labels[1:2] != [NAMESPACE] or \
                    labels[0] not in services or int(port) != (redis_url.port or 6379):
                problems.append(f"{name}: address {meta.get('address')!r} is not the Redis "
                                f"of REDIS_URL in namespace {NAMESPACE}")
            if meta.get("databaseIndex", "0") != (redis_url.path.strip("/") or "0"):
                problems.append(f"{name}: databaseIndex differs from REDIS_URL's database")
            auth_ref = trigger.get("authenticationRef")
            if auth_ref:
                auth = auths.get(auth_ref["name"])
                if auth is None:
                    problems.append(f"{name}: TriggerAuthentication {auth_ref['name']} missing")
                    continue
                for ref in auth["spec"].get("secretTargetRef", []):
                    if ref["key"] not in secrets.get(ref["name"], {}):
                        problems.append(f"{auth_ref['name']}: secret {ref['name']}/{ref['key']}"
                                        " does not exist")
    return problems


# --- the layout ------------------------------------------------------------------------------

def test_kustomization_lists_exactly_the_files() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), Counter(resources).most_common(1)
    # Directories are optional components with their own kustomization (monitoring/).
    on_disk = {p.name for p in K8S.iterdir() if p.is_file() and p.name != "kustomization.yaml"}
    assert set(resources) == on_disk
    assert {p.name for p in K8S.iterdir() if p.is_dir()} == {"monitoring"}
    # The image overrides name the three images and nothing else.
    assert {i["name"] for i in kustomization["images"]} == IMAGES


def test_every_object_is_labelled_and_namespaced(objects: list[dict[str, Any]]) -> None:
    assert _get(objects, "Namespace", NAMESPACE)
    names = Counter((o["kind"], o["metadata"]["name"]) for o in objects)
    assert not [k for k, n in names.items() if n > 1], names
    for obj in objects:
        meta = obj["metadata"]
        assert meta.get("labels", {}).get("app.kubernetes.io/part-of") == "bgremove", meta
        if obj["kind"] != "Namespace":
            assert meta.get("namespace") == NAMESPACE, meta["name"]


# --- schema validation -----------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_core_objects_validate_strictly(objects: list[dict[str, Any]], version: str) -> None:
    core = [o for o in objects if not _is_keda(o)]
    kinds = {o["kind"] for o in core}
    # Not vacuous: every kind we ship is checked (an unknown kind raises SchemaNotFoundError).
    assert {"Namespace", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet", "Job",
            "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    problems = [p for obj in core for p in core_problems(obj, version)]
    assert not problems, "\n".join(problems)


def test_keda_objects_validate(objects: list[dict[str, Any]]) -> None:
    kinds = Counter(o["kind"] for o in objects if _is_keda(o))
    assert kinds["ScaledObject"] == 2 and kinds["TriggerAuthentication"] == 1, kinds
    problems = keda_problems(objects)
    assert not problems, "\n".join(problems)


# A deliberately broken copy must fail: proves the validators are live, not rubber stamps.
# case: (file, kind, name, text to replace, replacement, what the error must mention)
CORE_BREAKAGES = {
    "unknown-container-field": ("gateway.yaml", "Deployment", "gateway",
                                "          imagePullPolicy: IfNotPresent\n",
                                "          imagePullPolicy: IfNotPresent\n"
                                "          restartPolicyy: Always\n", "restartPolicyy"),
    "replicas-wrong-type": ("gateway.yaml", "Deployment", "gateway",
                            "  revisionHistoryLimit: 5\n", "  replicas: two\n",
                            "spec.replicas"),
    "unknown-pod-field": ("worker-gpu.yaml", "Deployment", "worker-gpu",
                          "      nodeSelector:\n", "      nodeSelectors:\n", "nodeSelectors"),
    "probe-port-wrong-type": ("gateway.yaml", "Deployment", "gateway",
                              "              port: http\n", "              port: [8000]\n",
                              "httpGet.port"),
}


@pytest.mark.parametrize("case", sorted(CORE_BREAKAGES))
def test_broken_core_manifest_fails(case: str) -> None:
    filename, kind, name, old, new, mention = CORE_BREAKAGES[case]
    text = (K8S / filename).read_text()
    assert old in text, old
    broken = _get(_load_text(text.replace(old, new, 1)), kind, name)
    for version in VERSIONS:
        problems = core_problems(broken, version)
        assert problems, f"{case} passed validation for {version}"
        assert mention in problems[0], problems


# case: (text of keda.yaml to replace, replacement, what the error must mention)
KEDA_BREAKAGES = {
    "misspelt-trigger-key": ("        listName: segment-gpu.u2net\n",
                             "        listname: segment-gpu\n", "'listname'"),
    # Routed to, but the other Deployment's queue: this one would scale on the wrong backlog.
    "list-is-not-the-targets-queue": ("        listName: segment-gpu.u2net\n",
                                      "        listName: segment-cpu.u2net\n", "QUEUE_NAME"),
    "list-is-no-workers-queue": ("        listName: segment-cpu.u2net\n",
                                 "        listName: segment-cpu\n", "QUEUE_NAME"),
    "unknown-spec-field": ("  pollingInterval: 10\n", "  pollingIntervall: 10\n",
                           "pollingIntervall"),
    "min-above-max": ("  minReplicaCount: 1\n", "  minReplicaCount: 9\n", "> maxReplicaCount"),
    "target-does-not-exist": ("    name: worker-gpu\n", "    name: worker-gpus\n",
                              "scaleTargetRef"),
    "replicas-wrong-type": ("  maxReplicaCount: 4\n", '  maxReplicaCount: "4"\n',
                            "spec.maxReplicaCount"),
    "length-not-a-number": ('        listLength: "4"\n', '        listLength: "four"\n',
                            "listLength"),
    "missing-auth": ("        name: redis-auth\n", "        name: redis-auht\n", "redis-auht"),
    "wrong-redis": ("        address: redis.bgremove.svc.cluster.local:6379\n",
                    "        address: redis.default.svc.cluster.local:6379\n", "address"),
}


@pytest.mark.parametrize("case", sorted(KEDA_BREAKAGES))
def test_broken_keda_manifest_fails(objects: list[dict[str, Any]], case: str) -> None:
    old, new, mention = KEDA_BREAKAGES[case]
    text = (K8S / "keda.yaml").read_text()
    assert old in text, old
    broken = [o for o in objects if not _is_keda(o)] + _load_text(text.replace(old, new, 1))
    problems = keda_problems(broken)
    assert problems, f"{case} passed validation"
    assert mention in problems[0], problems


@pytest.mark.parametrize(("old", "new", "mention"), [
    # A worker's queue the gateway never sends to: its pods and ScaledObject sit idle.
    ('  ROUTE_QUEUES: "segment-gpu,segment-cpu"\n', '  ROUTE_QUEUES: "segment-gpu"\n',
     "ROUTE_QUEUES"),
    # Empty ROUTE_QUEUES = QUEUE_NAME alone, the default "segment", which no worker consumes.
    ('  ROUTE_QUEUES: "segment-gpu,segment-cpu"\n', '  ROUTE_QUEUES: ""\n', "ROUTE_QUEUES"),
], ids=["queue-not-routed", "routes-empty"])
def test_unrouted_worker_queue_fails(objects: list[dict[str, Any]], old: str, new: str,
                                     mention: str) -> None:
    text = (K8S / "config.yaml").read_text()
    assert old in text, old
    broken = [o for o in objects if o["kind"] != "ConfigMap"] + _load_text(
        text.replace(old, new, 1))
    problems = keda_problems(broken)
    assert problems, "an unrouted worker queue passed validation"
    assert mention in problems[0], problems


# --- cross-checks ----------------------------------------------------------------------------

def test_workloads_run_the_three_images(objects: list[dict[str, Any]]) -> None:
    app = {(o["kind"], o["metadata"]["name"]): o for o in _workloads(objects)
           if o["metadata"]["name"] not in EVALUATION_ONLY}
    assert set(app) == set(WORKLOAD_IMAGE)
    for key, obj in app.items():
        for container in _app_containers(obj):
            repository = container["image"].rsplit(":", 1)[0]
            assert repository in IMAGES, (key, container["image"])
            assert repository == WORKLOAD_IMAGE[key], (key, container["image"])
    for deployment in _of_kind(objects, "Deployment"):
        for container in _app_containers(deployment):
            assert container["image"].rsplit(":", 1)[0] in IMAGES, container["image"]


def test_env_references_name_existing_objects(objects: list[dict[str, Any]]) -> None:
    data = {(o["kind"], o["metadata"]["name"]): {**o.get("data", {}), **o.get("stringData", {})}
            for o in objects if o["kind"] in ("ConfigMap", "Secret")}
    checked = 0
    for obj in _workloads(objects):
        for container in _containers(obj):
            where = f"{obj['metadata']['name']}/{container['name']}"
            for source in container.get("envFrom", []):
                for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if field in source:
                        assert (kind, source[field]["name"]) in data, (where, source)
                        assert not source[field].get("optional"), where
                        checked += 1
            for env in container.get("env", []):
                ref = env.get("valueFrom", {})
                for field, kind in (("configMapKeyRef", "ConfigMap"),
                                    ("secretKeyRef", "Secret")):
                    if field in ref:
                        target = ref[field]
                        assert target["key"] in data.get((kind, target["name"]), {}), \
                            (where, env["name"], target)
                        assert not target.get("optional"), (where, env["name"])
                        checked += 1
    assert checked >= 10


def test_app_containers_get_the_shared_settings(objects: list[dict[str, Any]]) -> None:
    for key in WORKLOAD_IMAGE:
        obj = _get(objects, *key)
        for container in _app_containers(obj):
            sources = container.get("envFrom", [])
            assert {"configMapRef": {"name": "bgremove-config"}} in sources, key
            assert {"secretRef": {"name": "bgremove-secrets"}} in sources, key


def test_configmap_holds_known_settings(objects: list[dict[str, Any]]) -> None:
    config = _configmap(objects)
    assert set(config) <= SETTINGS_ENV, set(config) - SETTINGS_ENV
    assert config["APP_ENV"] == "production"
    # GPU first; each worker Deployment sets its own QUEUE_NAME, so no shared default here.
    assert config["ROUTE_QUEUES"] == "segment-gpu,segment-cpu"
    assert "QUEUE_NAME" not in config
    assert config["MODEL_NAME"] == "u2net" and config["MODELS"] == "u2net"
    assert config["U2NET_HOME"] == "/models"
    for key in ("S3_ENDPOINT", "S3_BUCKET", "REQUEST_TIMEOUT_SECONDS"):
        assert config.get(key), key
    # No secret in the ConfigMap.
    for key in config:
        assert not re.search(r"SECRET|PASSWORD|ACCESS_KEY|DATABASE_URL|REDIS_URL", key), key


def test_secret_is_a_template(objects: list[dict[str, Any]]) -> None:
    secret = _get(objects, "Secret", "bgremove-secrets")
    assert "data" not in secret, "placeholders go in stringData, readable"
    values = secret["stringData"]
    app_keys = {"JWT_SECRET_KEY", "S3_ACCESS_KEY", "S3_SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    assert set(values) == app_keys | EVALUATION_SECRET_KEYS
    assert app_keys <= SETTINGS_ENV
    for key, value in values.items():
        assert "CHANGE_ME" in value, f"{key} must be a marked placeholder, not a real value"
    # The evaluation services' passwords are the ones inside the URLs.
    assert values["POSTGRES_PASSWORD"] in values["DATABASE_URL"]
    assert values["REDIS_PASSWORD"] in values["REDIS_URL"]
    db, redis = urlsplit(values["DATABASE_URL"]), urlsplit(values["REDIS_URL"])
    services = {s["metadata"]["name"]: s for s in _of_kind(objects, "Service")}
    for url in (db, redis):
        assert url.hostname in services, url.hostname
        ports = {p["port"] for p in services[url.hostname]["spec"]["ports"]}
        assert url.port in ports, (url.hostname, url.port)
    s3_host, _, s3_port = _configmap(objects)["S3_ENDPOINT"].partition(":")
    assert int(s3_port) in {p["port"] for p in services[s3_host]["spec"]["ports"]}


def test_settings_accept_the_config_and_refuse_the_placeholders(
        objects: list[dict[str, Any]]) -> None:
    config, secret = _configmap(objects), _secret(objects)
    # As shipped, the template cannot go live: the app refuses the placeholder JWT key.
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env({**config, **secret})
    filled = {key: value.replace("CHANGE_ME_JWT_SECRET_KEY", "k" * 48)
              for key, value in secret.items()}
    settings = Settings.from_env({**config, **filled})
    assert settings.route_queues == config["ROUTE_QUEUES"]
    for name in ("worker-cpu", "worker-gpu"):
        (container,) = _pod_spec(_get(objects, "Deployment", name))["containers"]
        worker_env = {**config, **filled, "QUEUE_NAME": _env(container)["QUEUE_NAME"]["value"]}
        assert Settings.from_env(worker_env).worker_queue == _queue_name(objects, name)
    assert settings.app_env == "production"
    assert settings.task_soft_time_limit < settings.task_time_limit


def test_literal_env_names_are_known(objects: list[dict[str, Any]]) -> None:
    for key in WORKLOAD_IMAGE:
        for container in _app_containers(_get(objects, *key)):
            unknown = set(_env(container)) - SETTINGS_ENV - EXTRA_APP_ENV
            assert not unknown, (key, unknown)


def test_gateway_probes_and_service(objects: list[dict[str, Any]]) -> None:
    gateway = _get(objects, "Deployment", "gateway")
    (container,) = _app_containers(gateway)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    bind_port = int(_env(container)["GUNICORN_BIND"]["value"].rsplit(":", 1)[1])
    assert ports == {"http": bind_port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in (ports["http"], "http"), probe
    assert "command" not in container and "args" not in container  # the image's gunicorn CMD
    service = _get(objects, "Service", "gateway")
    assert service["spec"]["selector"].items() <= gateway["spec"]["template"]["metadata"][
        "labels"].items()
    # Clients enter through the pod's nginx, never gunicorn directly.
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [PROXY_CONTAINER]


def test_gateway_pod_has_the_buffering_proxy(objects: list[dict[str, Any]]) -> None:
    spec = _pod_spec(_get(objects, "Deployment", "gateway"))
    (proxy,) = [c for c in spec["containers"] if c["name"] == PROXY_CONTAINER]
    assert proxy["image"].startswith("nginx:")
    assert {p["name"]: p["containerPort"] for p in proxy["ports"]} == {"proxy": 8080}
    assert proxy["command"][:3] == ["nginx", "-c", "/etc/bgremove/nginx.conf"]
    mounts = {m["mountPath"]: m["name"] for m in proxy["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    conf_map = volumes[mounts["/etc/bgremove"]]["configMap"]["name"]
    data = _get(objects, "ConfigMap", conf_map)["data"]
    # The very file compose mounts and tests/security/test_proxy.py runs.
    assert data["nginx.conf"] == (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    # Its upstream `gateway:8000` is this pod's gunicorn.
    assert {"ip": "127.0.0.1", "hostnames": ["gateway"]} in spec["hostAliases"]
    (app,) = _app_containers(_get(objects, "Deployment", "gateway"))
    assert _env(app)["GUNICORN_BIND"]["value"].endswith(":8000")


def test_gateway_shuts_down_gracefully(objects: list[dict[str, Any]]) -> None:
    gunicorn = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    spec = _pod_spec(_get(objects, "Deployment", "gateway"))
    (container,) = _app_containers(_get(objects, "Deployment", "gateway"))
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    needed = gunicorn["graceful_timeout"] + int(pre_stop[1])
    assert spec["terminationGracePeriodSeconds"] == 40
    assert spec["terminationGracePeriodSeconds"] > needed


def test_gateway_autoscaling_and_disruption_budget(objects: list[dict[str, Any]]) -> None:
    hpa = _get(objects, "HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "gateway"}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # Requests in flight per pod first (what a gateway holds), CPU as the backstop.
    metrics = hpa["spec"]["metrics"]
    assert [m["type"] for m in metrics] == ["Pods", "Resource"]
    assert metrics[0]["pods"]["metric"]["name"] == "bgremove_requests_inflight"
    assert metrics[1]["resource"]["name"] == "cpu"
    (app,) = _app_containers(_get(objects, "Deployment", "gateway"))
    per_pod = (int(_env(app)["GUNICORN_WORKERS"]["value"])
               * int(_env(app)["GATEWAY_MAX_INFLIGHT"]["value"]))
    # Scale out before a pod reaches its admission limit (and answers 503).
    assert int(metrics[0]["pods"]["target"]["averageValue"]) < per_pod
    # The shipped prometheus-adapter values serve that metric under the HPA's name, per pod.
    values = yaml.safe_load((ROOT / "deploy" / "prometheus" / "adapter-values.yaml").read_text())
    (rule,) = values["rules"]["custom"]
    assert rule["name"]["as"] == metrics[0]["pods"]["metric"]["name"]
    assert rule["seriesQuery"].startswith("bgremove_requests_inflight{")
    assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
    pdb = _get(objects, "PodDisruptionBudget", "gateway")
    labels = _get(objects, "Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # The HPA keeps at least two pods, so the budget never blocks a drain outright.
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_every_deployment_has_exactly_one_autoscaler(objects: list[dict[str, Any]]) -> None:
    targets = Counter(o["spec"]["scaleTargetRef"]["name"] for o in objects
                      if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"))
    deployments = {o["metadata"]["name"] for o in _of_kind(objects, "Deployment")}
    assert set(targets) == deployments
    assert all(n == 1 for n in targets.values()), targets
    # replicas belongs to the autoscaler: in the manifest, every `kubectl apply` would reset it.
    for deployment in _of_kind(objects, "Deployment"):
        assert "replicas" not in deployment["spec"], deployment["metadata"]["name"]


def test_workers_scale_independently_on_the_queue(objects: list[dict[str, Any]]) -> None:
    scaled = {o["spec"]["scaleTargetRef"]["name"]: o["spec"]
              for o in objects if o["kind"] == "ScaledObject"}
    assert set(scaled) == {"worker-cpu", "worker-gpu"}
    # One GPU worker stays so that routing (live workers first) really is GPU first; one CPU
    # worker stays, which keeps /readyz (and so the gateway) ready.
    assert scaled["worker-gpu"]["minReplicaCount"] >= 1
    assert scaled["worker-cpu"]["minReplicaCount"] >= 1
    for spec in scaled.values():
        assert spec["maxReplicaCount"] >= 1
        assert [t["type"] for t in spec["triggers"]] == ["redis"]
        assert spec.get("cooldownPeriod", 300) > 0


def test_workers_consume_separate_routed_queues(objects: list[dict[str, Any]]) -> None:
    queues = {name: _queue_name(objects, name) for name in ("worker-cpu", "worker-gpu")}
    assert queues == {"worker-cpu": "segment-cpu.u2net", "worker-gpu": "segment-gpu.u2net"}
    routed = _route_queues(objects)
    assert routed == ["segment-gpu.u2net", "segment-cpu.u2net"]
    # Every routed queue has a consumer, and every consumer's queue is routed to.
    assert sorted(routed) == sorted(queues.values())
    # Each ScaledObject watches the queue of the Deployment it scales.
    for so in (o for o in objects if o["kind"] == "ScaledObject"):
        target = so["spec"]["scaleTargetRef"]["name"]
        lists = [t["metadata"]["listName"] for t in so["spec"]["triggers"]]
        assert lists == [queues[target]], (so["metadata"]["name"], lists)


def test_workers_consume_the_queue_with_the_images_entrypoint(
        objects: list[dict[str, Any]]) -> None:
    config = _configmap(objects)
    for name in ("worker-cpu", "worker-gpu"):
        spec = _pod_spec(_get(objects, "Deployment", name))
        (container,) = spec["containers"]
        # `command` would replace the image's ENTRYPOINT (the numba cache seeding).
        assert "command" not in container, name
        args = container["args"]
        assert args[:4] == ["celery", "-A", "worker.app", "worker"], args
        assert args[args.index("-Q") + 1] == "$(QUEUE_NAME).$(MODEL_NAME)"
        assert args[args.index("--concurrency") + 1] == "$(WORKER_CONCURRENCY)"
        assert args[args.index("--prefetch-multiplier") + 1] == "1"
        assert args[args.index("-O") + 1] == "fair"
        env = _env(container)
        for var in re.findall(r"\$\(([A-Z0-9_]+)\)", " ".join(args)):
            assert var in env or var in config, (name, var)
        # Warm shutdown lets the running task reach its hard limit before SIGKILL.
        assert spec["terminationGracePeriodSeconds"] == 180
        assert spec["terminationGracePeriodSeconds"] > int(config["TASK_TIME_LIMIT"])
        probe = " ".join(container["livenessProbe"]["exec"]["command"])
        assert "inspect ping" in probe and "celery@$HOSTNAME" in probe


def test_cpu_worker_runs_one_child_per_requested_core(objects: list[dict[str, Any]]) -> None:
    (container,) = _pod_spec(_get(objects, "Deployment", "worker-cpu"))["containers"]
    env = _env(container)
    assert env["ORT_PROVIDERS"]["value"] == "CPUExecutionProvider"
    assert env["ORT_INTRA_OP_THREADS"]["value"] == "1"
    field = env["WORKER_CONCURRENCY"]["valueFrom"]["resourceFieldRef"]
    assert field["resource"] == "requests.cpu" and str(field["divisor"]) == "1"
    assert field.get("containerName", container["name"]) == container["name"]
    assert "cpu" in container["resources"]["requests"]
    assert "nvidia.com/gpu" not in str(container["resources"])


def test_gpu_worker_requests_a_gpu_on_a_gpu_node(objects: list[dict[str, Any]]) -> None:
    spec = _pod_spec(_get(objects, "Deployment", "worker-gpu"))
    (container,) = spec["containers"]
    assert str(container["resources"]["limits"]["nvidia.com/gpu"]) == "1"
    env = _env(container)
    assert env["ORT_PROVIDERS"]["value"].split(",") == ["CUDAExecutionProvider",
                                                        "CPUExecutionProvider"]
    assert int(env["WORKER_CONCURRENCY"]["value"]) >= 1
    assert spec["nodeSelector"]
    assert any(t.get("key") == "nvidia.com/gpu" for t in spec["tolerations"])


def test_migrate_job(objects: list[dict[str, Any]]) -> None:
    job = _get(objects, "Job", "migrate")
    spec = _pod_spec(job)
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    commands = [c.get("command") for c in spec["containers"]]
    assert ["python", "-m", "shared.db", "migrate"] in commands
    assert job["spec"]["backoffLimit"] >= 1
    # The bucket step runs the real code path.
    (init,) = spec["initContainers"]
    assert "ensure_bucket()" in " ".join(init["command"])


def test_pods_meet_the_restricted_profile(objects: list[dict[str, Any]]) -> None:
    namespace = _get(objects, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in _workloads(objects):
        name = obj["metadata"]["name"]
        spec = _pod_spec(obj)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        app = name not in EVALUATION_ONLY
        if app:
            assert pod["runAsUser"] == APP_UID, name
        mounts = {v["name"]: v for v in spec.get("volumes", [])}
        for container in _containers(obj):
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in ctx["capabilities"], name
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"]["memory"], name
            if app:
                assert ctx["readOnlyRootFilesystem"] is True, name
                if obj["kind"] == "Deployment":  # workers: NUMBA_CACHE_DIR=/tmp/numba-cache
                    tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
                    assert tmp and "emptyDir" in mounts[tmp[0]["name"]], name


def test_selectors_match_their_pods(objects: list[dict[str, Any]]) -> None:
    pod_labels = [o["spec"]["template"]["metadata"]["labels"] for o in _workloads(objects)]
    for obj in _workloads(objects):
        if obj["kind"] == "Job":
            continue
        selector = obj["spec"]["selector"]["matchLabels"]
        assert selector.items() <= obj["spec"]["template"]["metadata"]["labels"].items()
    for obj in _of_kind(objects, "Service") + _of_kind(objects, "PodDisruptionBudget"):
        selector = obj["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        matches = [labels for labels in pod_labels if selector.items() <= labels.items()]
        assert len(matches) == 1, (obj["kind"], obj["metadata"]["name"])


def test_evaluation_services_are_labelled(by_file: dict[str, list[dict[str, Any]]]) -> None:
    for name in EVALUATION_ONLY:
        filename = f"{name}.yaml"
        assert "FOR EVALUATION ONLY" in (K8S / filename).read_text().splitlines()[0]
        kinds = set()
        for obj in by_file[filename]:
            kinds.add(obj["kind"])
            assert obj["metadata"]["labels"]["bgremove.io/evaluation-only"] == "true"
            if obj["kind"] == "StatefulSet":
                assert obj["spec"]["replicas"] == 1
        assert kinds == {"Service", "StatefulSet"}, filename


def test_kustomize_build_matches_the_files(objects: list[dict[str, Any]]) -> None:
    """`kubectl kustomize` (offline) builds the same objects, if kubectl is installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    proc = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    built = _load_text(proc.stdout)
    key = Counter((o["kind"], o["metadata"]["name"]) for o in built)
    assert key == Counter((o["kind"], o["metadata"]["name"]) for o in objects)
    for obj in built:
        if obj["kind"] in POD_KINDS and obj["metadata"]["name"] not in EVALUATION_ONLY:
            for container in _app_containers(obj):
                assert container["image"].rsplit(":", 1)[0] in IMAGES, container["image"]



# --- monitoring/: PodMonitors and the PrometheusRule (Prometheus Operator) -------------------
MONITORING = K8S / "monitoring"
MONITORING_API = "monitoring.coreos.com/v1"
ALERTS_FILE = ROOT / "deploy" / "prometheus" / "alerts.yml"
_DURATION = {"type": "string", "pattern": r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"}
_RELABEL = {
    "type": "object", "additionalProperties": False,
    "properties": {"action": {"enum": ["replace", "keep", "drop", "labelmap", "labeldrop",
                                       "labelkeep", "hashmod", "lowercase", "uppercase"]},
                   "sourceLabels": {"type": "array", "items": {"type": "string"}},
                   "separator": {"type": "string"}, "targetLabel": {"type": "string"},
                   "regex": {"type": "string"}, "replacement": {"type": "string"},
                   "modulus": {"type": "integer"}},
}
_LABEL_SELECTOR = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["key", "operator"],
            "properties": {"key": {"type": "string"},
                           "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                           "values": {"type": "array", "items": {"type": "string"}}}}}},
}
# Subsets of the Prometheus Operator's CRD schemas (monitoring.coreos.com_podmonitors.yaml,
# _prometheusrules.yaml), closed like the KEDA ones above.
POD_MONITOR_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": MONITORING_API}, "kind": {"const": "PodMonitor"},
        "metadata": _OBJECT_META,
        "spec": {
            "type": "object", "additionalProperties": False,
            "required": ["selector", "podMetricsEndpoints"],
            "properties": {
                "selector": _LABEL_SELECTOR,
                "jobLabel": {"type": "string"},
                "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["port"],
                    "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                                   "interval": _DURATION, "scrapeTimeout": _DURATION,
                                   "relabelings": {"type": "array", "items": _RELABEL}}}},
            },
        },
    },
}
PROMETHEUS_RULE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": MONITORING_API}, "kind": {"const": "PrometheusRule"},
        "metadata": _OBJECT_META,
        "spec": {"type": "object", "additionalProperties": False, "required": ["groups"],
                 "properties": {"groups": {"type": "array", "minItems": 1, "items": {
                     "type": "object", "additionalProperties": False,
                     "required": ["name", "rules"],
                     "properties": {"name": {"type": "string"}, "interval": _DURATION,
                                    "rules": {"type": "array", "items": {
                                        "type": "object", "additionalProperties": False,
                                        "required": ["alert", "expr"],
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "expr": {"type": "string", "minLength": 1},
                                            "for": _DURATION,
                                            "labels": {"type": "object",
                                                       "additionalProperties": {
                                                           "type": "string"}},
                                            "annotations": {"type": "object",
                                                            "additionalProperties": {
                                                                "type": "string"}}}}}}}}}},
    },
}
MONITORING_SCHEMAS = {"PodMonitor": POD_MONITOR_SCHEMA, "PrometheusRule": PROMETHEUS_RULE_SCHEMA}


def _monitoring_objects() -> list[dict[str, Any]]:
    return [doc for p in sorted(MONITORING.glob("*.yaml")) if p.name != "kustomization.yaml"
            for doc in _load_text(p.read_text())]


def monitoring_problems(monitoring: list[dict[str, Any]],
                        objects: list[dict[str, Any]]) -> list[str]:
    """Schema errors, then what the CRDs cannot say: monitors select our pods on a port they
    declare and name the jobs the rules match; the rules are those of alerts.yml."""
    problems = []
    for obj in monitoring:
        schema = MONITORING_SCHEMAS.get(obj.get("kind"))
        if schema is None:
            problems.append(f"no schema for {obj.get('kind')!r}")
            continue
        for err in jsonschema.Draft202012Validator(schema).iter_errors(obj):
            path = ".".join(str(p) for p in err.absolute_path)
            problems.append(f"{obj['kind']}/{obj['metadata'].get('name')}: {path}: {err.message}")
    if problems:
        return problems
    pods = [(o["spec"]["template"]["metadata"]["labels"], _containers(o))
            for o in _of_kind(objects, "Deployment")]
    alerts = yaml.safe_load(ALERTS_FILE.read_text())
    target_down = next(r for g in alerts["groups"] for r in g["rules"]
                       if r["alert"] == "BgremoveTargetDown")
    jobs = set()
    for monitor in (o for o in monitoring if o["kind"] == "PodMonitor"):
        name, selector = monitor["metadata"]["name"], monitor["spec"]["selector"]

        def selects(labels: dict[str, str], sel: dict[str, Any] = selector) -> bool:
            if not sel.get("matchLabels", {}).items() <= labels.items():
                return False
            return all(labels.get(e["key"]) in e.get("values", [])
                       for e in sel.get("matchExpressions", []) if e["operator"] == "In")

        matched = [containers for labels, containers in pods if selects(labels)]
        if not matched:
            problems.append(f"{name}: selects no Deployment's pods")
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            for containers in matched:
                ports = {p.get("name") for c in containers for p in c.get("ports", [])}
                if endpoint["port"] not in ports:
                    problems.append(f"{name}: port {endpoint['port']!r} is not declared by "
                                    f"the pods it selects")
            jobs |= {r["replacement"] for r in endpoint.get("relabelings", [])
                     if r.get("targetLabel") == "job"}
    if jobs != set(re.findall(r"bgremove-[a-z]+", target_down["expr"])):
        problems.append(f"PodMonitor job labels {sorted(jobs)} are not the jobs of "
                        f"BgremoveTargetDown ({target_down['expr']})")
    for rule in (o for o in monitoring if o["kind"] == "PrometheusRule"):
        if rule["spec"]["groups"] != alerts["groups"]:
            problems.append(f"PrometheusRule/{rule['metadata']['name']}: groups differ from "
                            "deploy/prometheus/alerts.yml")
    return problems


def test_monitoring_kustomization_lists_its_files() -> None:
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    on_disk = {p.name for p in MONITORING.iterdir() if p.name != "kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


def test_monitoring_objects_validate(objects: list[dict[str, Any]]) -> None:
    monitoring = _monitoring_objects()
    assert Counter(o["kind"] for o in monitoring) == {"PodMonitor": 2, "PrometheusRule": 1}
    for obj in monitoring:
        assert obj["metadata"]["namespace"] == NAMESPACE
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "bgremove"
    problems = monitoring_problems(monitoring, objects)
    assert not problems, "\n".join(problems)


MONITORING_BREAKAGES = {
    "misspelt-field": ("podmonitors.yaml", "  podMetricsEndpoints:\n",
                       "  podMetricEndpoints:\n", "podMetricEndpoints"),
    "undeclared-port": ("podmonitors.yaml", "    - port: metrics\n", "    - port: metric\n",
                        "port 'metric'"),
    "wrong-job": ("podmonitors.yaml", "          replacement: bgremove-worker\n",
                  "          replacement: bgremove-workers\n", "job labels"),
    "rule-drifted": ("prometheusrule.yaml", "      for: 2m\n", "      for: 3m\n",
                     "differ from"),
    "bad-duration": ("prometheusrule.yaml", "      for: 2m\n", "      for: soon\n", "for"),
}


@pytest.mark.parametrize("case", sorted(MONITORING_BREAKAGES))
def test_broken_monitoring_manifest_fails(objects: list[dict[str, Any]], case: str) -> None:
    filename, old, new, mention = MONITORING_BREAKAGES[case]
    text = (MONITORING / filename).read_text()
    assert old in text, old
    others = [o for p in sorted(MONITORING.glob("*.yaml"))
              if p.name not in ("kustomization.yaml", filename)
              for o in _load_text(p.read_text())]
    problems = monitoring_problems(others + _load_text(text.replace(old, new, 1)), objects)
    assert problems, f"{case} passed validation"
    assert mention in problems[0], problems
