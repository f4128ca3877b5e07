"""The one image decoding of the pipeline: encoded bytes or files → (H, W, 3) uint8 RGB.

Sources, the batch loader, the face CLI and the REST service read images here, so a truncated
upload, a decompression bomb and a corrupt file in a bucket fail the same way: an
:class:`ImageError` (a ValueError) whose message names the item and says what is wrong with it.
No OpenCV or PIL exception leaves this module: a reader that catches ``ValueError`` survives
any file.

The size an image declares is read from its header before anything is decoded, always: a
141-byte PNG can declare 65535x65535, and OpenCV answers that with a ``cv2.error`` (its own
``CV_IO_MAX_IMAGE_PIXELS``) or, under that limit, by allocating what the header says. PNG and
JPEG headers are walked here (the walk also finds where the image ends, so a Motion Photo's
MP4 trailer or padding after the end marker is not taken for truncation); other formats are
asked of PIL, and formats PIL cannot read (PFM, float TIFF, EXR, PAM) are left to OpenCV's own
limit when the caller set none.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: OpenCV's own limits (imgcodecs/src/loadsave.cpp), read from the same variables it reads
OPENCV_MAX_PIXELS = int(os.environ.get("CV_IO_MAX_IMAGE_PIXELS", 1 << 30))
OPENCV_MAX_SIDE = min(int(os.environ.get("CV_IO_MAX_IMAGE_WIDTH", 1 << 20)), int(os.environ.get("CV_IO_MAX_IMAGE_HEIGHT", 1 << 20)))

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: a marker in JPEG data: 0xFF then neither a stuffed zero, a restart marker (inside a scan) nor fill
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers; C4/C8/CC are DHT, JPG, DAC
#: magic numbers of formats whose header PIL reads: when it cannot, the file is broken, not exotic
_PIL_READS = ((b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"BM", "BMP"))


class ImageError(ValueError):
    """An image that cannot be decoded. ``str()`` is ``"<name>: <problem>"``; ``too_large`` is
    True when it was refused for its size (HTTP 413 rather than 400)."""

    def __init__(self, name: str, problem: str, *, too_large: bool = False) -> None:
        super().__init__(f"{name}: {problem}")
        self.name, self.problem, self.too_large = name, problem, too_large


@dataclass(frozen=True)
class Header:
    """What an encoded image declares. ``end``: bytes up to and including its end marker (what
    follows is a trailer the decoders ignore); None when the format has none or it is missing."""

    format: str  # PIL's name for it: "PNG", "JPEG", ...
    width: int
    height: int
    end: int | None = None


def _png_header(data: bytes, name: str) -> Header:
    """Walk the chunks: IHDR first gives the size, IEND ends the image."""
    if len(data) < 33:  # signature, IHDR chunk
        raise ImageError(name, f"truncated PNG: ends in its header ({len(data)} bytes)")
    if data[12:16] != b"IHDR":
        raise ImageError(name, f"not a decodable image (PNG without an IHDR chunk, {len(data)} bytes)")
    width, height = struct.unpack(">II", data[16:24])
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IEND":
            return Header("PNG", width, height, min(pos + 12, len(data)))
        pos += 12 + length  # length, type, data, CRC
    return Header("PNG", width, height)


def _jpeg_header(data: bytes, name: str) -> Header:
    """Walk the markers as libjpeg does: segments by their length, scans up to the next marker
    (0xFF is stuffed inside entropy-coded data), until the end-of-image marker. A segment's
    length skips over what it holds, so an EXIF thumbnail's own end marker ends nothing."""
    size: tuple[int, int] | None = None
    pos = 2
    while (m := _JPEG_MARKER.search(data, pos)) is not None:
        pos, marker = m.start(), data[m.start() + 1]
        if marker == 0xD9:
            if size is None:
                raise ImageError(name, f"not a decodable image (JPEG without a frame header, {len(data)} bytes)")
            return Header("JPEG", size[0], size[1], pos + 2)
        if marker in (0x01, 0xD8) or pos + 4 > len(data):  # TEM and SOI have no length; or the data ends in a marker
            pos += 2
            continue
        seg_end = pos + 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in _JPEG_SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            size = size or (width, height)  # the first frame's: a later SOF belongs to no other image
        pos = seg_end
    if size is None:
        raise ImageError(name, f"truncated JPEG: ends before its frame header ({len(data)} bytes)")
    return Header("JPEG", size[0], size[1])


def _pil_header(data: bytes, name: str) -> Header | None:
    """The header as PIL reads it, or None when PIL does not know the format (OpenCV may)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return Header(str(im.format), *im.size)
    except Image.DecompressionBombError as exc:
        raise ImageError(name, f"above the pixel limit ({exc})", too_large=True) from None
    except Exception as exc:  # PIL's plugins raise OSError, SyntaxError, struct.error...: all mean "not this"
        known = next((fmt for magic, fmt in _PIL_READS if data.startswith(magic)), None)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            known = "WEBP"
        if known is not None:
            raise ImageError(name, f"not a decodable image ({len(data)} bytes starting {data[:8]!r}: a broken {known} header)") from None
        return None


def read_header(data: bytes, name: str = "image") -> Header | None:
    """The declared format and size of an encoded image, without decoding it; None when only
    OpenCV knows the format. Raises :class:`ImageError` for a header that is there but broken."""
    if data.startswith(_PNG_SIGNATURE):
        return _png_header(data, name)
    if data[:2] == b"\xff\xd8":
        return _jpeg_header(data, name)
    return _pil_header(data, name)


def _check(header: Header, data: bytes, name: str, max_pixels: int | None, formats: Collection[str] | None) -> None:
    """Refuse by what the header says: format, empty, too large, ended early."""
    w, h = header.width, header.height
    if formats is not None and header.format not in formats:
        raise ImageError(name, f"{header.format} images are not accepted; expected {', '.join(formats)}")
    if w < 1 or h < 1:
        raise ImageError(name, f"empty image {w}x{h}")
    if max_pixels is not None and max_pixels < OPENCV_MAX_PIXELS and w * h > max_pixels:
        raise ImageError(name, f"{w}x{h} is above the limit of {max_pixels} pixels", too_large=True)
    if w * h > OPENCV_MAX_PIXELS or max(w, h) > OPENCV_MAX_SIDE:
        raise ImageError(name, f"{w}x{h} is above OpenCV's limit of {OPENCV_MAX_PIXELS} pixels "
                               f"(CV_IO_MAX_IMAGE_PIXELS) or {OPENCV_MAX_SIDE} a side", too_large=True)
    if header.end is None and header.format == "JPEG":
        raise ImageError(name, f"truncated JPEG: no end-of-image marker ({len(data)} bytes)")
    if header.end is None and header.format == "PNG":
        raise ImageError(name, f"truncated PNG: no IEND chunk ({len(data)} bytes)")


def _decode(data: bytes, flags: int, name: str, max_pixels: int | None = None, formats: Collection[str] | None = None) -> np.ndarray:
    if not data:
        raise ImageError(name, "empty file")
    header = read_header(data, name)
    if header is None and (max_pixels is not None or formats is not None):
        # a limit the caller set is judged from a header, before decoding: no header, no decoding
        raise ImageError(name, f"not a decodable image ({len(data)} bytes starting {data[:8]!r})")
    if header is not None:
        _check(header, data, name, max_pixels, formats)
    end = len(data) if header is None or header.end is None else header.end
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8, count=end), flags)
    except cv2.error as exc:  # OpenCV's own size limit (formats decoded unseen), a decoder's assertion
        found = re.search(r"error: \([^)]*\) (.*)", str(exc))
        reason = found.group(1).strip() if found else str(exc).strip()
        raise ImageError(name, f"not a decodable image (OpenCV: {reason})", too_large="CV_IO_MAX_IMAGE" in str(exc)) from None
    if image is None:
        raise ImageError(name, f"not a decodable image ({len(data)} bytes)")
    return image


def decode_image(data: bytes, *, max_pixels: int | None = None, name: str = "image",
                 formats: Collection[str] | None = None) -> np.ndarray:
    """Decode an encoded image (any format and bit depth OpenCV reads) to (H, W, 3) uint8 RGB.

    The header is read first, always; data after a JPEG's or PNG's end marker is ignored.
    max_pixels: refuse an image of more pixels, judged from its header before decoding; then
        the format must be one whose header is read (PNG, JPEG or one PIL identifies). None:
        OpenCV's own limit (``CV_IO_MAX_IMAGE_PIXELS``, default 2**30), also judged from the
        header where there is one, and formats only OpenCV reads (PFM, EXR...) are decoded.
    formats: PIL format names accepted (``{"PNG", "JPEG"}``), checked from the header; None: any.
    name: what the caller calls the item (a path, ``"screenshot"``), first in every message.

    Raises :class:`ImageError` (a ValueError), never an OpenCV or PIL exception: empty,
    truncated JPEG/PNG, not an image, a refused format, an empty image, or (``too_large``)
    above ``max_pixels`` or OpenCV's limit.
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
