"""The one image decoding of the pipeline: encoded bytes or files → (H, W, 3) uint8 RGB.

Sources, the batch loader and the REST service read images here, so a truncated upload, a
decompression bomb and a corrupt file in a bucket fail the same way: an :class:`ImageError`
(a ValueError) whose message names the item and says what is wrong with it.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from pathlib import Path

import cv2
import numpy as np


class ImageError(ValueError):
    """An image that cannot be decoded. ``str()`` is ``"<name>: <problem>"``; ``too_large`` is
    True when it was refused for its size (HTTP 413 rather than 400)."""

    def __init__(self, name: str, problem: str, *, too_large: bool = False) -> None:
        super().__init__(f"{name}: {problem}")
        self.name, self.problem, self.too_large = name, problem, too_large


def _incomplete(data: bytes) -> str | None:
    """Why ``data`` looks truncated, or None. OpenCV decodes a cut JPEG into a half-grey image
    without an error, so the end-of-image markers are checked before decoding."""
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        # 0xFFD9 cannot occur inside entropy-coded data, so a missing EOI near the end means a cut file
        return f"truncated JPEG: no end-of-image marker ({len(data)} bytes)"
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]:
        return f"truncated PNG: no IEND chunk ({len(data)} bytes)"
    return None


def _check_header(data: bytes, name: str, max_pixels: int | None, formats: Collection[str] | None) -> None:
    """Read the size (and format) from the header with PIL, before anything is decoded: a
    small file can declare a gigapixel image (a decompression bomb)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            (w, h), fmt = im.size, im.format
    except UnidentifiedImageError:  # its message names an in-memory buffer, nothing the sender knows
        raise ImageError(name, f"not a decodable image ({len(data)} bytes starting {data[:8]!r})") from None
    except Image.DecompressionBombError:
        raise ImageError(name, "above the decoder's pixel limit", too_large=True) from None
    except (OSError, ValueError) as exc:
        raise ImageError(name, f"not a decodable image ({exc})") from None
    if formats is not None and fmt not in formats:
        raise ImageError(name, f"{fmt} images are not accepted; expected {', '.join(formats)}")
    if w < 1 or h < 1:
        raise ImageError(name, f"empty image {w}x{h}")
    if max_pixels is not None and w * h > max_pixels:
        raise ImageError(name, f"{w}x{h} is above the limit of {max_pixels} pixels", too_large=True)


def _decode(data: bytes, flags: int, name: str, max_pixels: int | None = None, formats: Collection[str] | None = None) -> np.ndarray:
    if not data:
        raise ImageError(name, "empty file")
    if max_pixels is not None or formats is not None:
        _check_header(data, name, max_pixels, formats)
    problem = _incomplete(data)
    if problem:
        raise ImageError(name, problem)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if image is None:
        raise ImageError(name, f"not a decodable image ({len(data)} bytes)")
    return image


def decode_image(data: bytes, *, max_pixels: int | None = None, name: str = "image",
                 formats: Collection[str] | None = None) -> np.ndarray:
    """Decode an encoded image (any format and bit depth OpenCV reads) to (H, W, 3) uint8 RGB.

    max_pixels: refuse an image of more pixels, judged from its header before decoding (needs a
        format PIL identifies). None: no limit, no header read (files we were given to read).
    formats: PIL format names accepted (``{"PNG", "JPEG"}``), checked from the header; None: any.
    name: what the caller calls the item (a path, ``"screenshot"``), first in every message.

    Raises :class:`ImageError` (a ValueError): empty, truncated JPEG/PNG, not an image, a refused
    format, an empty image, or (``too_large``) above ``max_pixels``.
    """
    return cv2.cvtColor(_decode(data, cv2.IMREAD_COLOR, name, max_pixels, formats), cv2.COLOR_BGR2RGB)


def read_image(path: str | Path, *, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB (see :func:`decode_image`; the path is the name).

    Raises OSError when the file cannot be read, :class:`ImageError` for its content.
    """
    return decode_image(Path(path).read_bytes(), max_pixels=max_pixels, name=str(path))


def read_depth(path: str | Path, scale: float, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a 16-bit single-channel depth PNG to (H, W) float32 metres (raw / ``scale``; 0 = unknown).

    ``shape``: the (H, W) of the colour image it must be registered to. Raises OSError when the
    file cannot be read, :class:`ImageError` for another dtype, channel count or size.
    """
    raw = _decode(Path(path).read_bytes(), cv2.IMREAD_UNCHANGED, str(path))
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ImageError(str(path), f"expected a single-channel 16-bit depth image, got {raw.shape} {raw.dtype}")
    if shape is not None and raw.shape != tuple(shape):
        raise ImageError(str(path), f"depth is {raw.shape[1]}x{raw.shape[0]} but the colour image is {shape[1]}x{shape[0]}")
    return raw.astype(np.float32) / np.float32(scale)
