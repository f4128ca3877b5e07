"""EmbedStage on small open_clip configurations with random weights (no CLIP/SigLIP weights
exist here): ONNX parity of both towers against open_clip, pre-processing, crops, zero-shot."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sensorium.models.arch.clip import ClipSpec, build_clip, export_towers
from sensorium.stages.embed.stage import EmbedConfig, EmbedStage, preprocess
from sensorium.stages.frame import Frame
from sensorium.stages.results import Detections

SMALL = {"embed_dim": 64, "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
         "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("clip") / "small.json"
    p.write_text(json.dumps(SMALL))
    return p


@pytest.fixture(scope="module", params=["clip", "siglip"])
def stage(request, config_file):
    s = EmbedStage({"model": None, "config_json": str(config_file), "family": request.param, "labels": ("cat", "dog", "car")})
    s.setup()
    return s


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_towers_export_with_parity(tmp_path, family):
    torch.manual_seed(1)
    model, meta = build_clip(ClipSpec(model=None, config=SMALL, family=family))
    report = export_towers(model, meta, tmp_path)
    assert report["image"]["max_abs_error"] <= 1e-4 and report["text"]["max_abs_error"] <= 1e-4


def test_stage_matches_open_clip(stage, config_file):
    """The stage's ONNX vectors equal open_clip's own encode_image/encode_text on the same input."""
    torch.manual_seed(0)
    model, meta = build_clip(ClipSpec(model=None, config=SMALL, family=stage.config.family))
    img = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    x = preprocess([img], meta["size"], meta["mean"], meta["std"])
    with torch.inference_mode():
        ref_img = model.encode_image(torch.from_numpy(x), normalize=True).numpy()
        import open_clip

        ref_txt = model.encode_text(open_clip.tokenize(["a photo of a cat."], context_length=16), normalize=True).numpy()
    np.testing.assert_allclose(stage.embed_images([img]), ref_img, atol=1e-4)
    np.testing.assert_allclose(stage.embed_text(["a photo of a cat."]), ref_txt, atol=1e-4)


def test_frames_with_detections_get_crop_vectors(stage):
    img = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    det = Detections(boxes=np.array([[10, 10, 60, 70], [0, 0, 4, 4]], np.float32), scores=np.array([0.9, 0.8], np.float32),
                     class_id=np.array([0, 1]), class_names=("a", "b"))
    f1, f2 = Frame("s", 0, image=img), Frame("s", 1, image=img[:50])
    f1.results["detect"] = det
    out = stage([f1, f2])
    e1, e2 = out[0].results["embed"], out[1].results["embed"]
    assert len(e1) == 2 and list(e1.data["source"]) == ["image", "detection"]  # the 4x4 box is below min_crop
    assert len(e2) == 1 and e2.boxes[0].tolist() == [0, 0, 160, 50]
    np.testing.assert_allclose(np.linalg.norm(e1.vectors, axis=1), 1.0, atol=1e-5)
    scores = stage.zero_shot(e1.vectors)
    assert scores.shape == (2, 3) and set(e1.data["label"]) <= {"cat", "dog", "car"}
    if stage.config.family == "clip":
        np.testing.assert_allclose(scores.sum(1), 1.0, atol=1e-5)  # softmax over labels
    else:
        assert ((scores > 0) & (scores < 1)).all()  # independent sigmoids


def test_preprocess_is_resize_short_side_and_centre_crop():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 50:150] = 255  # the centre half is white
    x = preprocess([img], (32, 32), (0, 0, 0), (1, 1, 1))
    assert x.shape == (1, 3, 32, 32) and x[0, :, :, 8:24].min() > 0.9  # centre crop keeps the white middle


@pytest.mark.parametrize("options, match", [
    ({"model": "ViT-B-32"}, "no weights"),
    ({"model": None, "config_json": "x.json", "prompt": "no slot"}, "prompt"),
])
def test_config_errors(options, match):
    with pytest.raises(ValueError, match=match):
        EmbedConfig(**options)


def test_named_model_with_missing_weights_file():
    with pytest.raises(FileNotFoundError, match="open_clip weights not found"):
        build_clip(ClipSpec(model="ViT-B-32", weights="/nope/clip.pt"))


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0, 1)])
def test_a_frames_vectors_do_not_depend_on_its_batch_neighbours(stage, data_dir, order):
    """Issue #14: every frame of a mixed-size batch (real photos, one with detection crops), in
    any order, gets its single-frame vectors, boxes and labels; vectors and scores within 1e-5."""
    import cv2

    paths = ["photos/bus.jpg", "photos/zidane.jpg", "faces/two_people.jpg"]
    images = [np.ascontiguousarray(cv2.imread(str(data_dir / p), cv2.IMREAD_COLOR)[..., ::-1]) for p in paths]
    det = Detections(boxes=np.array([[50, 400, 250, 900], [220, 380, 350, 860]], np.float32), scores=np.array([0.9, 0.8], np.float32),
                     class_id=np.array([0, 0]), class_names=("person",))

    def frames(idx):
        out = [Frame("s", n, image=images[i]) for n, i in enumerate(idx)]
        for f, i in zip(out, idx):
            if i == 0:
                f.results["detect"] = det
        return out

    single = [stage(frames([i]))[0].results["embed"] for i in range(len(images))]
    assert len(single[0]) == 3  # the whole image and its two crops
    for f, i in zip(stage(frames(order)), order):
        got, ref = f.results["embed"], single[i]
        assert len(got) == len(ref) and np.array_equal(got.boxes, ref.boxes), (paths[i], order)
        np.testing.assert_allclose(got.vectors, ref.vectors, atol=1e-5, rtol=0, err_msg=paths[i])
        np.testing.assert_allclose(got.data["label_score"], ref.data["label_score"], atol=1e-5, rtol=0, err_msg=paths[i])
        assert got.data["label"].tolist() == ref.data["label"].tolist() and got.data["source"].tolist() == ref.data["source"].tolist()
