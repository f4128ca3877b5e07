"""The study end to end on a tiny budget: every head trained, measured, plotted, the RLE models shipped."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

from sensorium.pipeline.tools import rle_study
from sensorium.pipeline.tools.rle_study import StudyConfig, make_split, run_study


@pytest.mark.slow
def test_study_runs_end_to_end(tmp_path):
    study = StudyConfig(train_size=48, calib_size=24, test_size=24, steps=3, batch_size=8, latency_runs=2)
    results = run_study(study, tmp_path / "run", tmp_path / "img", tmp_path / "ship")
    assert json.loads((tmp_path / "run" / "results.json").read_text())["study"]["steps"] == 3
    for task in ("figures", "eyes"):
        for kind in ("rle", "l1", "heatmap"):
            r = results["tasks"][task][kind]
            assert (tmp_path / "img" / f"rle_{task}_{kind}.png").stat().st_size > 5000
            assert r["parameters"] > 0 and r["torch_cpu_ms_per_crop"] > 0
            cal = r["calibration"]
            assert 0 <= cal["coverage_2sigma_region"]["observed"] <= 1 and len(cal["reliability"]["observed"]) == 19
        assert results["tasks"][task]["l1"]["calibration"]["spearman_signal_error"] == 0.0  # L1 has no signal
        assert set(results["tasks"][task]["rle"]["calibration"]["k_sigma_boxes"]) == {"1.0", "2.0"}
    meta = json.loads((tmp_path / "ship" / "rle_eyes.json").read_text())
    assert meta["onnx_parity_max_abs"] < 1e-4 and meta["task"] == "eyes"
    radii = [meta["coverage_radius"][k] for k in sorted(meta["coverage_radius"])]
    assert np.all(np.diff(radii) > 0)  # a larger p needs a larger region
    session = ort.InferenceSession(str(tmp_path / "ship" / "rle_figures.onnx"), providers=["CPUExecutionProvider"])
    mu, sigma = session.run(None, {"images": np.random.rand(2, 64, 64, 3).astype(np.float32)})
    assert mu.shape == sigma.shape == (2, 14, 2) and (sigma > 0).all()


def test_splits_are_what_the_heads_take():
    figures, eyes = make_split("figures", 5, 4), make_split("eyes", 5, 4)
    assert figures.images.shape == (4, 64, 64, 3) and figures.targets.shape == figures.weights.shape == (4, 14, 2)
    assert np.abs(figures.targets[figures.weights > 0]).max() <= 0.5  # labelled points are inside the crop
    assert eyes.targets.shape == (4, 2) and (eyes.weights == 1).all()
    with pytest.raises(ValueError, match="task"):
        make_split("hands", 0, 1)


def test_errors_are_in_pixels_and_degrees():
    eyes = make_split("eyes", 5, 4)
    pts = rle_study._points("eyes", eyes, eyes.targets + np.array([np.radians(3.0), 0.0], np.float32), None)
    assert pts["error"] == pytest.approx(np.degrees(np.radians(3.0)) * np.cos(eyes.targets[:, 1]), rel=0.02)
    figures = make_split("figures", 5, 4)
    pts = rle_study._points("figures", figures, figures.targets + 2 / 64, None)
    assert pts["error"] == pytest.approx(np.full(len(pts["error"]), 2 * np.sqrt(2)), rel=1e-4)
    assert rle_study.accuracy("figures", np.array([1.0, 4.0, 10.0]))["pck@0.1"] == pytest.approx(2 / 3)
