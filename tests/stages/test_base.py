"""The stage contract: the registry and per-item failure isolation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sensorium.stages.base import Stage, build_stage, get_stage_class, register_stage, stage_names
from sensorium.stages.config import StageConfig, config_from_dict
from sensorium.stages.frame import Frame
from sensorium.stages.results import Embeddings


@dataclass(frozen=True)
class MeanConfig(StageConfig):
    scale: float = 1.0
    strict: bool = False
    channels: tuple = (0, 1, 2)


class Mean(Stage):
    """Mean brightness per frame; refuses all-black images in strict mode."""

    name = "test-mean"
    Config = MeanConfig
    calls = 0

    def process(self, frames):
        type(self).calls += 1
        out = []
        for f in frames:
            if self.config.strict and not f.image.any():
                raise ValueError("all-black image")
            out.append(Embeddings(vectors=[[f.image.mean() * self.config.scale]]))
        return out


class NeedsMean(Stage):
    name = "test-needs-mean"
    requires = ("test-mean",)

    def process(self, frames):
        return [Embeddings(vectors=f.results["test-mean"].vectors) for f in frames]


register_stage(Mean)
register_stage(NeedsMean)


def frame(seq: int, value: int) -> Frame:
    return Frame("src", seq, image=np.full((4, 4, 3), value, np.uint8))


def test_config_from_dict_types_values_and_names_unknown_keys():
    cfg = config_from_dict(MeanConfig, {"scale": "2.5", "strict": "true", "channels": [0]})
    assert cfg == MeanConfig(scale=2.5, strict=True, channels=(0,))
    with pytest.raises(ValueError, match="unknown option.*bogus.*known: channels, scale, strict"):
        config_from_dict(MeanConfig, {"bogus": 1})


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="registered twice"):
        register_stage(Mean)
    with pytest.raises(ValueError, match="unknown stage 'nope'"):
        get_stage_class("nope")
    assert "depth" in stage_names() and "test-mean" in stage_names()
    assert isinstance(build_stage("test-mean", {"scale": 2}), Mean)


def test_a_bad_item_in_a_batch_keeps_its_neighbours():
    stage = Mean({"strict": True})
    frames = [frame(0, 10), frame(1, 0), frame(2, 30)]
    out = stage(frames)
    assert out == frames  # same frames, same order
    assert [float(f.results["test-mean"].vectors[0, 0]) for f in (out[0], out[2])] == [10.0, 30.0]
    assert out[1].errors == {"test-mean": "src#1: test-mean: all-black image"}
    assert all("test-mean" in f.timings for f in (out[0], out[2]))


def test_source_errors_and_missing_requirements_are_skipped_with_reasons():
    bad = Frame("src", 5, errors={"source": "x.jpg: truncated"})
    frames = Mean({"strict": True})([frame(0, 0), bad, frame(2, 9)])
    frames = NeedsMean()(frames)
    assert "test-mean" not in bad.errors and "test-needs-mean" not in bad.errors  # nothing to compute on
    assert "test-mean failed: src#0: test-mean: all-black image" in frames[0].errors["test-needs-mean"]
    assert "test-needs-mean" in frames[2].results
    lonely = NeedsMean()([frame(7, 1)])[0]
    assert "no earlier stage produced" in lonely.errors["test-needs-mean"]


def test_a_whole_good_batch_is_one_call():
    Mean.calls = 0
    Mean()([frame(i, i) for i in range(5)])
    assert Mean.calls == 1


def test_check_chain_names_the_missing_upstream_stage():
    from sensorium.stages.base import build_config, check_chain
    from sensorium.stages.config import ConfigError

    check_chain([("face", build_config("face")), ("gaze", build_config("gaze"))])
    check_chain([("pose", build_config("pose"))])  # its own detector: needs nothing upstream
    with pytest.raises(ConfigError, match=r"stage 'gaze' needs the 'face' stage before it \(e.g. --stages face,gaze\)"):
        check_chain([("gaze", build_config("gaze")), ("face", build_config("face"))])
    with pytest.raises(ConfigError, match=r"'pose' needs the 'detect' stage before it, which is not in the list \(e.g. --stages depth,detect,pose\)"):
        check_chain([("depth", build_config("depth")), ("pose", build_config("pose", {"persons": "detect"}))])
