"""The Serve config file parsed once into a typed value: the shipped example parses, and every
bad key is refused with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorium.pipeline.serve.config import ServeConfigError, parse_app_args, parse_serve_config, read_serve_config

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_example_parses_with_every_deployment_named():
    config = read_serve_config(REPO / "deploy" / "serve.yaml")
    assert config.app.args.stages == ["detect", "face"]
    assert {d.name for d in config.app.deployments} == {"api", "detect", "face"}
    assert config.app.deployment("detect").serve_options()["max_queued_requests"] == 32
    assert config.app.deployment("api").serve_options()["backpressure_config"] == {"status_code": 503, "retry_after_s": 1.0}


def _app(**app) -> dict:
    return {"applications": [app]}


@pytest.mark.parametrize("data, match", [
    ({"http_option": {}}, "http_option: unknown key"),
    ({"http_options": {"port": 70000}}, "http_options.port"),
    (_app(import_path="other.module:build"), "import_path"),
    (_app(args={"stages": ["detect", "detect"]}), "each stage once"),
    (_app(args={"stages": ["detect"], "batching": {"face": {}}}), "batching: stage(s) face not in stages"),
    (_app(args={"stages": ["detect"], "batching": {"detect": {"max_batch_size": 0}}}), "batching.detect.max_batch_size"),
    (_app(args={"stages": ["detect"], "batching": {"detect": {"batch_wait_timeout_s": float("inf")}}}), "batch_wait_timeout_s"),
    (_app(deployments=[{"name": "detect", "max_ongoing": 3}]), "deployments.0.max_ongoing: unknown key"),
    (_app(deployments=[{"name": "nope"}]), "nope is not a deployment of this application"),
    (_app(deployments=[{"name": "detect", "ray_actor_options": {"num_cpus": -1}}]), "ray_actor_options.num_cpus"),
    ({"applications": []}, "applications"),
])
def test_bad_keys_are_refused_with_their_path(data, match):
    with pytest.raises(ServeConfigError, match=match.replace("(", r"\(").replace(")", r"\)")):
        parse_serve_config(data)


def test_builder_args_are_checked_too():
    assert parse_app_args(None).stages == ["detect", "face"]
    with pytest.raises(ServeConfigError, match="args: stages: unknown key|args: stage: unknown key"):
        parse_app_args({"stage": ["detect"]})
