"""``--set`` parsing shared by the command groups."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import pytest
import typer

from sensorium.pipeline.cli.common import parse_sets


@pytest.mark.parametrize("sets, expected, expectation", [
    (["depth.num_disparities=128"], {"depth": {"num_disparities": "128"}}, does_not_raise()),
    (["gui_agent.icons.weights=clip_icons", "gui_agent.icons.threshold=0.4", "gui_agent.min_score=60"],
     {"gui_agent": {"icons": {"weights": "clip_icons", "threshold": "0.4"}, "min_score": "60"}}, does_not_raise()),
    (["detect.providers=cuda,cpu"], {"detect": {"providers": "cuda,cpu"}}, does_not_raise()),
    (["depth=1"], None, pytest.raises(typer.BadParameter, match="expected STAGE.OPTION=VALUE, got 'depth=1'")),
    (["depth.num_disparities"], None, pytest.raises(typer.BadParameter, match="expected STAGE.OPTION=VALUE")),
    (["face.quality=1", "face.quality.min_size=2"], None, pytest.raises(typer.BadParameter, match="quality is set to a value")),
    (["face.quality.min_size=2", "face.quality=1"], None, pytest.raises(typer.BadParameter, match="is a group of options")),
])
def test_parse_sets(sets, expected, expectation):
    with expectation:
        assert parse_sets(sets) == expected
