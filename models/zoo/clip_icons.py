"""The small CLIP the GUI agent's local backend grounds icons with, and its registry entry.

Trained by sensorium on :mod:`~sensorium.models.data.icons` (generated Material-like icons of
24 classes named by their accessibility names and synonyms: "more options", "navigate up",
"settings", ...) with ``sensorium train embed``, open_clip's ClipLoss and a warmup + cosine
learning rate; it knows those icon classes and nothing else, so it is a working default for
common toolbar icons, not a general image model. The open_clip
architecture is ``CONFIG_FILE`` (what ``--config-json`` took); the JSON beside the weights
records the exact commands, the data seed and the file's sha256.
"""

from __future__ import annotations

from pathlib import Path

from sensorium.models.data.icons import CLASSES, ICONS
from sensorium.models.hub.weights import LocalPath, WeightsEntry, register_weights

WEIGHTS_NAME = "clip_icons"
WEIGHTS_FILE = Path(__file__).resolve().parent / "weights" / "clip_icons.pt"
CONFIG_FILE = WEIGHTS_FILE.with_name("clip_icons_config.json")
#: sha256 of the shipped file; updated whenever it is retrained.
WEIGHTS_SHA256: str | None = "b87e97f5112633ceadfddba358a1d3d954b5741817c4dc8907b859e16fabf13d"
#: every name the model was trained on; its text tower has seen no other word, so it cannot
#: tell an unknown name ("unicorn") from a known one and the grounder refuses names not here
VOCABULARY = tuple(sorted({name for names in ICONS.values() for name in names}))
#: open_clip's CLIP normalisation on [0, 255] pixels (the registry's convention)
MEAN = (122.771, 116.746, 104.094)
STD = (68.501, 66.632, 70.323)

register_weights(WeightsEntry(
    name=WEIGHTS_NAME,
    filename=WEIGHTS_FILE.name,
    sha256=WEIGHTS_SHA256,
    sources=(LocalPath(str(WEIGHTS_FILE)),),
    license="Apache-2.0 (trained by sensorium on its generated icons)",
    description="tiny open_clip CLIP (ViT 48 px, patch 8, 3 layers of width 96; text 2 layers of width 32, CLIP BPE) "
                "trained on generated Material-like icons (24 classes) only; fp16 state dict, architecture in clip_icons_config.json",
    input_size=(48, 48), mean=MEAN, std=STD, labels=CLASSES, format="torch",
))
