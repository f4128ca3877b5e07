"""``sensorium train embed``: fine-tune an open_clip model on image-text pairs from files.

Pairs come from a folder (each image beside a ``.txt`` caption with the same stem), a Parquet
file (columns ``path`` and ``caption``), ``generated:N`` (the captioned shapes of
:func:`~sensorium.models.training.clip_train.generated_pairs`), ``generated-icons:N`` (the
toolbar icons of :mod:`~sensorium.models.data.icons`) or ``material-icons:N`` (Google's
Material Icons rendered from ``font``, our drawn icons in the mix:
:mod:`~sensorium.models.data.material_icons`). The result is ``OUT/model.pt`` (a state
dict the embed stage loads with ``weights=``) and ``OUT/train.json`` (config, losses, recall
on a held-out tenth of the pairs before and after).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sensorium.models.training.clip_train import EmbedTrainConfig, generated_pairs, text_to_image_recall, train_steps

from sensorium.pipeline.batch.job import IMAGE_SUFFIXES
from sensorium.pipeline.io.sources import read_image


def _square(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = size / min(h, w)
    r = cv2.resize(img, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    y, x = (r.shape[0] - size) // 2, (r.shape[1] - size) // 2
    return r[y: y + size, x: x + size]


#: where Debian's fonts-material-design-icons-iconfont puts the font
MATERIAL_FONT = "/usr/share/fonts/truetype/material-design-icons-iconfont/MaterialIcons-Regular.ttf"


def load_pairs(source: str, size: int, font: str = MATERIAL_FONT) -> tuple[np.ndarray, list[str]]:
    """(images (N, size, size, 3) uint8 RGB, captions) from a folder, a Parquet file, generated:N,
    generated-icons:N or material-icons:N (drawn from the Material Icons ``font``)."""
    if source.startswith("generated:"):
        return generated_pairs(0, int(source.split(":", 1)[1]), size)
    if source.startswith("generated-icons:"):  # the GUI agent's icons (models/data/icons.py), data seed 0
        from sensorium.models.data.icons import icon_pairs

        return icon_pairs(0, int(source.split(":", 1)[1]), size)
    if source.startswith("material-icons:"):  # Material Icons from the font, data seed 0
        from sensorium.models.data.material_icons import material_pairs

        return material_pairs(font, 0, int(source.split(":", 1)[1]), size)
    p = Path(source)
    if p.is_dir():
        items = [(f, f.with_suffix(".txt")) for f in sorted(p.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES]
        items = [(f, t.read_text().strip()) for f, t in items if t.is_file()]
    elif p.suffix == ".parquet" and p.is_file():
        import pyarrow.parquet as pq

        table = pq.read_table(p, columns=["path", "caption"]).to_pylist()
        items = [(Path(r["path"]), str(r["caption"])) for r in table]
    else:
        raise FileNotFoundError(f"pairs: expected a folder of images with .txt captions, a .parquet (path, caption) or generated:N, got {source}")
    if len(items) < 8:
        raise ValueError(f"pairs: found {len(items)} image-caption pairs in {source}; need at least 8")
    images = np.stack([_square(read_image(f), size) for f, _ in items])
    return images, [c for _, c in items]


def train_embed(pairs: str, out: str | Path, *, model: str | None, family: str, weights: str | None, config_json: str | None,
                train: EmbedTrainConfig, font: str = MATERIAL_FONT) -> dict[str, Any]:
    import torch

    from sensorium.models.arch.clip import ClipSpec, build_clip
    from sensorium.stages.embed.stage import EmbedStage

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = json.loads(Path(config_json).read_text()) if config_json else None
    torch.manual_seed(train.seed)
    clip, meta = build_clip(ClipSpec(model=None if config else model, family=family, weights=weights, config=config))
    stage = EmbedStage({"model": None if config else model, "family": family, "weights": weights, "config_json": config_json})
    tokenizer = stage._make_tokenizer(ClipSpec(model=None if config else model, family=family, weights=weights, config=config), meta)
    images, captions = load_pairs(pairs, meta["size"][0], font)
    n_test = max(4, len(images) // 10)
    perm = np.random.default_rng(train.seed).permutation(len(images))
    test, fit = perm[:n_test], perm[n_test:]
    tokens = torch.as_tensor(np.asarray(tokenizer(captions)), dtype=torch.int64)
    caps = np.array(captions)
    before = text_to_image_recall(clip, images[test], list(caps[test]), tokens[torch.from_numpy(test)], meta)
    losses = [m["loss"] for m in train_steps(clip, family, images[fit], tokens[torch.from_numpy(fit)], meta, train)]
    after = text_to_image_recall(clip, images[test], list(caps[test]), tokens[torch.from_numpy(test)], meta)
    torch.save(clip.state_dict(), out / "model.pt")
    report = {"pairs": len(images), "held_out": int(n_test), "recall@1_before": before, "recall@1_after": after,
              "loss_first": float(np.mean(losses[:10])), "loss_last": float(np.mean(losses[-10:])), "family": family,
              "model": model if not config else None, "config_json": config_json, "train": train.__dict__, "weights": str(out / "model.pt")}
    (out / "train.json").write_text(json.dumps(report, indent=2))
    return report
