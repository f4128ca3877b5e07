"""Screenshots as the REST service takes them: base64 text or PNG/JPEG bytes, checked from the
header before anything is decoded (a 50000x50000 PNG is refused without allocating it)."""

from __future__ import annotations

import base64
import binascii

import numpy as np

from sensorium.deploy.rest.errors import ApiError
from sensorium.pipeline.io.images import ImageError
from sensorium.pipeline.io.images import decode_image as _decode

#: what the service accepts, checked from the header before decoding
FORMATS = ("PNG", "JPEG", "WEBP")


def decode_image(data: bytes, max_pixels: int, name: str = "screenshot") -> np.ndarray:
    """PNG/JPEG/WebP bytes → (H, W, 3) uint8 RGB through the pipeline's one decoder (the size
    is read from the header first); its errors become 413 (too large) or 400."""
    try:
        return _decode(data, max_pixels=max_pixels, name=name, formats=FORMATS)
    except ImageError as exc:
        if exc.too_large:
            raise ApiError(413, "image_too_large", str(exc)) from None
        raise ApiError(400, "bad_image", str(exc)) from None


def decode_b64(value: str, name: str) -> bytes:
    """Base64 text (a ``data:`` URL prefix allowed) → bytes; 400 when it is not base64."""
    v = value.strip()
    if v.startswith("data:"):
        v = v.partition(",")[2]
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_image", f"{name}: not valid base64") from None
