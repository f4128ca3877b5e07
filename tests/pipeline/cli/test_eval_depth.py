"""``sensorium eval depth`` on Middlebury Motorcycle written as a user would have it on disk."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata
from typer.testing import CliRunner

from sensorium.deploy.cli import app  # the console script as users run it
from sensorium.pipeline.io.disparity import write_pfm

runner = CliRunner()


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("moto")
    left, right, gt = skdata.stereo_motorcycle()
    cv2.imwrite(str(root / "im0.png"), left[:, :, ::-1])
    cv2.imwrite(str(root / "im1.png"), right[:, :, ::-1])
    write_pfm(root / "disp0.pfm", gt)
    cv2.imwrite(str(root / "disp0.png"), np.where(np.isfinite(gt), np.rint(gt * 256), 0).astype(np.uint16))
    return root


def _args(root: Path, gt: str, *more: str) -> list[str]:
    return ["eval", "depth", "--left", str(root / "im0.png"), "--right", str(root / "im1.png"), "--gt", str(root / gt), *more]


def test_scores_pfm_and_png_alike(pair: Path) -> None:
    a = runner.invoke(app, _args(pair, "disp0.pfm", "--json"))
    b = runner.invoke(app, _args(pair, "disp0.png", "--json", "--gt-scale", "256"))
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    sa, sb = json.loads(a.stdout), json.loads(b.stdout)
    assert sa["range_method"] == "auto" and sa["coverage"] > 0.95 and sa["epe"] < 1.6 and sa["bad2"] < 0.11
    assert sb["pixels"] == sa["pixels"] and sb["epe"] == pytest.approx(sa["epe"], abs=0.01)  # 1/256 px quantisation
    # a wrong scale is visible in the scores, not hidden
    c = json.loads(runner.invoke(app, _args(pair, "disp0.png", "--json", "--gt-scale", "128")).stdout)
    assert c["epe"] > 10 * sa["epe"]


def test_table_and_explicit_range(pair: Path) -> None:
    res = runner.invoke(app, _args(pair, "disp0.pfm", "--set", "depth.num_disparities=128"))
    assert res.exit_code == 0, res.output
    assert "EPE px" in res.stdout and "bad-2 %" in res.stdout and "coverage %" in res.stdout
    assert "[0, 128) (explicit)" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gt", "missing.pfm"], "No such file"),
        (["--set", "track.max_age=3"], "only depth.OPTION"),
        (["--set", "depth.num_disparities=50"], "multiple of 16"),
    ],
)
def test_bad_input_exits_2_with_a_named_error(pair: Path, args: list[str], message: str) -> None:
    base = _args(pair, "disp0.pfm")
    if args[0] == "--gt":
        base[base.index("--gt") + 1] = str(pair / args[1])
        args = []
    res = runner.invoke(app, base + args)
    assert res.exit_code == 2 and message in res.output, res.output
