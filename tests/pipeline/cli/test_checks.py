"""The checks the command line makes before Ray starts, on the real stage registry and real sources."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import pytest

from sensorium.pipeline.cli.checks import check_sources, check_stages, unfed_stage
from sensorium.pipeline.io.sources import open_source
from sensorium.stages.base import Stage, StageConfig, build_config, register_stage


class _FollowStage(Stage):
    """An ordered stage (state across a source's frames), as a tracker is."""

    name: ClassVar[str] = "h16_follow"
    ordered: ClassVar[bool] = True

    def process(self, frames: Sequence[Any]) -> list[Any]:
        return [None for _ in frames]


@dataclass(frozen=True)
class _DongleConfig(StageConfig):
    device: str = "/dev/dongle0"


class _DongleStage(Stage):
    """A stage whose defaults need hardware this machine lacks."""

    name: ClassVar[str] = "h16_dongle"
    Config: ClassVar[type] = _DongleConfig

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return False, "needs the USB dongle"

    def process(self, frames: Sequence[Any]) -> list[Any]:
        return [None for _ in frames]


register_stage(_FollowStage)
register_stage(_DongleStage)


@pytest.mark.parametrize("stage,command,expectation", [
    ("h16_follow", "run", does_not_raise()),
    ("h16_follow", "batch", pytest.raises(ValueError, match=r"stage\(s\) 'h16_follow' keep state across one source's frames.*'sensorium batch' treats each image alone")),
    ("h16_follow", "serve", pytest.raises(ValueError, match="'sensorium serve' treats each image alone")),
    ("detect", "batch", does_not_raise()),
    ("depth", "serve", does_not_raise()),
])
def test_an_ordered_stage_runs_only_under_run(stage, command, expectation):
    with expectation:
        check_stages([(stage, build_config(stage, {}))], command=command)


def test_a_stage_that_cannot_run_with_its_defaults_is_named_with_the_reason():
    with pytest.raises(ValueError, match=r"^stage 'h16_dongle' cannot run here: needs the USB dongle$"):
        check_stages([("h16_dongle", build_config("h16_dongle", {}))], command="run")
    # options other than the defaults may bring what they lack (the stage's set-up says if not)
    check_stages([("h16_dongle", build_config("h16_dongle", {"device": "/dev/other"}))], command="run")


def test_embed_with_its_weights_given_is_not_refused_for_lacking_default_weights(tmp_path):
    ckpt = tmp_path / "clip.pt"
    ckpt.write_bytes(b"x")
    check_stages([("embed", build_config("embed", {"weights": str(ckpt)}))], command="batch")


@pytest.mark.parametrize("spec,expectation", [
    ("sample", does_not_raise()),
    ("sample:rgbd", does_not_raise()),
    ("video", pytest.raises(ValueError, match=r"stage 'depth' needs a stereo pair or an RGB-D source, and source 'vtest' gives "
                                              r"single images\. Give a stereo pair: --left L --right R .*--source rgbd:FOLDER")),
])
def test_depth_needs_a_stereo_pair_or_rgbd_and_the_error_says_how_to_give_one(spec, expectation, data_dir):
    src = open_source(str(data_dir / "video" / "vtest.avi") if spec == "video" else spec,
                      source_id="vtest" if spec == "video" else None)
    with expectation:
        check_sources(["detect", "depth"], [src])
    assert unfed_stage("detect", [src]) is None  # a single image is all detect needs


def test_registered_public_weights_that_are_not_here_are_named_before_anything_starts(tmp_path, monkeypatch):
    from sensorium.stages.detect.stage import DetectConfig

    monkeypatch.setenv("SENSORIUM_CACHE", str(tmp_path))
    with pytest.raises(ValueError) as info:
        check_stages([("detect", DetectConfig(weights="detr-r50-coco"))], command="run")
    message = str(info.value)
    for part in ("detr-r50-e632da11.pth", "https://dl.fbaipublicfiles.com/detr/detr-r50-e632da11.pth",
                 str(tmp_path / "detr-r50-e632da11.pth"), "sensorium models pull detr-r50-coco"):
        assert part in message, message
    check_stages([("detect", DetectConfig())], command="run")  # the shipped weights are here: no complaint
