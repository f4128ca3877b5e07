"""The pipeline config builds each stage's frozen config object once, at the edge."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sensorium.pipeline.stream.config import PipelineConfig, StageSpec, merge_options
from sensorium.pipeline.stream.reader import DropPolicy
from sensorium.stages.config import ConfigError
from sensorium.stages.depth.stage import DepthConfig
from sensorium.stages.face.stage import FaceConfig


def test_a_spec_carries_its_stage_s_typed_config():
    spec = StageSpec("depth", {"num_disparities": "128", "point_cloud": "yes"}, replicas="2")
    assert spec.config == DepthConfig(num_disparities=128, point_cloud=True) and spec.replicas == 2
    assert spec.options == {"num_disparities": "128", "point_cloud": "yes"}  # what was given, for the record


def test_a_config_object_is_taken_as_is_and_survives_replace():
    cfg = DepthConfig(num_disparities=32, focal_px=500.0)
    spec = StageSpec("depth", cfg)
    assert spec.config == cfg and spec.options == {"num_disparities": 32, "focal_px": 500.0}
    assert replace(spec, replicas=3).config == cfg
    assert replace(spec, options={"num_disparities": 48}).config == DepthConfig(num_disparities=48)  # rebuilt from the new options


def test_stage_options_merge_nested_mappings_and_rebuild_the_config():
    cfg = PipelineConfig(stages=(StageSpec("face", {"quality": {"min_size": 20}, "threads": 1}),))
    cfg = cfg.with_stage_options("face", quality={"max_yaw": "0.3"}, threshold="none")
    (spec,) = cfg.stages
    assert spec.config == FaceConfig(quality={"min_size": 20, "max_yaw": 0.3}, threads=1, threshold=None)
    assert merge_options({"a": {"b": 1}, "c": 2}, {"a": {"d": 3}}) == {"a": {"b": 1, "d": 3}, "c": 2}


@pytest.mark.parametrize("build, message", [
    (lambda: StageSpec("depth", {"point_cloud": "ture"}), "depth.point_cloud: expected true or false, got 'ture'"),
    (lambda: StageSpec("depth", max_batch="4x"), "stages.depth.max_batch: expected an integer, got '4x'"),
    (lambda: StageSpec("telepathy"), "unknown stage 'telepathy'"),
    (lambda: PipelineConfig(stages=(StageSpec("depth"),), drop_policy="newest"),
     "drop_policy: expected one of block, drop_oldest, latest_only or none, got 'newest'"),
    (lambda: PipelineConfig.from_dict({"stages": [{"name": "depth", "replicas": "two"}]}), "stages.depth.replicas: expected an integer, got 'two'"),
    (lambda: PipelineConfig.from_dict({"stages": [{"name": "depth", "speed": 1}]}), "stage 'depth': unknown key(s) speed"),
    (lambda: PipelineConfig.from_dict({"stages": "depth"}), "stages: expected a list of stage names"),
])
def test_bad_values_are_config_errors_naming_the_key(build, message):
    with pytest.raises(ValueError) as info:
        build()
    assert message in str(info.value)
    if "unknown stage" not in message:
        assert isinstance(info.value, ConfigError)


def test_the_drop_policy_is_the_reader_s_vocabulary():
    cfg = PipelineConfig(stages=(StageSpec("depth"),), drop_policy="Latest_Only")
    assert cfg.drop_policy is DropPolicy.LATEST_ONLY


def test_the_reconnect_policy_and_drain_timeout_come_from_the_yaml_mapping_typed():
    from sensorium.pipeline.io.sources import ReconnectPolicy

    cfg = PipelineConfig.from_dict({"stages": ["depth"], "reconnect": {"max_attempts": "3", "max_delay_s": 2, "give_up_after_s": "30"},
                                    "drain_timeout_s": "5"})
    assert cfg.reconnect == ReconnectPolicy(max_delay_s=2.0, max_attempts=3, give_up_after_s=30.0) and cfg.drain_timeout_s == 5.0
    assert PipelineConfig.from_dict({"stages": ["depth"]}).reconnect is None


@pytest.mark.parametrize("extra, message", [
    ({"reconnect": {"max_attemps": 3}}, "reconnect: unknown option(s) max_attemps"),
    ({"reconnect": {"give_up_after_s": -1}}, "give_up_after_s > 0"),
    ({"reconnect": {"max_attempts": "many"}}, "reconnect.max_attempts: expected an integer"),
    ({"drain_timeout_s": -2}, "drain_timeout_s must be >= 0, got -2"),
])
def test_a_bad_reconnect_or_drain_value_is_named(extra, message):
    with pytest.raises(ValueError) as info:
        PipelineConfig.from_dict({"stages": ["depth"], **extra})
    assert message in str(info.value)


@pytest.mark.parametrize("stages, message", [
    ((StageSpec("detect"), StageSpec("zones", {"tracks": "detect"}), StageSpec("face")),
     "stage 'face' runs in parallel actors but comes after the ordered stage 'zones'.*--stages detect,face,zones"),
    ((StageSpec("detect"), StageSpec("zones", {"tracks": "detect"}, replicas=2)),
     "stage 'zones' is ordered .* replicas does not apply; got replicas=2"),
])
def test_ordered_stages_come_last_with_one_instance_per_source(stages, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig(stages=stages)
    PipelineConfig(stages=(stages[0], StageSpec("zones", {"tracks": "detect"})))  # the fixed chain is fine
