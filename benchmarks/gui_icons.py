"""Icon grounding of the local GUI backend on held-out generated toolbars.

    python benchmarks/gui_icons.py [--screens 30] [--weights clip_icons] [--threads 1]

Screens come from :func:`~sensorium.models.data.icons.toolbar_screen` (6 icon buttons, two
text buttons, a heading and a paragraph; icon sides cycling through 16-24, 20-40 and 36-52
px) with seed 2000: the shipped icon model trained on icon tiles of seed 0, and the decision
thresholds were chosen on screens of seed 1000. On each screen every icon is asked for once
by one of its names drawn at random ("click the settings icon"): a success is a click inside
its button. Then a known icon that is not on the screen and a name the model never learnt
("unicorn") are asked: a success there is ``call_user``. The agent is asked the way the CLI
and the REST service ask it (:meth:`GuiAgentStage.act`, OCR on every call). Cost: the
request time with icons against the same backend without them on the same instruction, and
the icon step alone (candidates, crops, image tower; text vectors cached).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect import cpu_model  # noqa: E402

from sensorium.models.data.icons import CLASSES, ICONS, toolbar_screen  # noqa: E402
from sensorium.stages.embed.stage import EmbedStage
from sensorium.stages.gui.stage import GuiAgentStage  # noqa: E402
from sensorium.stages.gui.local import element_boxes, word_boxes  # noqa: E402

UNKNOWN = ("unicorn", "camera", "printer", "rocket", "umbrella")
log = logging.getLogger("gui_icons")


def inside(x: float, y: float, box: tuple[int, int, int, int]) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screens", type=int, default=30)
    ap.add_argument("--weights", default="clip_icons")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    agent = GuiAgentStage({"icons": {"weights": args.weights, "threads": args.threads}}, embedder=EmbedStage)
    plain = GuiAgentStage()
    icons = agent.backend.icons
    icons.setup()
    rng = np.random.default_rng(args.seed)
    sizes = ((16, 24), (20, 40), (36, 52))
    hits, asked, refused = {sz: 0 for sz in sizes}, {sz: 0 for sz in sizes}, 0
    absent_clicked = unknown_clicked = 0
    with_icons, without, icon_step = [], [], []
    for s in range(args.screens):
        size = sizes[s % len(sizes)]
        screen = toolbar_screen(args.seed, s, sizes=size)
        image = screen.image
        for box, cls in zip(screen.boxes, screen.classes):
            names = ICONS[cls]
            name = names[int(rng.integers(len(names)))]
            t0 = time.perf_counter()
            step = agent.act(image, f"click the {name} icon")
            with_icons.append(time.perf_counter() - t0)
            a = step.actions[0]
            asked[size] += 1
            ok = a.type == "click" and inside(a.x, a.y, box)
            hits[size] += ok
            refused += a.type == "call_user"
            if not ok:
                log.info("screen %d: %r (%s) → %s %s: %s", s, name, cls, a.type, (a.x, a.y), step.thought)
        absent = [c for c in CLASSES if c not in screen.classes]
        name = ICONS[absent[int(rng.integers(len(absent)))]][0]
        a = agent.act(image, f"click the {name} icon").actions[0]
        absent_clicked += a.type != "call_user"
        unknown_clicked += agent.act(image, f"click the {UNKNOWN[s % len(UNKNOWN)]} icon").actions[0].type != "call_user"
        # the same instruction without icons: OCR, fuzzy match, call_user; the difference is the icon step
        t0 = time.perf_counter()
        plain.act(image, f"click the {ICONS[screen.classes[0]][0]} icon")
        without.append(time.perf_counter() - t0)
        texts = agent.backend.read_text(image)
        t0 = time.perf_counter()
        icons.find(ICONS[screen.classes[0]][0], image, word_boxes(texts), element_boxes(image))
        icon_step.append(time.perf_counter() - t0)
    n_hit, n_asked = sum(hits.values()), sum(asked.values())
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"# gui_icons  {datetime.date.today()}  {cpu_model()}  {os.cpu_count()} CPUs  weights={args.weights}  threads={args.threads}")
    print(f"held-out screens: {args.screens} (seed {args.seed}), icon instructions: {n_asked}")
    print(f"icon grounding accuracy: {n_hit / n_asked:.3f} ({n_hit}/{n_asked}); call_user {refused}, "
          f"wrong element {n_asked - n_hit - refused}")
    print("by icon side: " + ", ".join(f"{a}-{b} px {hits[(a, b)]}/{asked[(a, b)]}" for a, b in sizes))
    print(f"known icon not on the screen clicked anyway: {absent_clicked}/{args.screens}; "
          f"unknown name clicked: {unknown_clicked}/{args.screens}")
    print(f"request p50: {ms(with_icons):.0f} ms with icons, {ms(without):.0f} ms without (OCR only); "
          f"icon step alone p50 {ms(icon_step):.0f} ms")


if __name__ == "__main__":
    main()
