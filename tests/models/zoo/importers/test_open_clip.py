"""open_clip importer: an open_clip state dict written here (random weights, a small config, CLIP
and SigLIP) imports through ``sensorium models import open_clip`` and the embed stage then gives
open_clip's own embeddings (within 1e-4) through its exported ONNX towers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sensorium.models.zoo.importers.open_clip import import_open_clip
from sensorium.pipeline.cli.models import app

runner = CliRunner()
CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32, "mlp_ratio": 2.0},
    "text_cfg": {"context_length": 12, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def _open_clip_checkpoint(tmp_path, family: str):
    """(open_clip model, checkpoint path, config path): random weights in open_clip's own format."""
    from open_clip.model import CLIP

    torch.manual_seed(0)
    model = CLIP(CONFIG["embed_dim"], CONFIG["vision_cfg"], CONFIG["text_cfg"], init_logit_bias=-10.0 if family == "siglip" else None).eval()
    path, cfg = tmp_path / f"{family}.bin", tmp_path / "config.json"
    torch.save(model.state_dict(), path)
    cfg.write_text(json.dumps(CONFIG))
    return model, path, cfg


@pytest.mark.slow
@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_an_open_clip_checkpoint_imports_and_embeds_as_open_clip_does(imported_open_clip, family):
    imported = imported_open_clip(family)  # imported by the CLI (conftest.py), the stage set up on it
    meta, stage, model = imported.meta, imported.stage, imported.model
    assert meta["family"] == family and meta["input_size"] == [32, 32] and meta["license"] == "MIT"
    from sensorium.stages.embed.stage import preprocess

    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    got = stage.embed_images([image])
    batch = preprocess([image], (32, 32), stage.meta["mean"], stage.meta["std"])
    tokens = np.asarray(stage._tokenizer(["a photo of a cat."]), dtype=np.int64)
    with torch.no_grad():
        ref_image = model.encode_image(torch.from_numpy(batch), normalize=True).numpy()
        ref_text = model.encode_text(torch.from_numpy(tokens), normalize=True).numpy()
    assert np.abs(got - ref_image).max() <= 1e-4
    assert np.abs(stage.embed_text(["a photo of a cat."]) - ref_text).max() <= 1e-4
    assert stage._family == family


def test_a_checkpoint_of_another_architecture_is_refused_naming_the_keys(tmp_path):
    _, path, cfg = _open_clip_checkpoint(tmp_path, "clip")
    state = torch.load(path, weights_only=True)
    state.pop("text_projection")
    state["extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)  # a DDP training checkpoint
    with pytest.raises(ValueError, match=r"1 missing \(text_projection\), 1 unexpected \(extra.weight\)"):
        import_open_clip(path, tmp_path / "x.pt", config_json=cfg)
    result = runner.invoke(app, ["models", "import", "open_clip", str(path)])
    assert result.exit_code == 2 and "--model" in result.output


@pytest.mark.slow
def test_an_imported_checkpoint_exports_its_two_towers_with_parity_recorded(tmp_path):
    _, path, cfg = _open_clip_checkpoint(tmp_path, "clip")
    out = import_open_clip(path, tmp_path / "imported.pt", config_json=cfg, license="MIT")
    result = runner.invoke(app, ["export", str(out), "--out", str(tmp_path / "onnx")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "onnx" / "clip.manifest.json").read_text())
    assert set(manifest["towers"]) == {"image", "text"}
    for tower in manifest["towers"].values():
        assert (tmp_path / "onnx" / tower["file"]).is_file() and 0 <= tower["max_abs_error"] <= 1e-4
    assert manifest["contract"]["license"] == "MIT" and len(manifest["contract"]["source"]["sha256"]) == 64
