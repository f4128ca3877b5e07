"""Compare two git revisions on one benchmark, rounds alternating (ABAB), on this machine.

    python benchmarks/versions.py pipeline --base b21d0cd --head HEAD --rounds 3 -- --frames 16
    python benchmarks/versions.py batch --rounds 3 -- --images 300 --memory-counts "" --task-images 64
    python benchmarks/versions.py builtin --rounds 3 --images 200 --stages detect,embed
    python benchmarks/versions.py hops --rounds 3 --frames 64

Each revision is checked out in its own ``git worktree`` under /tmp with a venv that installs
that checkout (editable) over this venv's packages, so each side imports its own code. The
``pipeline`` and ``batch`` workloads run each revision's own ``benchmarks/<name>.py`` (the old
revision has the old module paths) and read the numbers it prints; ``builtin`` runs a small
batch job written here (a chain of shipped stages over generated images) and ``hops`` the
stream engine's one-frame latency through 1 and 4 identity stages (Ray's cost per hop); both
import the engine from whichever path the revision has. Alternating the revisions round by round
spreads a noisy machine's drift over both sides; the table gives each measure's median, its
spread (min..max) and the ratio head / base of the medians (> 1: head is faster for fps,
img/s; for ms and s lower is better, so the ratio is base / head there too, marked).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: "name   12.34 fps" / "name   12.3 img/s (...)" / "name   1.23 ms" / "name   0.85" (a ratio)
_LINE = re.compile(r"^(?P<name>\S.*?\S)\s{2,}(?P<value>-?\d+(?:\.\d+)?)\s*(?P<unit>fps|img/s|ms|s|MiB)?\b")

BUILTIN = r'''
import json, os, sys, tempfile, time
from pathlib import Path
import cv2, numpy as np
try:
    from sensorium.pipeline.batch.job import BatchStage, run_batch
except ImportError:  # before the layout of 70ce53f
    from sensorium.pipeline.batch import BatchStage, run_batch
try:
    from sensorium.models.data.shapes import ShapesConfig, make_image
except ImportError:
    from sensorium.models.shapes_data import ShapesConfig, make_image

n, size, names = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
work = Path(tempfile.mkdtemp(prefix="sensorium-versions-"))
small = {"embed_dim": 64, "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
         "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}
(work / "small.json").write_text(json.dumps(small))
options = {"detect": {"threads": 1, "min_size": size, "max_size": size}, "embed": {"config_json": str(work / "small.json"), "threads": 1},
           "face": {"threads": 1}, "depth": {}}
paths = []
for i in range(n):
    img = make_image(5, i % 64, ShapesConfig(size=size, min_scale=8, max_scale=size // 2))[0][..., ::-1].copy()
    img[0, 0] = (i % 256, 0, 0)
    paths.append(str(work / f"img{i:05d}.jpg"))
    cv2.imwrite(paths[-1], img)
stages = [BatchStage(s, options.get(s, {}), batch_size=16) for s in names]
stamps = []
start = time.perf_counter()
summary = run_batch(paths, stages, work / "out", build_index=False, task_images=64,
                    on_progress=lambda done, total: stamps.append((time.perf_counter(), done)))
wall = time.perf_counter() - start
assert summary.written == n, summary
(t0, n0), (t1, n1) = stamps[0], stamps[-1]
print(f"batch job {'+'.join(names)}: steady state  {(n1 - n0) / max(t1 - t0, 1e-9):.2f} img/s")
print(f"batch job {'+'.join(names)}: whole run  {n / wall:.2f} img/s")
'''


HOPS = r'''
import os, sys, time
import numpy as np
try:
    from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
    from sensorium.pipeline.stream.engine import Pipeline
    from sensorium.pipeline.io.sources import Source, SourceItem
    from sensorium.pipeline.io.sample import make_sample
except ImportError:  # before the layout of 70ce53f
    from sensorium.pipeline.config import PipelineConfig, StageSpec
    from sensorium.pipeline.engine import Pipeline
    from sensorium.pipeline.sources import Source, SourceItem
    from sensorium.pipeline.sample import make_sample
from sensorium.stages.base import Stage, register_stage
from sensorium.stages.results import Embeddings

class Hop(Stage):
    name = "hop0"
    def process(self, frames):
        return [Embeddings(vectors=np.zeros((1, 1), np.float32)) for _ in frames]

hops = [type(f"Hop{i}", (Hop,), {"name": f"hop{i}"}) for i in range(4)]
for cls in hops:
    register_stage(cls)

class Memory(Source):
    def __init__(self, seq, n):
        super().__init__("mem")
        self.seq, self.n = seq, n
    def __len__(self):
        return self.n
    def _read(self):
        for i in range(self.n):
            yield SourceItem(image=self.seq.lefts[i % len(self.seq.lefts)], timestamp=time.time())

n = int(sys.argv[1])
seq = make_sample(4, 640, 480)
lat = {}
for k in (1, 4):
    cfg = PipelineConfig(stages=tuple(StageSpec(f"hop{i}", num_cpus=0.25, max_batch=1, max_wait_ms=0) for i in range(k)), max_in_flight=1)
    stamps = []
    with Pipeline(cfg) as p:
        p.run([Memory(seq, n)], on_frame=lambda f: stamps.append(time.perf_counter()))
    lat[k] = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    print(f"one-frame latency, {k} stage(s)  {lat[k] * 1e3:.2f} ms")
print(f"per extra hop  {(lat[4] - lat[1]) / 3 * 1e3:.2f} ms")
'''


def checkout(rev: str) -> Path:
    """A worktree of ``rev`` with its own venv (reused when it is there already)."""
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=10", rev], check=True, capture_output=True, text=True).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"sensorium-rev-{sha}"
    if not (tree / ".venv" / "bin" / "python").exists():
        if not tree.exists():
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(tree), sha], check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tree / ".venv")], check=True)
        site = tree / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        (site / "main-venv.pth").write_text(_packages() + "\n")
        subprocess.run([str(tree / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(tree)],
                       check=True, capture_output=True)
    return tree


def _packages() -> str:
    """The site-packages that hold the dependencies (this venv's, or the one its .pth names)."""
    import site

    for folder in site.getsitepackages():
        pth = Path(folder) / "main-venv.pth"
        if pth.is_file():
            return pth.read_text().strip()
    return site.getsitepackages()[0]


def run_once(tree: Path, workload: str, extra: list[str], args: argparse.Namespace) -> dict[str, tuple[float, str]]:
    """measure name → (value, unit) printed by one run of the workload in ``tree``."""
    python = str(tree / ".venv" / "bin" / "python")
    if workload == "builtin":
        cmd = [python, "-c", BUILTIN, str(args.images), str(args.size), args.stages]
    elif workload == "hops":
        cmd = [python, "-c", HOPS, str(args.frames)]
    else:
        cmd = [python, str(tree / "benchmarks" / f"{workload}.py"), *extra]
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=args.timeout, env=_env())
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:2])} in {tree} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    out = {}
    for line in proc.stdout.splitlines():
        m = _LINE.match(line)
        if m and not line.startswith(("machine", "input", "stage:")):
            out[m["name"]] = (float(m["value"]), m["unit"] or "")
    if not out:
        raise SystemExit(f"no numbers in the output of {' '.join(cmd[:2])}:\n{proc.stdout[-2000:]}")
    return out


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "RAY_ADDRESS": ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=("pipeline", "batch", "builtin", "hops"))
    ap.add_argument("--base", default="b21d0cd", help="the revision to compare against")
    ap.add_argument("--head", default="HEAD", help="the revision under test")
    ap.add_argument("--rounds", type=int, default=3, help="runs per revision, alternating")
    ap.add_argument("--images", type=int, default=200, help="builtin: images in the job")
    ap.add_argument("--size", type=int, default=64, help="builtin: generated image side (px)")
    ap.add_argument("--stages", default="detect,embed", help="builtin: the chain of shipped stages")
    ap.add_argument("--frames", type=int, default=64, help="hops: frames through 1 and 4 identity stages, one at a time")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one run may take")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.extra = argv[cut + 1:]  # after --: arguments for the revision's own benchmark script
    trees = {"base": checkout(args.base), "head": checkout(args.head)}
    runs: dict[str, list[dict[str, tuple[float, str]]]] = {"base": [], "head": []}
    for k in range(args.rounds):
        for side in ("base", "head") if k % 2 == 0 else ("head", "base"):
            runs[side].append(run_once(trees[side], args.workload, args.extra, args))
            print(f"round {k + 1}/{args.rounds} {side}: " + ", ".join(f"{n} {v:g}" for n, (v, _) in list(runs[side][-1].items())[:3]), flush=True)
    print(f"\n{args.workload}: base {args.base} ({trees['base']}) vs head {args.head} ({trees['head']}), {args.rounds} rounds ABAB\n")
    print(f"{'measure':<70}{'base median (min..max)':>34}{'head median (min..max)':>34}{'head/base':>11}")
    for name in runs["base"][0]:
        if not all(name in r for r in runs["head"]):
            continue
        unit = runs["base"][0][name][1]
        b = [r[name][0] for r in runs["base"]]
        h = [r[name][0] for r in runs["head"]]
        mb, mh = statistics.median(b), statistics.median(h)
        # higher is better for rates and ratios; for times and memory (ms, s, MiB) the ratio is inverted so > 1 still means head is better
        ratio = (mb / mh if unit in ("ms", "s", "MiB") else mh / mb) if mb and mh else float("nan")
        print(f"{name[:69]:<70}{f'{mb:.2f} ({min(b):.2f}..{max(b):.2f}) {unit}':>34}{f'{mh:.2f} ({min(h):.2f}..{max(h):.2f}) {unit}':>34}"
              f"{ratio:>10.2f}{'*' if unit in ('ms', 's') else ' '}")
    print("\nhead/base > 1: head is better (* times: base / head)")


if __name__ == "__main__":
    main()
