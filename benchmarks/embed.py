"""Embedding benchmark: the CLIP image and text towers on onnxruntime vs open_clip in torch eager.

    python benchmarks/embed.py [--repeats 10] [--threads 2]

A ViT-B/32-shaped image tower at reduced depth (224 px, patch 32, width 384, 6 layers) and
its text tower, random weights (no CLIP weights exist here; the cost does not depend on the
values), batches 1 and 16; both towers exported by the stage's own export (parity-checked).
Round-robin, median and minimum; the ratio is of minima.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect import cpu_model, timed  # noqa: E402

from sensorium.models.arch.clip import ClipSpec, ImageTower, TextTower, build_clip, export_towers  # noqa: E402
from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig  # noqa: E402

CONFIG = {"embed_dim": 256, "vision_cfg": {"image_size": 224, "layers": 6, "width": 384, "patch_size": 32, "head_width": 64},
          "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 256, "heads": 4, "layers": 6}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, meta = build_clip(ClipSpec(model=None, config=CONFIG))
    with tempfile.TemporaryDirectory() as tmp:
        report = export_towers(model, meta, tmp)
        rc = RuntimeConfig(intra_op_threads=args.threads, warmup_runs=1)
        image_ort, text_ort = OnnxModel(Path(tmp) / "image.onnx", rc), OnnxModel(Path(tmp) / "text.onnx", rc)
        image_pt, text_pt = ImageTower(model).eval(), TextTower(model).eval()
        print(f"# embed benchmark, {datetime.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, {args.threads} threads; "
              f"parity image {report['image']['max_abs_error']:.1e}, text {report['text']['max_abs_error']:.1e}")
        print("\n| tower | batch | onnxruntime ms/item (median / min) | torch eager ms/item (median / min) | torch / ort (min) |")
        print("|---|---:|---:|---:|---:|")
        for b in (1, 16):
            x = np.random.default_rng(0).normal(size=(b, 3, 224, 224)).astype(np.float32)
            tok = np.random.default_rng(0).integers(0, 49408, (b, 77)).astype(np.int64)
            with torch.inference_mode():
                t = timed({"ort_i": lambda: image_ort.run(x), "pt_i": lambda: image_pt(torch.from_numpy(x)),
                           "ort_t": lambda: text_ort.run(tok), "pt_t": lambda: text_pt(torch.from_numpy(tok))}, args.repeats)
            for name, o, p in (("image", "ort_i", "pt_i"), ("text", "ort_t", "pt_t")):
                print(f"| {name} | {b} | {statistics.median(t[o]) / b:.1f} / {min(t[o]) / b:.1f} | {statistics.median(t[p]) / b:.1f} / {min(t[p]) / b:.1f} | "
                      f"{min(t[p]) / min(t[o]):.2f}x |")


if __name__ == "__main__":
    main()
