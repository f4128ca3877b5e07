"""An imported open_clip checkpoint through ``sensorium run`` and ``sensorium batch`` on a real
photo: random weights in open_clip's own format (a small CLIP config), imported by
``sensorium models import open_clip``, named by ``--set embed.weights=IMPORTED.pt`` alone (the
import's JSON brings the architecture, family, size and normalisation). The vector that comes
out of Ray must be open_clip's ``encode_image`` on the same pre-processing within 1e-4."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sensorium.stages.results import Embeddings

runner = CliRunner()
TOL = 1e-4


@pytest.fixture(scope="module")
def imported(imported_open_clip):
    """(open_clip model, imported .pt, its metadata): the session's import, its towers exported
    once (conftest.py), that cache named for the module so that no Ray worker exports them again."""
    shared = imported_open_clip("clip")
    before = os.environ.get("SENSORIUM_CACHE")
    os.environ["SENSORIUM_CACHE"] = str(shared.cache)
    yield shared.model, shared.pt, shared.meta
    if before is None:
        os.environ.pop("SENSORIUM_CACHE", None)
    else:
        os.environ["SENSORIUM_CACHE"] = before


def _reference(model, image: np.ndarray, meta: dict) -> np.ndarray:
    from sensorium.stages.embed.stage import preprocess

    # the import's JSON states mean/std on pixel values in [0, 255] (the weights registry's unit); preprocess takes [0, 1]
    batch = preprocess([image], tuple(meta["input_size"]), [m / 255 for m in meta["mean"]], [s / 255 for s in meta["std"]])
    with torch.no_grad():
        return model.encode_image(torch.from_numpy(batch), normalize=True).numpy()[0]


def _photo(data_dir, name: str) -> tuple[str, np.ndarray]:
    path = data_dir / "photos" / name
    return str(path), cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.mark.slow
def test_run_gives_open_clips_vector_for_the_imported_checkpoint(imported, ray_cluster, data_dir, tmp_path):
    from sensorium.pipeline.cli.run import app

    model, pt, meta = imported
    path, image = _photo(data_dir, "bus.jpg")
    res = runner.invoke(app, ["run", "--source", path, "--stages", "embed", "--set", f"embed.weights={pt}",
                              "--sinks", "jsonl", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    frames = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert len(frames) == 1 and not frames[0]["errors"]
    got = Embeddings.from_dict(frames[0]["results"]["embed"])
    assert got.vectors.shape == (1, meta["config"]["embed_dim"])
    assert np.abs(got.vectors[0] - _reference(model, image, meta)).max() <= TOL


@pytest.mark.slow
def test_batch_gives_open_clips_vector_for_the_imported_checkpoint(imported, ray_cluster, data_dir, tmp_path):
    from sensorium.pipeline.batch.job import iter_rows
    from sensorium.pipeline.cli.batch import app

    model, pt, meta = imported
    path, image = _photo(data_dir, "zidane.jpg")
    res = runner.invoke(app, ["batch", "--input", path, "--stages", "embed", "--set", f"embed.weights={pt}",
                              "--output", str(tmp_path / "out"), "--no-report"])
    assert res.exit_code == 0, res.output
    rows = list(iter_rows(tmp_path / "out"))
    assert len(rows) == 1 and rows[0]["path"].endswith("zidane.jpg")
    got = Embeddings.from_dict(json.loads(rows[0]["results"])["embed"])
    assert np.abs(got.vectors[0] - _reference(model, image, meta)).max() <= TOL
