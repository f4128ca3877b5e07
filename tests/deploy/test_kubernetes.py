"""deploy/kubernetes/: the KubeRay manifests, validated against KubeRay v1.7.0's CRD schemas (the
pinned, reduced copy in deploy/kubernetes/crds/), their Serve config against Ray Serve's own
schema and against deploy/serve.yaml, and that Serve config deployed on a real local Ray."""

from __future__ import annotations

import base64
import contextlib
import copy
import importlib.util
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pydantic
import pytest
import yaml

from .conftest import free_port

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy" / "kubernetes"
MANIFESTS = {"RayService": KUBE / "rayservice.yaml", "RayJob": KUBE / "rayjob.yaml"}
KUBERAY_TAG = "v1.7.0"


def _script(name: str) -> Any:
    """A module of scripts/ (not a package: they run as files)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _script("render_serve_config")
reduce_crds = _script("reduce_kuberay_crds")


def schema(kind: str) -> dict[str, Any]:
    return json.loads((KUBE / "crds" / f"{kind.lower()}.schema.json").read_text())


def manifest(kind: str) -> dict[str, Any]:
    [doc] = [d for d in yaml.safe_load_all(MANIFESTS[kind].read_text()) if d]
    return doc


def errors(kind: str, doc: dict[str, Any]) -> list[str]:
    """Schema violations of ``doc`` as 'path: message' lines."""
    found = jsonschema.Draft202012Validator(schema(kind)).iter_errors(doc)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


def pod_templates(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Group name → pod template of a RayCluster spec (the head is ``head``)."""
    return {"head": spec["headGroupSpec"]["template"], **{g["groupName"]: g["template"] for g in spec["workerGroupSpecs"]}}


def cluster_spec(kind: str) -> dict[str, Any]:
    doc = manifest(kind)
    return doc["spec"]["rayClusterConfig" if kind == "RayService" else "rayClusterSpec"]


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_the_manifests_are_ray_io_v1_and_validate_against_the_kuberay_crd_schema(kind):
    doc = manifest(kind)
    assert (doc["apiVersion"], doc["kind"]) == ("ray.io/v1", kind)
    assert schema(kind)["x-source"]["kind"] == kind
    assert errors(kind, doc) == []


def _drop(path: str):
    def edit(doc):
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        del node[int(last) if last.isdigit() else last]
    return edit


def _set(path: str, value: Any):
    def edit(doc):
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[int(last) if last.isdigit() else last] = value
    return edit


@pytest.mark.parametrize("kind, edit, error", [
    ("RayService", _set("spec.rayClusterConfig.headGroupSpec.rayStartParam", {}), "'rayStartParam' was unexpected"),
    ("RayService", _set("spec.serveConfigv2", "applications: []"), "'serveConfigv2' was unexpected"),
    ("RayService", _drop("spec.rayClusterConfig"), "'rayClusterConfig' is a required property"),
    ("RayService", _drop("spec.rayClusterConfig.workerGroupSpecs.1.groupName"), "'groupName' is a required property"),
    ("RayService", _set("spec.rayClusterConfig.workerGroupSpecs.1.template.spec.containers.0.imagee", "x"), "'imagee' was unexpected"),
    ("RayService", _set("spec.rayClusterConfig.workerGroupSpecs.0.replicas", "one"), "'one' is not of type 'integer'"),
    ("RayJob", _drop("spec.rayClusterSpec.headGroupSpec.template.spec.containers"), "'containers' is a required property"),
    ("RayJob", _set("spec.shutdownAfterJobFinish", True), "'shutdownAfterJobFinish' was unexpected"),
    ("RayJob", _set("spec.rayClusterSpec.authOptions", {"mode": "password"}), "'password' is not one of"),
])
def test_a_typo_a_wrong_type_or_a_missing_required_field_is_refused(kind, edit, error):
    doc = copy.deepcopy(manifest(kind))
    edit(doc)
    assert any(error in e for e in errors(kind, doc)), errors(kind, doc)


def test_the_shipped_schemas_are_kuberay_s_pinned_release_and_small():
    total = 0
    for kind in MANIFESTS:
        s = schema(kind)
        jsonschema.Draft202012Validator.check_schema(s)
        src = s["x-source"]
        assert (src["tag"], src["licence"], src["apiVersion"]) == (KUBERAY_TAG, "Apache-2.0", "ray.io/v1")
        assert len(src["sha256"]) == 64 and src["file"].startswith("ray-operator/config/crd/bases/ray.io_")
        total += (KUBE / "crds" / f"{kind.lower()}.schema.json").stat().st_size
    assert total < 300 * 1024
    assert "Apache License" in (KUBE / "crds" / "LICENSE").read_text()


#: a CRD in miniature: a map, an int-or-string, a defaulted required field, a repeated subschema
TINY_CRD = {
    "spec": {"names": {"kind": "Tiny"}, "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
        "type": "object", "description": "dropped",
        "properties": {
            "a": {"type": "object", "properties": {"x": {"type": "string", "description": "d" * 500}}},
            "b": {"type": "object", "properties": {"x": {"type": "string", "description": "d" * 500}}},
            "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "replicas": {"type": "integer", "default": 1},
            "mode": {"type": "string", "enum": ["A", "B"]},
        },
        "required": ["replicas", "mode"],
    }}}]},
}


@pytest.mark.parametrize("doc, error", [
    ({"mode": "A", "port": 8000, "labels": {"k": "v"}, "a": {"x": "1"}}, None),
    ({"mode": "A", "port": "http"}, None),
    ({"mode": "C"}, "'C' is not one of ['A', 'B']"),
    ({}, "'mode' is a required property"),
    ({"mode": "A", "a": {"y": "1"}}, "'y' was unexpected"),
    ({"mode": "A", "port": 1.5}, "is not valid under any of the given schemas"),
    ({"mode": "A", "labels": {"k": 1}}, "1 is not of type 'string'"),
])
def test_the_reduction_keeps_what_validates(tmp_path, doc, error):
    crd = tmp_path / "tiny.yaml"
    crd.write_text(yaml.safe_dump(TINY_CRD))
    kind, s = reduce_crds.crd_schema(crd, "v1")
    assert kind == "Tiny" and "description" not in json.dumps(s)
    found = [e.message for e in jsonschema.Draft202012Validator(s).iter_errors(doc)]
    assert (found == []) if error is None else any(error in m for m in found), found


def test_the_reduction_stores_a_repeated_subschema_once(tmp_path):
    crd = tmp_path / "tiny.yaml"
    crd.write_text(yaml.safe_dump(TINY_CRD))
    tiny = copy.deepcopy(TINY_CRD)
    for p in ("a", "b"):  # long enough to share once the descriptions are gone
        tiny["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][p]["properties"].update(
            {f"f{i}": {"type": "string", "enum": [f"value-{j}" for j in range(5)]} for i in range(6)})
    crd.write_text(yaml.safe_dump(tiny))
    _, s = reduce_crds.crd_schema(crd, "v1")
    assert s["properties"]["a"] == s["properties"]["b"] and "$ref" in s["properties"]["a"] and len(s["$defs"]) == 1


# --- the Serve config inside the RayService ----------------------------------------------------------

def serve_config() -> dict[str, Any]:
    return render.embedded_config(MANIFESTS["RayService"].read_text())


def unknown_keys(model: type[pydantic.BaseModel], data: Any, where: str = "") -> list[str]:
    """Keys of ``data`` that ``model`` (a Ray Serve schema) does not have, recursively: Serve's
    schemas ignore unknown keys, so a typo would deploy silently with the default."""
    if not isinstance(data, dict):
        return []
    fields = {f.alias or k: f for k, f in model.model_fields.items()} | dict(model.model_fields)
    out = [f"{where}.{k}" for k in data if k not in fields]
    for k, value in data.items():
        if k not in fields:
            continue
        for sub in _models(fields[k].annotation):
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                out += unknown_keys(sub, item, f"{where}.{k}" + (f"[{i}]" if isinstance(value, list) else ""))
    return out


def _models(annotation: Any) -> list[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def test_the_serve_config_is_a_valid_ray_serve_config_without_unknown_keys():
    from ray.serve.schema import ServeDeploySchema

    config = serve_config()
    ServeDeploySchema.model_validate(config)
    assert unknown_keys(ServeDeploySchema, config) == []
    assert unknown_keys(ServeDeploySchema, {"applications": [{"deployments": [{"num_replicaz": 2}]}]}) == [".applications[0].deployments[0].num_replicaz"]
    [app] = config["applications"]
    assert app["import_path"] == "sensorium.deploy.application:build" and app["route_prefix"] == "/"
    assert set(app["args"]) <= {"stages", "options", "service", "batching"}
    assert {d["name"] for d in app["deployments"]} <= {"api", "streams", *app["args"]["stages"]}
    assert config["http_options"] == {"host": "0.0.0.0", "port": 8000}
    assert app["args"]["service"]["host"] == "0.0.0.0"  # so the service requires its token


def test_the_serve_config_is_deploy_serve_yaml_with_the_cluster_overlay():
    if not render.SERVE_CONFIG.exists():
        pytest.skip("deploy/serve.yaml (H3's Serve config, #12) is not in this tree yet")
    assert serve_config() == render.cluster_config(), "stale: run python scripts/render_serve_config.py"


@pytest.mark.parametrize("base, overlay, expected", [
    ({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}, {"a": {"b": 1, "c": 3}}),
    ({"applications": [{"name": "s", "deployments": [{"name": "api", "n": 1}]}]},
     {"applications": [{"name": "s", "deployments": [{"name": "detect", "g": 1}, {"name": "api", "n": 2}]}]},
     {"applications": [{"name": "s", "deployments": [{"name": "api", "n": 2}, {"name": "detect", "g": 1}]}]}),
    ({"stages": ["detect", "face"]}, {"stages": ["detect"]}, {"stages": ["detect"]}),
])
def test_the_overlay_merges_key_by_key_and_named_items_by_name(base, overlay, expected):
    assert render.merge(base, overlay) == expected


def test_the_overlay_cannot_name_an_application_the_config_lacks():
    with pytest.raises(ValueError, match="application 'other'"):
        render.merge({"applications": [{"name": "sensorium"}]}, {"applications": [{"name": "other"}]})


def test_render_rewrites_only_the_serve_config_block():
    text = MANIFESTS["RayService"].read_text()
    config = serve_config()
    config["applications"][0]["args"]["stages"] = ["face"]
    out = render.render(text, config)
    assert render.embedded_config(out) == config
    assert yaml.safe_load(out)["spec"]["rayClusterConfig"] == manifest("RayService")["spec"]["rayClusterConfig"]
    assert render.render(text, serve_config()) == text  # the shipped block is exactly what render writes


# --- the cluster around it -----------------------------------------------------------------------

def _containers(kind: str) -> dict[str, dict[str, Any]]:
    return {g: t["spec"]["containers"][0] for g, t in pod_templates(cluster_spec(kind)).items()}


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_every_pod_runs_the_same_cuda_image_unprivileged(kind):
    containers = _containers(kind)
    images = {c["image"] for c in containers.values()}
    assert len(images) == 1 and images.pop().endswith("-cuda"), "Ray needs the same Python and Ray on every node"
    assert cluster_spec(kind)["rayVersion"] == "2.60.0"
    assert cluster_spec(kind)["authOptions"] == {"mode": "token"}, "Ray's dashboard runs whatever job it is sent"
    for group, template in pod_templates(cluster_spec(kind)).items():
        sc = template["spec"]["securityContext"]
        assert sc["runAsNonRoot"] and sc["runAsUser"] == 10001 == sc["fsGroup"], group  # the Dockerfiles' USER


def test_gpu_deployments_fit_the_gpu_worker_group():
    app = serve_config()["applications"][0]
    gpus = {d["name"]: d.get("ray_actor_options", {}).get("num_gpus", 0) for d in app["deployments"]}
    assert gpus["detect"] == 1 and "cuda" in app["args"]["options"]["detect"]["providers"]
    groups = {g["groupName"]: g for g in cluster_spec("RayService")["workerGroupSpecs"]}
    gpu = groups["gpu-workers"]
    container = gpu["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["maxReplicas"] >= sum(1 for g in gpus.values() if g)
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["template"]["spec"]["tolerations"]
    assert all("nvidia.com/gpu" not in c["resources"]["limits"] for g, c in _containers("RayService").items() if g != "gpu-workers")


def test_probes_the_head_on_ray_and_the_workers_on_the_application():
    """The operator deploys the Serve config only once the head is Ready (KubeRay's
    rayservice_controller reconcileServe), so the head must not wait for /readyz."""
    containers = _containers("RayService")
    head = containers.pop("head")
    assert head["readinessProbe"]["httpGet"] == head["livenessProbe"]["httpGet"] == {"path": "/api/healthz", "port": 52365}
    for group, c in containers.items():
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8000}, group
        assert c["livenessProbe"]["httpGet"]["port"] != 8000, f"{group}: liveness must not depend on the application"


def test_the_token_comes_from_a_secret_on_every_pod():
    for group, template in pod_templates(cluster_spec("RayService")).items():
        c = template["spec"]["containers"][0]
        env = {e["name"]: e["value"] for e in c["env"]}
        mount = next(m for m in c["volumeMounts"] if m["name"] == "token")
        assert env["SENSORIUM_TOKEN_FILE"] == mount["mountPath"] + "/token" and mount["readOnly"], group
        volume = next(v for v in template["spec"]["volumes"] if v["name"] == "token")
        assert volume["secret"]["secretName"] == "sensorium-token"


def test_the_rayjob_runs_sensorium_batch_into_the_head_s_volume():
    from sensorium.stages.base import build_config

    doc = manifest("RayJob")
    argv = shlex.split(doc["spec"]["entrypoint"])
    assert argv[:2] == ["sensorium", "batch"] and argv[argv.index("--ray-address") + 1] == "auto"
    assert argv[argv.index("-i") + 1].startswith("s3://")
    stages = argv[argv.index("--stages") + 1].split(",")
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    for s in sets:  # what the CLI would refuse is refused here
        (stage, option), value = s.split("=", 1)[0].split("."), s.split("=", 1)[1]
        assert stage in stages
        build_config(stage, {option: value})
    out = argv[argv.index("-o") + 1]
    head = cluster_spec("RayJob")["headGroupSpec"]["template"]["spec"]
    mount = next(m for m in head["containers"][0]["volumeMounts"] if out.startswith(m["mountPath"]))
    assert not mount.get("readOnly") and "persistentVolumeClaim" in next(v for v in head["volumes"] if v["name"] == mount["name"])
    assert doc["spec"]["shutdownAfterJobFinishes"] is True


# --- the Serve config on a real local Ray ----------------------------------------------------------

def _answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def _deploy(dashboard: str, config: dict[str, Any], ray_token: str, timeout: float) -> dict[str, Any]:
    """PUT the config to Ray's dashboard as KubeRay does (with the cluster's token in
    X-Ray-Authorization), and wait for the application to run (a bound, not a speed check)."""
    url, auth = f"{dashboard}/api/serve/applications/", {"X-Ray-Authorization": f"Bearer {ray_token}"}
    deadline = time.monotonic() + timeout
    while not _answers(f"{dashboard}/api/version", auth):
        if time.monotonic() > deadline:
            pytest.fail(f"Ray's dashboard did not answer within {timeout:.0f} s")
        time.sleep(0.5)
    assert httpx.put(url, json=config, timeout=60).status_code == 401  # authOptions mode token: closed without it
    r = httpx.put(url, json=config, headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    while time.monotonic() < deadline:
        apps = httpx.get(url, headers=auth, timeout=30).json().get("applications", {})
        status = apps.get("sensorium", {}).get("status")
        if status == "RUNNING":
            return apps["sensorium"]
        if status == "DEPLOY_FAILED":
            pytest.fail(f"the Serve config did not deploy: {apps['sensorium'].get('message')}")
        time.sleep(0.5)
    pytest.fail(f"the application is not RUNNING after {timeout:.0f} s")


def _session(sid: int) -> list[int]:
    """Live processes of session ``sid`` (Linux /proc): everything ``ray start`` started."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if d.name.isdigit() and int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(d.name))
        except (OSError, ValueError):
            continue
    return out


def _stop_session(proc: subprocess.Popen) -> None:
    """SIGKILL every process of ``proc``'s session and wait (up to 60 s) until none is left.

    Not SIGTERM first: how a head shuts down is not this test's subject, and Ray's graceful
    exit of a whole head with a Serve application took 36 s of the test's 160 (load 16)."""
    deadline = time.monotonic() + 60
    while (pids := _session(proc.pid)) and time.monotonic() < deadline:
        for pid in pids:  # again while any is left: a raylet may start a worker while we look
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    proc.wait(timeout=10)


@contextlib.contextmanager
def ray_head(env: dict[str, str], gpus: float, log: Path):
    """A Ray head started as KubeRay's head container starts it (``ray start --head --block``),
    in a session of its own on free ports; yields the dashboard's URL."""
    ports = {flag: free_port() for flag in ("port", "dashboard-port", "dashboard-agent-listen-port", "ray-client-server-port",
                                             "metrics-export-port", "runtime-env-agent-port")}
    cmd = [sys.executable, "-c", "from ray.scripts.scripts import main; main()", "start", "--head", "--block",
           "--dashboard-host=127.0.0.1", "--include-dashboard=true", "--num-cpus=8", f"--num-gpus={gpus:g}",
           *[f"--{flag}={port}" for flag, port in ports.items()]]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{ports['dashboard-port']}"
    finally:
        _stop_session(proc)


@pytest.mark.slow
def test_the_rayservice_serve_config_deploys_on_a_local_ray(data_dir, tmp_path):
    """The RayService's serveConfigV2, changed only in where the proxy listens (a free loopback
    port), deployed on a ``ray start --head`` with token authentication through the dashboard's
    REST API, as the operator does; Ray is told it has as many GPUs as the config asks for
    (logical ones: onnxruntime falls back to its CPU provider)."""
    if importlib.util.find_spec("sensorium.deploy.application") is None:
        pytest.skip("sensorium.deploy.application (H3's Serve application builder, #12) is not in this tree yet")
    config = serve_config()
    port = free_port()
    config["http_options"] = {"host": "127.0.0.1", "port": port}
    gpus = sum(d.get("ray_actor_options", {}).get("num_gpus", 0) * d.get("num_replicas", 1)
               for a in config["applications"] for d in a.get("deployments", []))
    token, ray_token = "k8s-config-test-token", secrets.token_hex(32)
    (tmp_path / "token").write_text(token + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "SENSORIUM_TOKEN")}
    env |= {"SENSORIUM_TOKEN_FILE": str(tmp_path / "token"),  # as the pods' Secret mount
            "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": ray_token,  # what authOptions {mode: token} gives every pod
            "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60"}  # a loaded 2-core machine starts the proxy slowly
    with ray_head(env, gpus, tmp_path / "ray.log") as dashboard:
        _deploy(dashboard, config, ray_token, timeout=540)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/healthz", timeout=30).status_code == 200
        image = base64.b64encode((data_dir / "photos" / "zidane.jpg").read_bytes()).decode()
        body = {"image": image, "stages": config["applications"][0]["args"]["stages"]}
        assert httpx.post(url + "/v1/perceive", json=body, timeout=120).status_code == 401  # the token is required
        r = httpx.post(url + "/v1/perceive", json=body, timeout=300, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert set(out["results"]) == set(body["stages"]) and out["errors"] == {}, out
