"""Grounding accuracy of the local GUI backend on real screenshots, ScreenSpot-style: by
platform (mobile: the Rico screenshots; web: generated pages) and kind (text, icon).

    python benchmarks/gui_grounding.py [--kinds text,icon] [--limit N] [--every K] [--verbose]

The Rico targets are defined once in :mod:`sensorium.pipeline.tools.rico_targets` (text:
clickable nodes with their own 1-40 character label; icon: clickable nodes with a
content-desc and no text). Each is asked for as ``click <label>`` through
:meth:`GuiAgentStage.act` (the CLI's and the service's path, OCR on every call). Outcomes:
``hit`` (a point inside the node), ``wrong_click`` (a point elsewhere), ``call_user`` (the
backend was not sure enough and said why), ``error`` (no usable action). Every miss gets a
cause from what OCR read inside the node (:func:`miss_cause`). Targets whose hierarchy does
not match the screenshot are run and reported apart, not scored. Last, where a request's time
went (OCR detection, recognition, the small-text pass, element boxes, icons).
Then, with the shipped icon model, the Rico icon targets (content-desc only) and ``--pages``
generated web pages, ScreenSpot-style (:mod:`sensorium.pipeline.tools.gui_benchmark`).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sensorium.pipeline.tools.rico_targets import Target, targets  # noqa: F401  (the tests read targets here)

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = ("hit", "wrong_click", "call_user", "error")
CAUSES = ("not read (small or faint text)", "fragments", "truncation", "wrong element", "misread", "hierarchy stale")


@dataclass
class Result:
    """One target's outcome, the clicked point (image pixels) if any, the backend's time
    breakdown (ms) and, for a miss, its cause."""

    target: Target
    outcome: str
    point: tuple[float, float] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cause: str = ""


def _ask(agent, image: np.ndarray, t: Target) -> Result:
    from sensorium.stages.gui.protocol import AgentError

    try:
        step = agent.act(image, f"click {t.text}")
    except AgentError:
        return Result(t, "error")
    timings = dict(getattr(agent.backend, "timings", {}))
    first = step.actions[0] if step.actions else None
    if first is None or first.type == "call_user":
        return Result(t, "call_user" if first else "error", None, timings)
    if first.x is None:
        return Result(t, "error", None, timings)
    return Result(t, "hit" if t.contains(first.x, first.y) else "wrong_click", (first.x, first.y), timings)


def miss_cause(backend, image: np.ndarray, result: Result) -> str:
    """Why a target was missed, from the first OCR pass inside its node: nothing read there
    (small or faint text), only pieces that match once merged (fragments), a cut-off start of
    the label (truncation), the label read there but the click went elsewhere or was refused
    (wrong element), or other text (misread)."""
    from sensorium.stages.gui.ocr_text import match_score, merge_fragments, normalise

    t = result.target
    if t.stale:
        return "hierarchy stale"
    lines = [x for x in backend.read_text(image) if t.contains((x.box[0] + x.box[2]) / 2, (x.box[1] + x.box[3]) / 2)]
    if not lines:
        return "not read (small or faint text)"
    label = normalise(t.text)
    single = max(match_score(label, normalise(x.text))[0] for x in lines)
    merged = max((match_score(label, normalise(x.text)) for x in merge_fragments(lines) if x.parts > 1), default=(0.0, "", 0.0))
    if single >= backend.min_score:
        return "wrong element"
    if merged[0] >= backend.min_score:
        return "fragments"
    if any(label.startswith(normalise(x.text).rstrip(".… ")[:4]) for x in lines):
        return "truncation"
    return "misread"


def evaluate(agent, items: list[Target], diagnose: bool = True) -> list[Result]:
    """A :class:`Result` per target, in order; with ``diagnose``, each miss's cause (one more
    OCR pass on that screenshot, outside the timed request)."""
    results, image, path = [], None, None
    for t in items:
        if t.image != path:  # targets come grouped by screenshot
            path, image = t.image, cv2.cvtColor(cv2.imread(str(t.image)), cv2.COLOR_BGR2RGB)
        r = _ask(agent, image, t)
        if diagnose and r.outcome != "hit":
            r.cause = miss_cause(agent.backend, image, r)
        results.append(r)
    return results


def report(platform: str, kind: str, results: list[Result]) -> None:
    """One markdown table for a platform and kind: success, wrong clicks and refusals apart,
    and the misses by cause. Targets with a stale hierarchy are counted apart."""
    scored = [r for r in results if not r.target.stale]
    stale = [r for r in results if r.target.stale]
    n = max(1, len(scored))
    c = Counter(r.outcome for r in scored)
    screens = len({r.target.screen_id for r in scored})
    print(f"\n{platform}, {kind} targets: {len(scored)} on {screens} screens")
    print("| measure | value |\n|---|---:|")
    print(f"| **success**: point inside the node | **{c['hit']} ({c['hit'] / n:.1%})** |")
    print(f"| wrong click: a point elsewhere | {c['wrong_click']} ({c['wrong_click'] / n:.1%}) |")
    print(f"| refused: `call_user` with the reason | {c['call_user']} ({c['call_user'] / n:.1%}) |")
    print(f"| no usable action | {c['error']} |")
    causes = Counter(r.cause for r in scored if r.outcome != "hit")
    for cause in CAUSES[:-1]:
        if causes[cause]:
            print(f"| miss cause: {cause} | {causes[cause]} |")
    if stale:
        hits = sum(r.outcome == "hit" for r in stale)
        print(f"| not scored: hierarchy stale (see rico_targets.STALE, drawers) | {len(stale)} ({hits} hit anyway) |")


def time_report(results: list[Result]) -> None:
    """Medians (and 10-90 % range) of each part of a request, over the requests that ran it."""
    print("\nwhere a request's time goes (ms; median, 10-90 % range over the requests that ran the part)")
    print("| part | requests | median | p10..p90 |\n|---|---:|---:|---:|")
    for part in ("total", "det", "rec", "small_text", "elements", "icons"):
        v = [r.timings[part] for r in results if part in r.timings]
        if v:
            q = np.percentile(v, [10, 90])
            print(f"| {part} | {len(v)} | {statistics.median(v):.0f} | {q[0]:.0f}..{q[1]:.0f} |")


def data_dir() -> Path:
    return Path(os.environ.get("SENSORIUM_DATA", ROOT.parent / "shared" / "data")).resolve() / "gui"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default="text", help="comma-separated Rico kinds through the text table: text, icon (the icon table below runs with the icon model anyway)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N targets of each kind (0: all)")
    ap.add_argument("--every", type=int, default=1, help="only every K-th screenshot")
    ap.add_argument("--verbose", action="store_true", help="print every target's outcome")
    ap.add_argument("--pages", type=int, default=20, help="generated web pages for the icon/web table (0: Rico icons only)")
    ap.add_argument("--rules", type=int, default=12, help="generated rule pages (time pickers, app bars, composite labels), a table of their own")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from detect import cpu_model

    from sensorium.pipeline.agent.build import build_gui_agent

    gui = data_dir()
    print(f"# gui grounding, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_model()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; Rico screenshots in {gui}")
    agent = build_gui_agent()
    everything: list[Result] = []
    for kind in args.kinds.split(","):
        items = targets(gui, kind, stale=True)
        screens = list(dict.fromkeys(t.screen_id for t in items))[:: args.every]
        items = [t for t in items if t.screen_id in screens][: args.limit or None]
        t0 = time.perf_counter()
        results = evaluate(agent, items)
        print(f"\n({len(items)} requests in {time.perf_counter() - t0:.0f} s)")
        if args.verbose:
            for r in results:
                print(f"{r.target.screen_id:>6} {r.outcome:11} {r.cause or '':28} {r.target.text!r} at {r.point} "
                      f"in {[tuple(round(v) for v in b) for b in r.target.boxes]} {r.target.stale[:30]}")
        report("mobile (Rico)", kind, results)
        everything += results
    time_report(everything)
    # --- icon targets on Rico and the generated web pages (#17, pipeline/tools/gui_benchmark.py) ---
    from sensorium.pipeline.tools.gui_benchmark import report as icons_and_web

    print("\n" + icons_and_web(gui, pages=args.pages, verbose=args.verbose, rules=args.rules))


if __name__ == "__main__":
    main()
