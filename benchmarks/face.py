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

from sensorium.stages.face.stage import FaceStage  # noqa: E402
from sensorium.stages.face.align import align_faces  # noqa: E402


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
    ap.add_argument("--identification", action="store_true", help="Also measure identification on the real photos and the clip.")
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
    if args.identification:
        print("\nIdentification (dlib, threshold %.3f):" % rec.threshold)
        identification(data, args.threads)


def identification(data: Path, threads: int) -> None:
    """Identification on the real photos and every frame of the Hamilton clip."""
    import tempfile

    from sensorium.stages.face.gallery import FaceGallery

    enrol = FaceStage({"recognizer": "dlib", "threads": threads, "keep_chips": False})
    people = sorted(p.name for p in (data / "faces" / "gallery").iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        for with_lmm in (False, True):
            path = Path(tmp) / f"g{int(with_lmm)}.sqlite"
            with FaceGallery(path) as g:
                for person in people:
                    files = sorted((data / "faces" / "gallery" / person).iterdir())
                    faces = enrol.analyze([cv2.imread(str(f))[..., ::-1].copy() for f in files])
                    g.enroll(person, np.stack([f.embeddings[int(f.data["size"].argmax())] for f in faces]), enrol.backend_key)
                if with_lmm:
                    f = enrol.analyze([cv2.imread(str(data / "faces" / "lin-manuel-miranda.png"))[..., ::-1].copy()])[0]
                    g.enroll("lin_manuel_miranda", f.embeddings[:1], enrol.backend_key)
            stage = FaceStage({"recognizer": "dlib", "gallery": str(path), "threads": threads, "keep_chips": False})
            label = "5 people + Lin-Manuel Miranda" if with_lmm else "5 people"
            if not with_lmm:
                for name, expected in (("two_people.jpg", ["obama", "biden"]), ("lin-manuel-miranda.png", [None])):
                    img = cv2.imread(str(data / "faces" / name))[..., ::-1].copy()
                    faces = stage.analyze([img])[0]
                    got = [faces.data["identity"][i] for i in np.argsort(faces.boxes[:, 0])]
                    print(f"- {name}, gallery of {label}: {got} (expected {expected}), similarity {np.round(faces.similarity, 3).tolist()}")
            cap = cv2.VideoCapture(str(data / "video" / "short_hamilton_clip.mp4"))
            frames = []
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(frame[..., ::-1].copy())
            results = [r for i in range(0, len(frames), 8) for r in stage.analyze(frames[i: i + 8])]
            names = [n for r in results for n in r.data["identity"]]
            lmm = sum("lin_manuel_miranda" in list(r.data["identity"]) for r in results)
            false = sum(n is not None and n != "lin_manuel_miranda" for n in names)
            low = sum(int(r.data["low_quality"].sum()) for r in results)
            print(f"- Hamilton clip, gallery of {label}: {len(frames)} frames, {sum(len(r) > 0 for r in results)} with a face, "
                  f"{sum(len(r) for r in results)} faces ({low} low quality, never named); Lin-Manuel Miranda named in {lmm} frames; "
                  f"false matches (a gallery name on someone else): {false}")


if __name__ == "__main__":
    main()
