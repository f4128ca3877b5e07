"""Building the Serve application (no Ray needed to bind it): limits that could never batch are refused, the stream manager is one deployment of it."""

from __future__ import annotations

import pytest

from sensorium.pipeline.serve.application import build_application
from sensorium.pipeline.serve.config import parse_serve_config
from sensorium.pipeline.serve.streams.policy import StreamPolicy


def test_a_stage_whose_ongoing_limit_is_below_its_batch_size_is_refused():
    config = parse_serve_config({"applications": [{"args": {"stages": ["detect"], "batching": {"detect": {"max_batch_size": 8}}},
                                                   "deployments": [{"name": "detect", "max_ongoing_requests": 4}]}]})
    with pytest.raises(ValueError, match=r"deployments.detect: max_ongoing_requests \(4\) below its max_batch_size \(8\)"):
        build_application(lambda perception, streams: None, config.app, StreamPolicy())


def test_the_application_is_the_ingress_bound_over_one_deployment_per_stage():
    app = build_application(lambda perception, streams: None, parse_serve_config({}).app, StreamPolicy(max_streams=3))
    assert type(app).__name__ == "Application"
    _, stages, streams = app._bound_deployment.init_args
    assert sorted(stages) == ["detect", "face"] and streams._bound_deployment.name == "streams"
    assert streams._bound_deployment.init_args[0].max_streams == 3
