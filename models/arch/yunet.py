"""YuNet face detector (libfacedetection, 2023mar release): graph preparation, pre- and
post-processing, as pure functions around an onnxruntime session.

The published ``yunet_s_640_640.onnx`` has a fixed (1, 3, 640, 640) input, but every layer is
convolutional and its twelve outputs are reshaped with ``[1, -1, C]``. :func:`dynamic_yunet`
rewrites those reshapes to ``[0, -1, C]`` (0 copies the batch dimension) and makes batch,
height and width symbolic, so one session call detects faces in a whole batch of images of
any size that is a multiple of 32. Weights and arithmetic are untouched.

Decoding follows OpenCV's ``FaceDetectorYN`` (modules/objdetect/src/face_detect.cpp) so that
our boxes match it: per stride s in (8, 16, 32), cell (row r, col c) gives
``score = sqrt(clip(cls) * clip(obj))``, centre ``((c + dx) s, (r + dy) s)``, size
``(exp(dw) s, exp(dh) s)``, landmark n ``((c + kx_n) s, (r + ky_n) s)``. Input: BGR float32
in [0, 255], NCHW, no normalisation, padded with zeros at the bottom and right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

STRIDES = (8, 16, 32)
DIVISOR = 32
#: landmark order of YuNet's outputs, named from the viewer's side (image left first)
LANDMARKS = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")


def dynamic_yunet(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of YuNet's graph with symbolic batch/height/width and batch-preserving reshapes.

    Raises ValueError when the graph is not the YuNet layout this module decodes (one
    ``input``, outputs ``cls_8 .. kps_32``), rather than guessing at another model.
    """
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    expected = {f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in STRIDES}
    outputs = {o.name for o in g.output}
    if len(g.input) != 1 or outputs != expected:
        raise ValueError(f"not a YuNet graph: inputs {[i.name for i in g.input]}, outputs {sorted(outputs)}; expected one input and {sorted(expected)}")
    shape_inputs = {n.input[1] for n in g.node if n.op_type == "Reshape"}
    patched = 0
    for init in g.initializer:
        if init.name in shape_inputs:
            arr = onnx.numpy_helper.to_array(init).copy()
            if arr.ndim == 1 and arr.size == 3 and arr[0] == 1:
                arr[0] = 0
                init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
                patched += 1
    for node in g.node:
        if node.op_type == "Constant" and node.output[0] in shape_inputs:
            arr = onnx.numpy_helper.to_array(node.attribute[0].t).copy()
            if arr.ndim == 1 and arr.size == 3 and arr[0] == 1:
                arr[0] = 0
                node.attribute[0].t.CopyFrom(onnx.numpy_helper.from_array(arr))
                patched += 1
    if patched == 0:
        raise ValueError("not a YuNet graph: found no [1, -1, C] reshape to make batch-preserving")
    dims = g.input[0].type.tensor_type.shape.dim
    for d, name in zip(dims, ("batch", None, "height", "width")):
        if name is not None:
            d.ClearField("dim_value")
            d.dim_param = name
    for o in g.output:
        od = o.type.tensor_type.shape.dim
        od[0].ClearField("dim_value")
        od[0].dim_param = "batch"
        od[1].ClearField("dim_value")
        od[1].dim_param = f"cells_{o.name.split('_')[1]}"
    del g.value_info[:]  # stale fixed shapes; onnxruntime infers them again
    return m


@dataclass(frozen=True)
class Letterbox:
    """How one image was placed in the network input: ``input = image * scale`` at the top
    left, zeros elsewhere. Maps network pixels back with ``/ scale``."""

    scale: float
    height: int
    width: int


def padded(n: int) -> int:
    """The next multiple of 32 at or above ``n`` (YuNet's coarsest stride)."""
    return (max(int(n), 1) + DIVISOR - 1) // DIVISOR * DIVISOR


def letterbox_batch(images_bgr: list[np.ndarray], max_side: int) -> tuple[np.ndarray, list[Letterbox]]:
    """Resize each (H, W, 3) uint8 BGR image so its longer side is at most ``max_side`` (never
    up), place it at the top left of a zero canvas shared by the batch (each side a multiple of
    32) → ((B, 3, Hp, Wp) float32 in [0, 255], per-image :class:`Letterbox`)."""
    import cv2

    if not images_bgr:
        raise ValueError("letterbox_batch: no images")
    resized, boxes = [], []
    for img in images_bgr:
        h, w = img.shape[:2]
        scale = min(1.0, max_side / max(h, w))
        if scale < 1.0:
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
            scale = nw / w  # the scale actually applied along x (y differs by < 1 px)
        resized.append(img)
        boxes.append(Letterbox(scale, h, w))
    hp = padded(max(r.shape[0] for r in resized))
    wp = padded(max(r.shape[1] for r in resized))
    batch = np.zeros((len(resized), 3, hp, wp), np.float32)
    for i, r in enumerate(resized):
        batch[i, :, : r.shape[0], : r.shape[1]] = r.transpose(2, 0, 1)
    return batch, boxes


def decode(outputs: dict[str, np.ndarray], height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs of a (B, 3, height, width) run → every prior's (boxes (B, N, 4) xyxy,
    landmarks (B, N, 5, 2) xy, scores (B, N)) in network pixels, N = sum of cells per stride."""
    all_boxes, all_kps, all_scores = [], [], []
    for s in STRIDES:
        rows, cols = height // s, width // s
        cls = np.clip(outputs[f"cls_{s}"][..., 0], 0.0, 1.0)  # (B, rows*cols)
        obj = np.clip(outputs[f"obj_{s}"][..., 0], 0.0, 1.0)
        bbox = outputs[f"bbox_{s}"]  # (B, rows*cols, 4)
        kps = outputs[f"kps_{s}"].reshape(bbox.shape[0], -1, 5, 2)
        if cls.shape[1] != rows * cols:
            raise ValueError(f"stride {s}: expected {rows * cols} cells for a {height}x{width} input, got {cls.shape[1]}")
        r, c = np.divmod(np.arange(rows * cols), cols)
        grid = np.stack([c, r], -1).astype(np.float32)  # (N_s, 2) as (x, y)
        centre = (grid + bbox[..., :2]) * s
        size = np.exp(bbox[..., 2:]) * s
        all_boxes.append(np.concatenate([centre - size / 2, centre + size / 2], -1))
        all_kps.append((grid[:, None, :] + kps) * s)
        all_scores.append(np.sqrt(cls * obj))
    return np.concatenate(all_boxes, 1), np.concatenate(all_kps, 1), np.concatenate(all_scores, 1)


def nms_faces(boxes: np.ndarray, scores: np.ndarray, *, score_threshold: float, nms_threshold: float, top_k: int) -> np.ndarray:
    """Indices kept by score threshold then NMS (torchvision), best first, at most ``top_k``.
    boxes: (N, 4) xyxy float32; scores: (N,)."""
    import torch
    from torchvision.ops import nms

    keep = np.flatnonzero(scores >= score_threshold)
    if keep.size == 0:
        return keep
    kept = nms(torch.from_numpy(np.ascontiguousarray(boxes[keep], np.float32)), torch.from_numpy(np.ascontiguousarray(scores[keep], np.float32)), nms_threshold).numpy()
    return keep[kept[:top_k]]


def dynamic_yunet_file(weights: str = "yunet_s") -> "Path":
    """Path of the dynamic-shape graph (:func:`dynamic_yunet`) for a registered weights name or
    an ``.onnx`` path, written once into the weights cache under the source file's sha256 (a
    different file never reuses a stale graph; the write is atomic)."""
    import os
    from pathlib import Path

    from sensorium.models.hub import weights as registry

    src = Path(weights)
    if src.suffix == ".onnx" or src.is_file():
        if not src.is_file():
            raise FileNotFoundError(f"YuNet model not found: {src}")
    else:
        src = registry.resolve(weights)
    digest = registry.sha256_file(src)
    cached = registry.default_cache_dir() / f"yunet-dynamic-{digest[:16]}.onnx"
    if not cached.is_file():
        try:
            model = onnx.load(str(src))
        except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds
            raise ValueError(f"{src}: not a loadable ONNX file ({type(exc).__name__}: {exc})") from None
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        onnx.save(dynamic_yunet(model), str(tmp))
        os.replace(tmp, cached)
    return cached
