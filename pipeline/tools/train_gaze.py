"""``sensorium train gaze``: the gaze stage's sigma head, trained on real faces (the file side).

Teacher: the stage's geometric gaze on the clean frame. Student: the same estimate on a degraded
copy (downscale, blur, occlusion, truncation at the border, jittered face box and landmarks), the
camera intrinsics carried through every transform so the two are comparable. The head (RLE:
``GazeRLEHead`` + ``RLELoss``, 2-D) learns from the student's features a correction of its
(yaw, pitch) and sigma, the scale of what is left. Data: frames of the Hamilton clip and the
photos under ``$SENSORIUM_DATA``, split by file and by interleaved blocks of clip frames
(``CLIP_BLOCK`` frames each, alternately train and held out, the last ``CLIP_GAP`` of each block
unused so neighbouring frames never straddle the split: one contiguous range per split made the
held-out faces twice as hard as the training ones); features are cached in the run folder.
"""

from __future__ import annotations

import json
import logging
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from sensorium.stages.camera import Intrinsics
from sensorium.stages.frame import Frame
from sensorium.stages.gaze import head_pose as hp
from sensorium.stages.gaze.sigma import FEATURES, apply_correction, yaw_sign
from sensorium.stages.results import Faces

log = logging.getLogger(__name__)

#: radians per unit of the head's outputs: the head's sigma is a sigmoid (below 1), and degraded faces
#: err by more than a radian, so the head works in units of TARGET_SCALE radians (no saturated sigma)
TARGET_SCALE = 1.0

CLIP = "video/short_hamilton_clip.mp4"
CLIP_BLOCK, CLIP_GAP = 40, 8
#: split -> (parity of its clip blocks, photo files)
SPLITS = {
    "train": (0, ("faces/gallery/alex_lacamoire/img1.jpg", "faces/gallery/biden/biden.jpg", "faces/gallery/obama/obama.jpg",
                         "faces/gallery/kit_harington/john1.jpeg", "faces/gallery/rose_leslie/img1.jpg",
                         "faces/lin-manuel-miranda.png", "faces/obama_partial_face.jpg")),
    "heldout": (1, ("faces/two_people.jpg", "faces/gallery/obama/obama2.jpg", "faces/gallery/biden/biden2.jpg",
                             "faces/gallery/kit_harington/john2.jpeg", "faces/gallery/rose_leslie/img2.jpg", "photos/zidane.jpg")),
}


def split_images(data_dir: Path, split: str, stride: int) -> Iterator[tuple[str, np.ndarray]]:
    """(key, RGB image) of one split: every ``stride``-th clip frame of its blocks, then its photos."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {list(SPLITS)}, got {split!r}")
    parity, files = SPLITS[split]
    cap = cv2.VideoCapture(str(data_dir / CLIP))
    if not cap.isOpened():
        raise FileNotFoundError(f"{data_dir / CLIP} does not open (set SENSORIUM_DATA to the shared data folder)")
    i = -1
    while True:
        ok, bgr = cap.read()
        i += 1
        if not ok:
            break
        j = i % CLIP_BLOCK
        if (i // CLIP_BLOCK) % 2 == parity and j < CLIP_BLOCK - CLIP_GAP and j % stride == 0:
            yield f"clip#{i}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cap.release()
    for name in files:
        bgr = cv2.imread(str(data_dir / name))
        if bgr is None:
            raise FileNotFoundError(f"{data_dir / name} is missing or unreadable")
        yield name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Degraded:
    """A degraded copy: image, the faces' boxes (N, 4) and landmarks (N, 5, 2) in its pixels, its
    intrinsics, and ``keep`` (N,) which of the clean faces survived."""

    image: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray
    K: np.ndarray
    keep: np.ndarray


def degrade(image: np.ndarray, boxes: np.ndarray, lms: np.ndarray, K: np.ndarray, rng: np.random.Generator) -> Degraded:
    """One random degradation of a frame and its faces (see the module docstring)."""
    img, boxes, lms, K = image.copy(), boxes.astype(np.float64).copy(), lms.astype(np.float64).copy(), K.copy()
    if rng.random() < 0.25 and len(boxes):  # truncate at the border through one face
        b = boxes[rng.integers(len(boxes))]
        side, frac = rng.integers(4), rng.uniform(0.1, 0.45)
        x0, y0, x1, y1 = 0, 0, img.shape[1], img.shape[0]
        if side == 0:
            x0 = int(b[0] + frac * (b[2] - b[0]))
        elif side == 1:
            x1 = int(b[2] - frac * (b[2] - b[0]))
        elif side == 2:
            y0 = int(b[1] + frac * (b[3] - b[1]))
        else:
            y1 = int(b[3] - frac * (b[3] - b[1]))
        img = np.ascontiguousarray(img[y0:y1, x0:x1])
        boxes -= [x0, y0, x0, y0]
        lms -= [x0, y0]
        K[0, 2] -= x0
        K[1, 2] -= y0
    s = rng.uniform(0.2, 1.0) if rng.random() < 0.7 else 1.0
    if s < 1.0:
        img = cv2.resize(img, (max(int(img.shape[1] * s), 16), max(int(img.shape[0] * s), 16)), interpolation=cv2.INTER_AREA)
        boxes, lms = boxes * s, lms * s
        K[:2] *= s
    if rng.random() < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 2.5))
    img, boxes, lms = _occlude_and_jitter(img, boxes, lms, rng)
    h, w = img.shape[:2]
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= 8) & ((boxes[:, 3] - boxes[:, 1]) >= 8)
    return Degraded(img, boxes[keep].astype(np.float32), lms[keep].astype(np.float32), K, keep)


def _occlude_and_jitter(img, boxes, lms, rng):
    for b in boxes:
        if rng.random() < 0.35:  # a grey block over part of the face
            bw, bh = b[2] - b[0], b[3] - b[1]
            ow, oh = bw * rng.uniform(0.25, 0.5), bh * rng.uniform(0.25, 0.5)
            ox, oy = b[0] + rng.uniform(0, bw - ow), b[1] + rng.uniform(0, bh - oh)
            y0, y1, x0, x1 = (max(int(v), 0) for v in (oy, oy + oh, ox, ox + ow))
            img[y0:y1, x0:x1] = rng.integers(0, 256)
    size = (boxes[:, 2:] - boxes[:, :2]).max(1, keepdims=True)
    shift = rng.normal(0, 0.05, (len(boxes), 2)) * size
    grow = rng.normal(1.0, 0.06, (len(boxes), 1))
    centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2 + shift, (boxes[:, 2:] - boxes[:, :2]) / 2 * grow
    lms = lms + shift[:, None] + rng.normal(0, 0.02, lms.shape) * size[:, None]
    return img, np.concatenate([centre - half, centre + half], 1), lms


def _faces(boxes: np.ndarray, lms: np.ndarray) -> Faces:
    return Faces(boxes=boxes.astype(np.float32), scores=np.ones(len(boxes), np.float32), landmarks=lms.astype(np.float32))


def collect(data_dir: Path, split: str, *, stride: int, per_image: int, seed: int, face_stage, gaze_stage) -> dict[str, np.ndarray]:
    """Samples of one split: ``features`` (S, F), ``student`` and ``teacher`` (S, 2) (yaw, pitch) radians,
    ``key`` (S,) the source image. Faces the clean mesh doubts (presence < 0.5) are no teacher."""
    rng = np.random.default_rng(seed)
    feats, student, teacher, keys = [], [], [], []
    for key, img in split_images(data_dir, split, stride):
        h, w = img.shape[:2]
        K = hp.camera_matrix(w, h)
        clean = Frame(key, 0, image=img, calib=Intrinsics(K, w, h))
        face_stage([clean])
        found = clean.results["face"]
        if not len(found):
            continue
        clean.results["face"] = _faces(found.boxes, found.landmarks)
        truth = gaze_stage.estimate([clean])[0]
        for _ in range(per_image):
            d = degrade(img, found.boxes, found.landmarks, K, rng)
            if not d.keep.any():
                continue
            frame = Frame(key, 1, image=d.image, calib=Intrinsics(d.K, d.image.shape[1], d.image.shape[0]))
            frame.results["face"] = _faces(d.boxes, d.landmarks)
            est = gaze_stage.estimate([frame])[0]
            for g, t in zip(est, [t for t, k in zip(truth, d.keep) if k]):
                if t.presence < 0.5:
                    continue
                feats.append(g.features)
                student.append(g.yaw_pitch)
                teacher.append(t.yaw_pitch)
                keys.append(key)
    return {"features": np.array(feats, np.float32).reshape(-1, len(FEATURES)), "student": np.array(student, np.float32).reshape(-1, 2),
            "teacher": np.array(teacher, np.float32).reshape(-1, 2), "key": np.array(keys)}


def angular_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) degrees between (N, 2) (yaw, pitch) gazes."""
    va, vb = hp.direction(a[:, 0], a[:, 1]), hp.direction(b[:, 0], b[:, 1])
    return np.degrees(np.arccos(np.clip((va * vb).sum(1), -1, 1)))


def fit(features: np.ndarray, residual: np.ndarray, *, steps: int, seed: int, lr: float = 1e-2):
    """(head, loss, mean, std): a GazeRLEHead on standardised features, residual (S, 2) radians its target."""
    import torch

    from sensorium.models.rle.heads import GazeRLEHead
    from sensorium.models.rle.loss import RLELoss

    torch.manual_seed(seed)
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = torch.from_numpy((features - mean) / std)
    y = torch.from_numpy(residual.astype(np.float32))
    head, loss = GazeRLEHead(x.shape[1]), RLELoss(dim=2, prior="laplace", num_couplings=4, hidden=32)
    opt = torch.optim.Adam([*head.parameters(), *loss.parameters()], lr=lr, weight_decay=1e-4)
    for step in range(steps):
        mu, sigma = head(x)
        value = loss(mu, sigma, y)
        opt.zero_grad()
        value.backward()
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            log.info("step %d: loss %.4f", step, float(value.detach()))
    return head.eval(), loss.eval(), mean, std


def evaluate(correction: np.ndarray, sigma: np.ndarray, samples: dict[str, np.ndarray], predicted: dict[str, float],
             radius: dict[str, float] | None = None) -> dict[str, float]:
    """Held-out metrics of a head's outputs (correction as the head gives it) on ``samples``: mean angular error raw and corrected, the
    share of errors inside the k-sigma box against the learned density's ``predicted`` share, and
    Spearman's rho of the sigma norm with the corrected angular error."""
    from scipy.stats import spearmanr

    corrected = apply_correction(samples["student"], correction)
    err = samples["teacher"] - corrected
    ang = angular_error(samples["teacher"], corrected)
    out = {"samples": int(len(err)), "mean_error_raw_deg": float(angular_error(samples["teacher"], samples["student"]).mean()),
           "mean_error_corrected_deg": float(ang.mean()), "median_error_corrected_deg": float(np.median(ang)),
           "spearman_sigma_error": float(spearmanr(np.linalg.norm(sigma, axis=1), ang).statistic)}
    for k, p in predicted.items():
        out[f"coverage_{k}sigma"] = float((np.abs(err) <= float(k) * sigma).all(1).mean())
        out[f"predicted_{k}sigma"] = p
    for p, k in (radius or {}).items():  # the learned density's p-region: |error| <= k(p) sigma
        out[f"coverage_p{p}"] = float((np.abs(err) <= k * sigma).all(1).mean())
    return out


def _cached(out: Path, split: str, **kw) -> dict[str, np.ndarray]:
    path = out / f"features_{split}_s{kw['stride']}_p{kw['per_image']}_seed{kw['seed']}.npz"
    if path.is_file():
        with np.load(path) as z:
            return dict(z)
    samples = collect(split=split, **kw)
    np.savez(path, **samples)
    return samples


def train_gaze(data_dir: Path, out: Path, *, steps: int = 500, stride: int = 2, per_image: int = 10, seed: int = 0,
               heldout_stride: int = 2, ship: Path | None = None) -> dict:
    """Collect (cached), fit, measure on the held-out split, export. Writes OUT/gaze_sigma.onnx and
    its JSON (and the same to ``ship``); returns the report (the JSON's metrics)."""
    from sensorium.models.rle.export import export_head
    from sensorium.models.training.rle_heads import box_mass
    from sensorium.stages.face.stage import FaceStage
    from sensorium.stages.gaze.stage import GazeStage

    out.mkdir(parents=True, exist_ok=True)
    face, gaze = FaceStage({"recognizer": "none", "keep_chips": False}), GazeStage({"sigma_head": "none"})
    common = {"data_dir": data_dir, "face_stage": face, "gaze_stage": gaze}
    train = _cached(out, "train", stride=stride, per_image=per_image, seed=seed, **common)
    held = _cached(out, "heldout", stride=heldout_stride, per_image=per_image, seed=seed + 1, **common)
    if len(train["features"]) < 20 or not len(held["features"]):
        raise ValueError(f"too few samples: {len(train['features'])} train, {len(held['features'])} held out")
    residual = (train["teacher"] - train["student"]) * yaw_sign(train["student"])  # in the estimate's yaw direction
    head, loss, mean, std = fit(train["features"], residual / TARGET_SCALE, steps=steps, seed=seed)
    mass = box_mass(loss)  # G on the grid once, not once per k and p
    predicted = {k: mass.coverage(float(k)) for k in ("1", "2")}
    import torch

    with torch.no_grad():
        mu, sigma = (t.numpy() * TARGET_SCALE for t in head(torch.from_numpy((held["features"] - mean) / std)))
    radius = {str(p): k for p, k in zip((0.68, 0.95), mass.radii((0.68, 0.95)))}
    metrics = evaluate(mu, sigma, held, predicted, radius)
    metrics["train_samples"] = int(len(train["features"]))
    meta = {"model": "sensorium's own RLE sigma head for the gaze stage (not a gaze network)", "features": list(FEATURES),
            "mean": mean.tolist(), "std": std.tolist(), "order": ["yaw", "pitch"], "scale": TARGET_SCALE, "coverage": predicted,
            "radius": radius, "metrics": metrics,
            "splits": {k: {"clip_blocks": f"frames i with (i // {CLIP_BLOCK}) % 2 == {v[0]} and i % {CLIP_BLOCK} < {CLIP_BLOCK - CLIP_GAP}",
                           "files": list(v[1])} for k, v in SPLITS.items()},
            "command": "sensorium train gaze " + shlex.join([
                "--out", str(out), "--steps", str(steps), "--stride", str(stride), "--heldout-stride", str(heldout_stride),
                "--per-image", str(per_image), "--seed", str(seed)] + (["--ship", str(ship)] if ship else []))}
    for dest in [out / "gaze_sigma.onnx"] + ([ship] if ship else []):
        export_head(head, dest)
        dest.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return metrics


def build_face_model_file(data_dir: Path, dest: Path, stride: int = 10) -> int:
    """Rebuild the gaze stage's 3-D face model from the meshes of both splits' faces; returns how many faces."""
    from sensorium.stages.face.stage import FaceStage
    from sensorium.stages.gaze.mesh import run_landmarks
    from sensorium.stages.gaze.stage import GazeStage

    face, gaze = FaceStage({"recognizer": "none", "keep_chips": False}), GazeStage({"sigma_head": "none"})
    gaze.setup()
    meshes = []
    for split in SPLITS:
        for _, img in split_images(data_dir, split, stride):
            (boxes, lms, _), = face.detect([img])
            (lm,) = run_landmarks(lambda x: list(gaze._mesh.run([x]).values()), lambda x: list(gaze._iris.run([x]).values()),
                                  [img], [(boxes, lms)])
            meshes += [m for m, p in zip(lm.mesh, lm.presence) if p > 0.5]
    np.savetxt(dest, hp.build_face_model(np.array(meshes)), delimiter=",", fmt="%.3f")
    return len(meshes)
