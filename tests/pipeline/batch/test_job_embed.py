"""Embeddings through a batch job into the index, and retrieval where the answer is known:
each image's slightly altered copy (brightness, noise) is its nearest neighbour, by image
query through ``sensorium search``. The model is a small open_clip config with random
weights (no CLIP/SigLIP weights exist here), which is enough for near-duplicate retrieval."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from sensorium.deploy.cli import app
from sensorium.models.data.shapes import ShapesConfig, make_image

SMALL = {"embed_dim": 64, "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
         "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}


@pytest.mark.slow
def test_batch_embed_index_and_search(ray_cluster, tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    shapes = ShapesConfig(size=96, min_scale=20, max_scale=80)
    for i in range(12):
        img, _, _ = make_image(123, i, shapes)
        cv2.imwrite(str(imgs / f"orig{i:02d}.png"), img[..., ::-1])
        altered = np.clip(img.astype(np.int16) + 12 + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(imgs / f"copy{i:02d}.png"), altered[..., ::-1])
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(SMALL))
    out = tmp_path / "out"
    runner = CliRunner()  # in this process, on the tests' shared Ray
    r = runner.invoke(app, ["batch", "-i", str(imgs), "--stages", "embed", "-o", str(out), "--set", f"embed.config_json={cfg}",
                            "--set", "embed.labels=circle,square"])
    assert r.exit_code == 0, r.output[-3000:] + repr(r.exception)
    assert json.loads(r.stdout.strip().splitlines()[-1])["written"] == 24
    for i in (0, 5, 11):
        q = runner.invoke(app, ["search", "--index", str(out), "--image", str(imgs / f"copy{i:02d}.png"), "-k", "2"])
        assert q.exit_code == 0, q.output[-2000:]
        hits = [json.loads(line) for line in q.output.splitlines() if line.startswith("{")]
        assert hits[0]["path"].endswith(f"copy{i:02d}.png") and hits[0]["score"] > 0.999
        assert hits[1]["path"].endswith(f"orig{i:02d}.png")  # the altered copy finds its original
    t = runner.invoke(app, ["search", "a red circle", "--index", str(out), "-k", "3", "--where", "kind=image"])
    assert t.exit_code == 0 and len([x for x in t.output.splitlines() if x.startswith("{")]) == 3
