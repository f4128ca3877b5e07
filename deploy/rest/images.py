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


def declared_pixels(data: bytes, name: str) -> int:
    """The pixel count ``data``'s header declares (PIL reads the header only); 400 when there is no
    header to read. The decoder checks the rest later."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        raise ApiError(413, "image_too_large", f"{name}: above the decoder's pixel limit") from None
    except Exception:  # noqa: BLE001 - PIL raises many kinds for garbage; the decoder names the problem
        raise ApiError(400, "bad_image", f"{name}: not a decodable image ({len(data)} bytes starting {data[:8]!r})") from None
    return int(w) * int(h)


def check_request_pixels(images: list[tuple[str, bytes]], max_image_pixels: int, max_request_pixels: int) -> None:
    """413 when one image or all of a request's images together declare more pixels than allowed,
    judged from the headers before any is decoded (twelve small 6300x6300 PNGs would decode to 1.4 GB)."""
    total = 0
    for name, data in images:
        n = declared_pixels(data, name) if data else 0
        if n > max_image_pixels:
            raise ApiError(413, "image_too_large", f"{name}: {n} pixels is above the limit of {max_image_pixels} pixels")
        total += n
        if total > max_request_pixels:
            raise ApiError(413, "request_too_large", f"the request's images declare {total} pixels or more (up to {name}); "
                                                     f"the limit is {max_request_pixels} pixels per request")
