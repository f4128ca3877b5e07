"""Choosing the icon grounder's refusal rule (``IconConfig.threshold`` and ``rank``) on
held-out generated toolbars, never on the Rico icon targets (they are the evaluation).

    python benchmarks/icon_threshold.py [--toolbars 12] [--thresholds 0.4,0.5,0.6,0.7] [--ranks 1,2,3,4]

Calibration set: toolbars of seed 1000 (:func:`~sensorium.models.data.icons.toolbar_screen`,
icon sides cycling through 16-24, 20-40 and 36-52 px; the toolbar benchmark
``benchmarks/gui_icons.py`` uses seed 2000), every icon asked by one of its names in turn.
The grounder runs once per target with every check open (threshold 0, any rank); recorded
are the chosen element's similarity, its lead over the runner-up, whether it is the right
button, and the rank of the target's class among the rival classes on the chosen crop.
Printed: for each (rank, threshold), the targets that rule would click right and wrong (the
margin check, 0.05, applied as configured). The rule: the most hits with wrong clicks at most
3 % of the targets.
"""

from __future__ import annotations

import argparse

import numpy as np

from sensorium.models.data.icons import ICONS, toolbar_screen
from sensorium.stages.embed.stage import EmbedStage
from sensorium.stages.gui.icons import IconConfig, square_crop
from sensorium.stages.gui.local import LocalBackend, word_boxes


def records(screens: int, seed: int = 1000) -> list[tuple[bool, float, float, int]]:
    """(right button, similarity, lead over the runner-up, rank of the target's class) per target."""
    backend = LocalBackend(icons=IconConfig(weights="clip_icons", threshold=-1.0, margin=0.0, rank=1 << 30), embedder=EmbedStage)
    g = backend.icons
    out = []
    for i in range(screens):
        screen = toolbar_screen(seed, i, sizes=((16, 24), (20, 40), (36, 52))[i % 3])
        texts, elements = backend.read_text(screen.image), backend._elements(screen.image)
        for k, (cls, box) in enumerate(zip(screen.classes, screen.boxes)):
            name = ICONS[cls][(i + k) % len(ICONS[cls])]
            m = g.find(name, screen.image, word_boxes(texts), elements)
            if m.box is None:
                out.append((False, -1.0, 0.0, 1 << 30))
                continue
            right = box[0] <= (m.box[0] + m.box[2]) / 2 <= box[2] and box[1] <= (m.box[1] + m.box[3]) / 2 <= box[3]
            v = g._embed.embed_images([square_crop(screen.image, m.box)])  # (1, D)
            names, rivals = g.query(name)
            own = float(g._pooled(v, names)[0])
            others = np.array([float(g._pooled(v, r)[0]) for r in rivals])
            out.append((right, m.score, m.score - m.runner_up, int((others > own).sum()) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toolbars", type=int, default=12)
    ap.add_argument("--thresholds", default="0.4,0.5,0.6,0.7")
    ap.add_argument("--ranks", default="1,2,3,4")
    args = ap.parse_args()
    rows = records(args.toolbars)
    print(f"{len(rows)} targets on {args.toolbars} toolbars of seed 1000; right element chosen with every check open: "
          f"{sum(r[0] for r in rows)}\n")
    print("| rank | threshold | hits | wrong clicks | refused |\n|---:|---:|---:|---:|---:|")
    for rank in (int(v) for v in args.ranks.split(",")):
        for thr in (float(v) for v in args.thresholds.split(",")):
            taken = [r for r in rows if r[1] >= thr and r[2] >= 0.05 and r[3] <= rank]
            hits = sum(r[0] for r in taken)
            print(f"| {rank} | {thr:.2f} | {hits} | {len(taken) - hits} | {len(rows) - len(taken)} |")


if __name__ == "__main__":
    main()
