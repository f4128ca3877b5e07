"""Screenshots as the REST service takes them: base64 text or PNG/JPEG bytes, checked from the
header before anything is decoded (a 50000x50000 PNG is refused without allocating it)."""

from __future__ import annotations

import base64
import binascii
import io

import cv2
import numpy as np

from sensorium.deploy.rest.errors import ApiError


def decode_image(data: bytes, max_pixels: int, name: str = "screenshot") -> np.ndarray:
    """PNG/JPEG bytes → (H, W, 3) uint8 RGB; the size is checked from the header first."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ApiError(400, "bad_image", f"{name}: empty")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            fmt = im.format
    except UnidentifiedImageError:  # its message names an in-memory buffer, nothing the client sent
        raise ApiError(400, "bad_image", f"{name}: not a PNG or JPEG image ({len(data)} bytes starting {data[:8]!r})") from None
    except (OSError, ValueError) as exc:
        raise ApiError(400, "bad_image", f"{name}: not a PNG or JPEG image ({exc})") from None
    except Image.DecompressionBombError:
        raise ApiError(413, "image_too_large", f"{name}: above the decoder's pixel limit") from None
    if fmt not in ("PNG", "JPEG", "WEBP"):
        raise ApiError(400, "bad_image", f"{name}: {fmt} images are not accepted; send PNG or JPEG")
    if w < 1 or h < 1:
        raise ApiError(400, "bad_image", f"{name}: empty image {w}x{h}")
    if w * h > max_pixels:
        raise ApiError(413, "image_too_large", f"{name}: {w}x{h} is above the limit of {max_pixels} pixels")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ApiError(400, "bad_image", f"{name}: the {fmt} data is truncated or corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_b64(value: str, name: str) -> bytes:
    """Base64 text (a ``data:`` URL prefix allowed) → bytes; 400 when it is not base64."""
    v = value.strip()
    if v.startswith("data:"):
        v = v.partition(",")[2]
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_image", f"{name}: not valid base64") from None
