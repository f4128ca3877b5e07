"""Ground-truth disparity files: Middlebury PFM and scaled 16/8-bit PNG.

PFM (Middlebury 2014, Scene Flow): a text header ``Pf`` (one channel) or ``PF`` (three), the
width and height, and a scale whose sign gives the byte order (negative: little-endian); then
float32 rows from the *bottom* of the image up; ``inf`` marks unknown pixels. PNG (KITTI's
16-bit disparity x 256, Middlebury 2001-2006's 8-bit disparity x 4 or x 8): raw / scale, with 0
unknown. Both read to (H, W) float32 pixels with unknown as inf.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_pfm(path: str | Path) -> np.ndarray:
    """A PFM file → (H, W) float32 (the first channel of a colour PFM). Raises ValueError on a bad header or size."""
    data = Path(path).read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:  # magic, width, height, scale: whitespace-separated, then one whitespace byte
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        end = pos
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        if end == pos:
            raise ValueError(f"{path}: not a PFM file (header ends early)")
        fields.append(data[pos:end])
        pos = end
    pos += 1
    magic = fields[0]
    if magic not in (b"Pf", b"PF"):
        raise ValueError(f"{path}: not a PFM file (magic {magic[:8]!r}, expected b'Pf' or b'PF')")
    try:
        width, height, scale = int(fields[1]), int(fields[2]), float(fields[3])
    except ValueError:
        raise ValueError(f"{path}: bad PFM header {b' '.join(fields)!r}") from None
    channels = 3 if magic == b"PF" else 1
    count = width * height * channels
    if width <= 0 or height <= 0 or len(data) - pos < 4 * count:
        raise ValueError(f"{path}: PFM says {width}x{height}x{channels} float32, the file holds {len(data) - pos} bytes of data")
    values = np.frombuffer(data, dtype="<f4" if scale < 0 else ">f4", count=count, offset=pos)
    image = values.reshape(height, width, channels)[::-1, :, 0]  # rows are stored bottom-up
    return np.ascontiguousarray(image, dtype=np.float32)


def write_pfm(path: str | Path, image: np.ndarray) -> None:
    """(H, W) float32 → a little-endian one-channel PFM (Middlebury's layout)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"write_pfm: expected an (H, W) map, got {image.shape}")
    h, w = image.shape
    Path(path).write_bytes(f"Pf\n{w} {h}\n-1\n".encode() + np.ascontiguousarray(image[::-1]).astype("<f4").tobytes())


def read_disparity(path: str | Path, scale: float | None = None) -> np.ndarray:
    """Ground-truth disparity from a PFM or PNG file: (H, W) float32 pixels, inf where unknown.

    scale: PNG value per pixel of disparity (KITTI 256, Middlebury 2001-2006 4 or 8; default
    256 for 16-bit, 1 for 8-bit); ignored for PFM, whose values are pixels already.
    """
    path = Path(path)
    if scale is not None and not scale > 0:
        raise ValueError(f"ground-truth scale: expected > 0, got {scale}")
    if path.suffix.lower() == ".pfm":
        gt = read_pfm(path)
        return np.where(np.isfinite(gt) & (gt > 0), gt, np.inf).astype(np.float32)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f"{path}: cannot read it as an image (expected a .pfm or a 16/8-bit PNG of disparities)")
    if raw.ndim != 2 or raw.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: expected a single-channel 8- or 16-bit disparity image, got {raw.shape} {raw.dtype}")
    s = scale if scale is not None else (256.0 if raw.dtype == np.uint16 else 1.0)
    return np.where(raw > 0, raw.astype(np.float32) / np.float32(s), np.inf).astype(np.float32)
