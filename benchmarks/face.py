"""Face benchmark: detect + align + recognise per VGA image, 1 and 5 faces, batched vs one by one.

    python benchmarks/face.py [--repeats 5] [--threads 2]

Images are 640x480 crops of the real photos in ``SENSORIUM_DATA`` (faces/lin-manuel-miranda.png
for one face; a frame of video/short_hamilton_clip.mp4 with five faces, padded to 640x480). Prints ms per image
for the whole stage and for its parts (YuNet on onnxruntime, alignment + quality, dlib), and
16 images in one ``analyze`` call (one detector run, one recogniser run) against the same 16
one call each, as InsightFace's ``FaceAnalysis`` works. Round-robin, median and minimum.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect import cpu_model, timed  # noqa: E402

from sensorium.stages.face import FaceStage  # noqa: E402
from sensorium.stages.face_align import align_faces  # noqa: E402


def _data() -> Path:
    return Path(os.environ.get("SENSORIUM_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def vga(img: np.ndarray) -> np.ndarray:
    """Letterbox-free VGA: scale to cover 640x480, centre-crop."""
    h, w = img.shape[:2]
    s = max(640 / w, 480 / h)
    img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    y, x = (img.shape[0] - 480) // 2, (img.shape[1] - 640) // 2
    return np.ascontiguousarray(img[y: y + 480, x: x + 640])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    data = _data()
    one = vga(cv2.imread(str(data / "faces" / "lin-manuel-miranda.png"))[..., ::-1])
    cap = cv2.VideoCapture(str(data / "video" / "short_hamilton_clip.mp4"))
    five = None
    stage = FaceStage({"recognizer": "dlib", "threads": args.threads, "keep_chips": False})
    stage.setup()
    cap.set(cv2.CAP_PROP_POS_FRAMES, 200)  # the crowded part of the clip
    for _ in range(60):
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]  # 640x360: pad to 640x480 rather than crop faces away
        cand = np.zeros((480, 640, 3), np.uint8)
        cand[60: 60 + h, :w] = frame[..., ::-1]
        if len(stage.detect([cand])[0][0]) == 5:
            five = cand
            break
    if five is None:
        raise SystemExit("no frame with exactly five faces found in frames 200-260 of the clip")
    print(f"# face benchmark, {datetime.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, {args.threads} threads, "
          f"python {platform.python_version()}")
    rec = stage.recognizer

    def parts(img):
        boxes, lms, _ = stage.detect([img])[0]
        return img, lms

    rows = []
    for label, img in (("1 face", one), ("5 faces", five)):
        _, lms = parts(img)
        chips = align_faces(img, lms, rec.template)[0]
        t = timed({
            "stage": lambda: stage.analyze([img]),
            "detect": lambda: stage.detect([img]),
            "align": lambda: align_faces(img, lms, rec.template),
            "recognise": lambda: rec.embed(chips),
        }, args.repeats)
        rows.append((label, t))
    print("\n| image | stage ms (median / min) | detect (YuNet, ORT) | align | recognise (dlib) |")
    print("|---|---:|---:|---:|---:|")
    for label, t in rows:
        print(f"| {label} | " + " | ".join(f"{statistics.median(t[k]):.1f} / {min(t[k]):.1f}" for k in ("stage", "detect", "align", "recognise")) + " |")
    batch = [one, five] * 8
    t = timed({"batched": lambda: stage.analyze(batch), "one by one": lambda: [stage.analyze([im]) for im in batch]}, max(2, args.repeats // 2))
    b, s = min(t["batched"]) / 16, min(t["one by one"]) / 16
    print("\n16 VGA images (8 with one face, 8 with five): ms per image (median / min)")
    print("| mode | ms/image | |")
    print("|---|---:|---:|")
    print(f"| one analyze call (batched) | {statistics.median(t['batched']) / 16:.1f} / {b:.1f} | 1.00 |")
    print(f"| one call per image | {statistics.median(t['one by one']) / 16:.1f} / {s:.1f} | {s / b:.2f}x the batched time |")


if __name__ == "__main__":
    main()
