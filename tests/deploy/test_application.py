"""The perception service on a real local Ray Serve (one start for the module): per-stage
deployments behind the ``api`` ingress over real HTTP on loopback. Results equal the stage
run directly on the same file; concurrent requests are batched and each still gets its own
result; more clients than capacity get 503 with Retry-After; a stage replica killed by its pid
mid-load is restarted and no request is answered wrongly."""

from __future__ import annotations

import base64
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from sensorium.pipeline.io.images import read_image
from sensorium.stages.base import build_stage
from sensorium.stages.frame import Frame
from sensorium.stages.results import result_from_dict

from .conftest import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
#: small queues so that a few dozen clients exceed them; a long batch wait so batches fill
CONFIG = {"applications": [{"args": {"stages": ["detect", "face"], "options": {"face": {"recognizer": "none"}},
                                     "batching": {"detect": {"max_batch_size": 4, "batch_wait_timeout_s": 0.2},
                                                  "face": {"max_batch_size": 4, "batch_wait_timeout_s": 1.5}}},
                            "deployments": [{"name": "detect", "max_ongoing_requests": 4, "max_queued_requests": 8},
                                            {"name": "face", "ray_actor_options": {"num_cpus": 0.5}}]}]}


@pytest.fixture(scope="module")
def served():
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    import ray
    from ray import serve

    from sensorium.deploy.application import build_from_config
    from sensorium.pipeline.cluster import init_ray
    from sensorium.pipeline.serve.config import parse_serve_config

    started = not ray.is_initialized()
    init_ray(num_cpus=2, log_to_driver=False)  # a Ray of its own (address "local"), never another session's cluster
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_from_config(parse_serve_config(CONFIG).app), name="sensorium", route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        if started:
            ray.shutdown()


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def direct(stage: str, path: Path, options: dict | None = None):
    (frame,) = build_stage(stage, options or {})([Frame("direct", 0, image=read_image(path))])
    return frame.results[stage]


def same_detections(got: dict, want) -> None:
    got = result_from_dict(got)
    assert len(got) == len(want)
    np.testing.assert_allclose(got.boxes, want.boxes, rtol=1e-5, atol=1e-3)
    if hasattr(want, "class_id"):
        np.testing.assert_array_equal(got.class_id, want.class_id)


def post(url: str, body: dict) -> httpx.Response:
    return httpx.post(url + "/v1/perceive", json=body, timeout=180)


def stage_metric(url: str, name: str, stage: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith(f'{name}{{stage="{stage}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_results_over_serve_equal_the_stages_run_directly(served, data_dir):
    path = data_dir / "photos" / "zidane.jpg"
    r = post(served, {"image": b64(path), "stages": ["detect", "face"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == {} and body["image_shape"] == [720, 1280, 3]
    same_detections(body["results"]["detect"], direct("detect", path))
    same_detections(body["results"]["face"], direct("face", path, {"recognizer": "none"}))
    assert len(body["results"]["face"]["boxes"]["data"]) >= 2  # two people in the photo


def test_a_stage_not_deployed_is_refused_before_decoding(served):
    r = post(served, {"image": "not even base64!", "stages": ["detect", "embed"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_options", r.text
    assert "stage(s) embed not deployed in this service (deployed: detect, face)" in r.json()["error"]["message"]


def test_readiness_asks_every_stage_deployment(served):
    import asyncio

    from ray import serve

    from sensorium.pipeline.serve.perception import ServePerception

    handles = {name: serve.get_deployment_handle(name, app_name="sensorium") for name in ("detect", "face")}
    assert asyncio.run(ServePerception(handles).ready()) == {"detect": True, "face": True}


def test_streams_are_served_by_the_streams_deployment(served):
    """/v1/streams through the ingress reaches the one ``streams`` replica: its list, and its
    policy refusing a file outside the (empty) file roots before anything starts."""
    r = httpx.get(served + "/v1/streams", timeout=60)
    assert r.status_code == 200 and r.json() == {"streams": []}, r.text
    r = httpx.post(served + "/v1/streams", json={"source": "/etc/passwd", "stages": ["face"]}, timeout=60)
    assert r.status_code == 403 and "file" in r.json()["error"]["message"], r.text
    assert httpx.get(served + "/v1/streams", timeout=60).json() == {"streams": []}


def test_concurrent_requests_are_batched_and_each_gets_its_own_result(served, data_dir):
    paths = [data_dir / "photos" / "bus.jpg", data_dir / "photos" / "zidane.jpg"]
    want = {p.name: direct("detect", p) for p in paths}
    calls_before, frames_before = stage_metric(served, "sensorium_stage_batch_size_count", "detect"), stage_metric(served, "sensorium_stage_batch_size_sum", "detect")
    jobs = [paths[i % 2] for i in range(8)]  # two sizes interleaved: each batch is split by shape
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda p: (p, post(served, {"image": b64(p), "stages": ["detect"]})), jobs))
    ok = [(p, r) for p, r in answers if r.status_code == 200]
    assert len(ok) >= 4, [r.status_code for _, r in answers]
    for p, r in answers:
        assert r.status_code in (200, 503), r.text
    for p, r in ok:
        same_detections(r.json()["results"]["detect"], want[p.name])
    calls = stage_metric(served, "sensorium_stage_batch_size_count", "detect") - calls_before
    frames = stage_metric(served, "sensorium_stage_batch_size_sum", "detect") - frames_before
    assert calls == len(ok) and frames > calls, (calls, frames)  # some frame ran in a stage call of more than one


def test_more_clients_than_capacity_get_503_with_retry_after_and_nothing_else(served, data_dir):
    image = b64(data_dir / "photos" / "bus.jpg")
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: post(served, {"image": image, "stages": ["detect"]}), range(32)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
    for r in answers:
        if r.status_code == 503:
            assert int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "overloaded", r.text
    assert 'sensorium_stage_rejected_total{reason="overloaded",stage="detect"}' in httpx.get(served + "/metrics").text


def test_a_request_whose_client_has_gone_is_cancelled_not_computed(served, data_dir):
    from ray import serve

    face = serve.get_deployment_handle("face", app_name="sensorium")
    before = stage_metric(served, "sensorium_stage_cancelled_total", "face")
    computed = face.computed.remote().result()
    with pytest.raises(httpx.ReadTimeout):  # the client gives up while its frame waits in face's batch queue (1.5 s)
        httpx.post(served + "/v1/perceive", json={"image": b64(data_dir / "photos" / "zidane.jpg"), "stages": ["face"]},
                   timeout=httpx.Timeout(60, read=0.5))
    deadline = time.monotonic() + 60
    while stage_metric(served, "sensorium_stage_cancelled_total", "face") == before:
        assert time.monotonic() < deadline, "the ingress never cancelled the stage call"
        time.sleep(0.5)
    time.sleep(3)  # past the batch wait: a frame still in the batch would have been computed by now
    assert face.computed.remote().result() == computed  # the replica dropped it from its batch


def replica_pids(deployment: str) -> list[int]:
    """Processes of the app's replicas of ``deployment`` (Ray titles them ``ray::ServeReplica:<app>:<deployment>``)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith(f"ray::ServeReplica:sensorium:{deployment} ") or cmd.strip() == f"ray::ServeReplica:sensorium:{deployment}":
                pids.append(int(d.name))
    return pids


def test_a_killed_stage_replica_is_restarted_and_no_request_is_answered_wrongly(served, data_dir):
    path = data_dir / "photos" / "bus.jpg"
    want, image = direct("detect", path), b64(path)
    [pid] = replica_pids("detect")
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(post, served, {"image": image, "stages": ["detect"]}) for _ in range(6)]
        time.sleep(0.3)  # requests in the replica's batch queue or compute
        os.kill(pid, signal.SIGKILL)
        answers = [f.result() for f in futures]
    for r in answers:
        assert r.status_code in (200, 503), r.text
        if r.status_code == 200:
            same_detections(r.json()["results"]["detect"], want)
        else:
            assert r.headers["retry-after"] and r.json()["error"]["code"] in ("overloaded", "stage_unavailable"), r.text
    deadline = time.monotonic() + 180  # a bound on Serve's restart on this loaded machine, not a speed check
    while True:
        r = post(served, {"image": image, "stages": ["detect"]})
        if r.status_code == 200:
            break
        assert r.status_code == 503 and time.monotonic() < deadline, r.text
        time.sleep(1)
    same_detections(r.json()["results"]["detect"], want)
    while not replica_pids("detect") and time.monotonic() < deadline:  # Ray titles a new worker process a moment after it starts
        time.sleep(0.5)
    assert replica_pids("detect") and pid not in replica_pids("detect")


def test_the_shipped_config_is_a_serve_deploy_config_and_its_builder_resolves():
    from ray.serve.schema import ServeDeploySchema
    from ray._common.utils import import_attr

    from sensorium.pipeline.serve.config import read_serve_config

    data = yaml.safe_load((REPO / "deploy" / "serve.yaml").read_text())
    ServeDeploySchema.model_validate(data)  # what `serve deploy` accepts
    config = read_serve_config(REPO / "deploy" / "serve.yaml")
    builder = import_attr(config.app.import_path)
    app = builder(data["applications"][0]["args"])
    assert type(app).__name__ == "Application"


def test_the_builder_assumes_a_public_proxy_unless_told(monkeypatch):
    from sensorium.deploy.application import build
    from sensorium.pipeline.serve.config import ServeConfigError

    for name in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE", "SENSORIUM_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ServeConfigError, match="args.service: refusing to listen on '0.0.0.0' without a bearer token"):
        build({"stages": ["detect"]})
    assert type(build({"stages": ["detect"], "service": {"host": "127.0.0.1"}})).__name__ == "Application"
    monkeypatch.setenv("SENSORIUM_TOKEN", "from-the-pod-environment")
    assert type(build({"stages": ["detect"]})).__name__ == "Application"  # public, with the environment's token
