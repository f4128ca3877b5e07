"""Grounding accuracy of the local GUI backend on real Android screenshots (Rico).

    python benchmarks/gui_grounding.py [--limit N] [--verbose]

``$SENSORIUM_DATA/gui/<id>.jpg`` + ``<id>.json``: screenshots with their view hierarchies
(each node's class, text, clickable flag and ``bounds`` in 1440x2560 screen space; the JPEGs
are 540x960 or 1080x1920, so bounds scale by image width / 1440). For every clickable node
the user can see (visible, on screen, not empty) whose own text is a short label (1 to 40
characters), the instruction is ``click <text>``; a success is a returned point inside that
node's bounds (or another clickable node with the same text: the instruction cannot tell
them apart). The agent is asked the way the CLI and the REST service ask it
(:meth:`GuiAgentStage.act`, OCR on every call). Prints the success rate and how many
targets ended as ``call_user`` or as a point elsewhere. Then, with the shipped icon model, the
Rico icon targets (content-desc only) and ``--pages`` generated web pages, ScreenSpot-style
(``sensorium.pipeline.tools.gui_benchmark``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
HIERARCHY_WIDTH = 1440  # Rico's view hierarchies are in 1440x2560 screen space
MAX_LABEL = 40


@dataclass(frozen=True)
class Target:
    """One clickable node: its screenshot, label and the boxes (x1, y1, x2, y2, image pixels)
    of every clickable node on that screen with the same label."""

    screen_id: str
    image: Path
    text: str
    boxes: tuple[tuple[float, float, float, float], ...]

    def contains(self, x: float, y: float) -> bool:
        return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in self.boxes)


def _nodes(node: dict):
    yield node
    for c in node.get("children") or []:
        if isinstance(c, dict):
            yield from _nodes(c)


def targets(gui_dir: Path) -> list[Target]:
    """Every clickable, visible, labelled node of every screenshot in ``gui_dir``, in file order."""
    out = []
    for js in sorted(gui_dir.glob("*.json")):
        image = js.with_suffix(".jpg")
        if not image.exists():
            raise FileNotFoundError(f"{js} has no screenshot {image.name} beside it")
        with Image.open(image) as im:  # the header is enough for the size
            w, h = im.size
        scale = w / HIERARCHY_WIDTH
        labelled: dict[str, list[tuple[float, float, float, float]]] = {}
        for n in _nodes(json.loads(js.read_text())["activity"]["root"]):
            text = " ".join(str(n.get("text") or "").split())
            x1, y1, x2, y2 = (v * scale for v in n.get("bounds", (0, 0, 0, 0)))
            if not (n.get("clickable") and n.get("visibility", "visible") == "visible" and n.get("visible-to-user", True)):
                continue
            if not (0 < len(text) <= MAX_LABEL and x2 - x1 >= 4 and y2 - y1 >= 4 and x1 >= 0 and y1 >= 0 and x2 <= w + 1 and y2 <= h + 1):
                continue
            labelled.setdefault(text, []).append((x1, y1, x2, y2))
        out.extend(Target(js.stem, image, text, tuple(boxes)) for text, boxes in labelled.items())
    return out


def evaluate(agent, items: list[Target]) -> list[tuple[Target, str, tuple[float, float] | None]]:
    """(target, outcome, point) per target; outcome is ``hit``, ``miss`` (a point elsewhere),
    ``call_user`` or ``error`` (no usable action)."""
    from sensorium.stages.gui.protocol import AgentError

    results = []
    images: dict[Path, np.ndarray] = {}
    for t in items:
        if t.image not in images:
            images.clear()  # targets come grouped by screenshot
            images[t.image] = cv2.cvtColor(cv2.imread(str(t.image)), cv2.COLOR_BGR2RGB)
        try:
            step = agent.act(images[t.image], f"click {t.text}")
        except AgentError:
            results.append((t, "error", None))
            continue
        first = step.actions[0] if step.actions else None
        if first is None or first.type == "call_user":
            results.append((t, "call_user" if first else "error", None))
        elif first.x is None:
            results.append((t, "error", None))
        else:
            results.append((t, "hit" if t.contains(first.x, first.y) else "miss", (first.x, first.y)))
    return results


def data_dir() -> Path:
    return Path(os.environ.get("SENSORIUM_DATA", ROOT.parent / "shared" / "data")).resolve() / "gui"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N targets (0: all)")
    ap.add_argument("--verbose", action="store_true", help="print every target's outcome")
    ap.add_argument("--pages", type=int, default=20, help="generated web pages for the icon/web table (0: Rico icons only)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from detect import cpu_model

    from sensorium.pipeline.agent.build import build_gui_agent

    gui = data_dir()
    items = targets(gui)
    if args.limit:
        items = items[: args.limit]
    screens = len({t.screen_id for t in items})
    print(f"# gui grounding, {datetime.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs; {len(items)} targets on {screens} screenshots in {gui}")
    agent = build_gui_agent()
    t0 = time.perf_counter()
    results = evaluate(agent, items)
    seconds = time.perf_counter() - t0
    counts = Counter(outcome for _, outcome, _ in results)
    if args.verbose:
        for t, outcome, point in results:
            print(f"{t.screen_id:>6} {outcome:9} {t.text!r} at {point} in {[tuple(round(v) for v in b) for b in t.boxes]}")
    n = len(results)
    print("| measure | value |\n|---|---:|")
    print(f"| targets (clickable nodes with a 1-40 character label) | {n} on {screens} screenshots |")
    print(f"| success: point inside the node | {counts['hit']} ({counts['hit'] / n:.1%}) |")
    print(f"| call_user (label not found on the screen) | {counts['call_user']} ({counts['call_user'] / n:.1%}) |")
    print(f"| point outside the node | {counts['miss']} ({counts['miss'] / n:.1%}) |")
    print(f"| no usable action | {counts['error']} |")
    print(f"| time per instruction (OCR included) | {seconds / n * 1000:.0f} ms |")
    # --- icon targets on Rico and the generated web pages (#17, pipeline/tools/gui_benchmark.py) ---
    from sensorium.pipeline.tools.gui_benchmark import report

    print("\n" + report(gui, pages=args.pages, verbose=args.verbose))


if __name__ == "__main__":
    main()
