"""Images as every stage takes them: (H, W, 3) uint8 RGB, and the file suffixes read as images."""

from __future__ import annotations

from typing import Any

import numpy as np

#: suffixes read as images wherever a folder or glob is listed (sources, batch jobs)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"})


def as_rgb(image: Any, *, name: str = "image") -> np.ndarray:
    """An (H, W, 3) uint8 RGB view or copy of ``image``: grayscale (H, W) or (H, W, 1) is
    replicated, RGBA (H, W, 4) drops alpha. Anything else — other dtypes (no guessing whether
    a float image is in [0, 1] or [0, 255]), empty images — raises ValueError saying what came."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 pixels, got {arr.dtype} {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name}: expected (H, W), (H, W, 3) or (H, W, 4) uint8, got {np.asarray(image).shape} {arr.dtype}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: empty image {arr.shape}")
    return arr
