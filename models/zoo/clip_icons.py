"""The small CLIP the GUI agent's local backend grounds icons with, and its registry entry.

Trained by sensorium on :mod:`~sensorium.models.data.material_icons`: Google's Material Icons
rendered from their font (2035 glyphs, each named by its Material name in words and, for the
common ones, the accessibility names apps give it: "more options", "navigate up"), with our
OpenCV-drawn icons (:mod:`~sensorium.models.data.icons`) in the mix, by ``sensorium train
embed`` with open_clip's ClipLoss and a warmup + cosine learning rate, starting from the
previous weights (trained on the drawn icons alone). It knows those icons and their names and
nothing else: a working default for app and toolbar icons, not a general image model. The open_clip
architecture is ``CONFIG_FILE`` (what ``--config-json`` took); the JSON beside the weights
records the exact commands, the data seed and the file's sha256.
"""

from __future__ import annotations

from pathlib import Path

from sensorium.models.data.material_icons import class_names
from sensorium.models.data.material_names import CLASSES
from sensorium.models.hub.weights import LocalPath, WeightsEntry, register_weights

WEIGHTS_NAME = "clip_icons"
WEIGHTS_FILE = Path(__file__).resolve().parent / "weights" / "clip_icons.pt"
CONFIG_FILE = WEIGHTS_FILE.with_name("clip_icons_config.json")
#: sha256 of the shipped file; updated whenever it is retrained.
WEIGHTS_SHA256: str | None = "2b4d5ab0ec2c38c8ec26ed53b3e8b09ec4501a0eb98daf578f8652bf63afbb07"
#: class → its names, the first its Material name in words; VOCABULARY: every name the model
#: was trained on; its text tower has seen no other word, so it cannot tell an unknown name
#: ("unicorn") from a known one and the grounder refuses names not here
NAMES: dict[str, tuple[str, ...]] = {cls: class_names(cls) for cls in CLASSES}
VOCABULARY = tuple(sorted({name for names in NAMES.values() for name in names}))
#: open_clip's CLIP normalisation on [0, 255] pixels (the registry's convention)
MEAN = (122.771, 116.746, 104.094)
STD = (68.501, 66.632, 70.323)

register_weights(WeightsEntry(
    name=WEIGHTS_NAME,
    filename=WEIGHTS_FILE.name,
    sha256=WEIGHTS_SHA256,
    sources=(LocalPath(str(WEIGHTS_FILE)),),
    license="Apache-2.0 (trained by sensorium on Google's Material Icons font, Apache-2.0, and its own drawn icons)",
    description="tiny open_clip CLIP (ViT 48 px, patch 8, 3 layers of width 96; text 2 layers of width 32, CLIP BPE) "
                "trained on Google's Material Icons rendered from the font (2035 glyphs by their names and common synonyms) "
                "and sensorium's drawn icons; fp16 state dict, architecture in clip_icons_config.json",
    input_size=(48, 48), mean=MEAN, std=STD, labels=tuple(CLASSES), format="torch",
))
