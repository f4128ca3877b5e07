"""The pose sigma head's features: the extra graph output, heatmap statistics, the JSON contract, the shipped file."""

from __future__ import annotations

import json

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from sensorium.models.arch.mediapipe import pose
from sensorium.models.arch.mediapipe.files import onnx_file
from sensorium.models.arch.mediapipe.roi import crop
from sensorium.models.hub.files import sha256_file
from sensorium.models.zoo import pose_sigma as ps


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    src = onnx_file("mediapipe_pose_landmark_full", cache_dir=tmp_path_factory.mktemp("cache"))
    return src, ps.feature_graph(src)


def _session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def test_the_feature_graph_adds_pooled_features_drops_the_mask_and_changes_nothing_else(graphs, data_dir):
    src, dst = graphs
    rgb = cv2.imread(str(data_dir / "faces/lin-manuel-miranda.png"))[:, :, ::-1].copy()
    h, w = rgb.shape[:2]
    patch, _ = crop(rgb, pose.roi_from_detection(np.array([[w / 2, h * 0.8], [w / 2, h * 0.2], [0, 0], [0, 0]], np.float32)), 256)
    x = (patch[None].astype(np.float32) / 255).repeat(2, axis=0)
    a, b = _session(src), _session(dst)
    ref = dict(zip([o.name for o in a.get_outputs()], a.run(None, {"input_1": x})))
    got = dict(zip([o.name for o in b.get_outputs()], b.run(None, {"input_1": x})))
    assert set(got) == set(ps.STAGE_OUTPUTS) | {ps.POOLED_OUTPUT} and set(ps.STAGE_OUTPUTS) <= set(ref)
    assert len(onnx.load(str(dst)).graph.node) < len(onnx.load(str(src)).graph.node)  # the mask's branch is gone
    for name in ps.STAGE_OUTPUTS:
        assert np.array_equal(ref[name], got[name]), name
    pooled = got[ps.POOLED_OUTPUT]
    assert pooled.shape == (2, ps.FEATURE_CHANNELS) and (pooled >= 0).all() and (pooled <= 6).all()  # after ReLU6
    feats = ps.crop_features(got["Identity"], got["Identity_1"], got["Identity_3"], pooled, np.array([300.0, 300.0]))
    assert feats.shape == (2, ps.NUM_FEATURES) and np.isfinite(feats).all()


def test_a_graph_without_the_feature_tensor_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(g), str(tmp_path / "other.onnx"))
    with pytest.raises(ValueError, match="relu6__558"):
        ps.feature_graph(tmp_path / "other.onnx")


def test_heatmap_statistics_find_a_peak_beside_the_regressed_point():
    """A heatmap peak 2 cells (8 crop pixels) right of and 1 cell above the regressed point."""
    heat = np.full((1, 64, 64, 39), -10.0, np.float32)
    xy = np.full((1, 33, 2), 128.0, np.float32)  # crop pixels: cell 32
    heat[0, 31, 34, :] = 10.0
    stats = ps._heatmap_stats(heat, xy)  # (1, 33, 6): dx, dy, |dx|, |dy|, spread, peak
    cell_centre_offset = np.array([(34.5 * 4 - 128) / 256, (31.5 * 4 - 128) / 256])
    assert np.allclose(stats[0, :, :2], cell_centre_offset, atol=2e-3)
    assert np.allclose(stats[0, :, 5], 1.0, atol=1e-4) and (stats[0, :, 4] < 0.01).all()


def test_crop_features_name_wrong_shapes():
    with pytest.raises(ValueError, match=r"expected landmarks \(B, 195\)"):
        ps.crop_features(np.zeros((2, 190)), np.zeros((2, 1)), np.zeros((2, 64, 64, 39)), np.zeros((2, 288)), np.ones(2))


def test_a_head_for_other_features_is_refused(tmp_path):
    info = {"features_version": ps.FEATURES_VERSION + 1, "num_features": 10, "feature_mean": [0.0] * 10, "feature_std": [1.0] * 10,
            "predicted_coverage": {"1": 0.5, "2": 0.9}, "command": "x"}
    (tmp_path / "h.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="retrain it"):
        ps.SigmaHeadInfo.load(tmp_path / "h.json")


@pytest.mark.skipif(not ps.WEIGHTS_FILE.is_file(), reason="no shipped head")
def test_the_shipped_head_matches_its_pin_and_says_how_it_was_made():
    assert ps.WEIGHTS_SHA256 is not None and sha256_file(ps.WEIGHTS_FILE) == ps.WEIGHTS_SHA256
    info = ps.SigmaHeadInfo.load(ps.CONFIG_FILE)
    assert info.command.startswith("sensorium train pose") and 0 < info.predicted_coverage["1"] < info.predicted_coverage["2"] < 1
