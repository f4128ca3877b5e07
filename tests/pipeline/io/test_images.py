"""decode_image / read_image / read_depth on real photos, cut files, forged headers and 16-bit PNGs."""

from __future__ import annotations

import struct
import zlib
from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.images import ImageError, decode_image, read_depth, read_image


def _png_header(w: int, h: int) -> bytes:
    """A complete PNG whose header claims w x h (its pixel data is 16 bytes, far too little)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def _jpeg_declaring(jpeg: bytes, w: int, h: int) -> bytes:
    """``jpeg`` with its frame header (SOF0) rewritten to claim w x h."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[:sof + 5] + struct.pack(">HH", h, w) + jpeg[sof + 9:]


def _encode(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return buf.tobytes()


@pytest.fixture(scope="module")
def bus(data_dir) -> bytes:
    return (data_dir / "photos/bus.jpg").read_bytes()


def test_decodes_to_rgb_exactly_as_opencv(bus):
    image = decode_image(bus)
    expected = cv2.cvtColor(cv2.imdecode(np.frombuffer(bus, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert image.dtype == np.uint8 and image.shape == expected.shape and np.array_equal(image, expected)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tiff"])
def test_grayscale_and_16_bit_images_come_out_as_8_bit_rgb(ext):
    gray16 = (np.arange(12 * 10, dtype=np.uint16).reshape(10, 12) * 500)
    image = decode_image(_encode(ext, gray16 if ext != ".bmp" else (gray16 >> 8).astype(np.uint8)))
    assert image.shape == (10, 12, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 0], image[..., 2])  # grey replicated into R, G, B


# data maker, decode options, expected problem (substring), too_large
CASES = [
    (lambda bus: b"", {}, "empty file", False),
    (lambda bus: bus[: len(bus) // 2], {}, "truncated JPEG: no end-of-image marker", False),
    (lambda bus: _encode(".png", np.zeros((20, 20, 3), np.uint8))[:-40], {}, "truncated PNG: no IEND chunk", False),
    (lambda bus: b"this is not an image at all" * 10, {}, "not a decodable image (270 bytes)", False),
    (lambda bus: b"this is not an image at all" * 10, {"max_pixels": 10**6}, "not a decodable image (270 bytes starting", False),
    (lambda bus: _png_header(0, 0), {"max_pixels": 10**6}, "empty image 0x0", False),
    (lambda bus: _png_header(0, 0), {}, "empty image 0x0", False),
    (lambda bus: _png_header(50_000, 50_000), {"max_pixels": 10**6}, "50000x50000 is above the limit of 1000000 pixels", True),
    # the bomb of issue 12: OpenCV raised cv2.error, which no reader caught; now judged from the header, limit or not
    (lambda bus: _png_header(65535, 65535), {}, "65535x65535 is above OpenCV's limit of 1073741824 pixels", True),
    (lambda bus: _jpeg_declaring(bus, 65500, 65500), {}, "65500x65500 is above OpenCV's limit", True),
    (lambda bus: _jpeg_declaring(bus, 4000, 3000), {"max_pixels": 10**6}, "4000x3000 is above the limit of 1000000 pixels", True),
    # a format only OpenCV reads (no header read here): OpenCV's own check, its cv2.error turned into an ImageError
    (lambda bus: b"PF\n65535 65535\n-1.0\n" + b"\0" * 64, {}, "not a decodable image (OpenCV: pixels <= CV_IO_MAX_IMAGE_PIXELS", True),
    (lambda bus: b"GIF89a" + b"\xff" * 40, {}, "not a decodable image (46 bytes starting b'GIF89a\\xff\\xff': a broken GIF header)", False),
    (lambda bus: _png_header(20, 20)[:40], {}, "truncated PNG: no IEND chunk (40 bytes)", False),
    (lambda bus: b"\xff\xd8\xff\xd9", {}, "JPEG without a frame header", False),
    (lambda bus: bus[:20], {}, "truncated JPEG: ends before its frame header (20 bytes)", False),
    (lambda bus: b"\x89PNG\r\n\x1a\n", {}, "truncated PNG: ends in its header (8 bytes)", False),
    (lambda bus: _png_header(20, 20)[:8] + _png_header(20, 20)[33:], {}, "PNG without an IHDR chunk", False),
    (lambda bus: _png_header(2000, 1000), {"max_pixels": 1_999_999}, "2000x1000 is above the limit of 1999999 pixels", True),
    (lambda bus: bus, {"max_pixels": 810 * 1080 - 1}, "810x1080 is above the limit of 874799 pixels", True),
    (lambda bus: _encode(".bmp", np.zeros((4, 4, 3), np.uint8)), {"formats": ("PNG", "JPEG")}, "BMP images are not accepted; expected PNG, JPEG", False),
]


@pytest.mark.parametrize("make, options, problem, too_large", CASES)
def test_bad_images_raise_naming_the_item_and_the_problem(bus, make, options, problem, too_large):
    with pytest.raises(ImageError) as exc:
        decode_image(make(bus), name="upload 7", **options)
    assert isinstance(exc.value, ValueError)
    assert str(exc.value).startswith("upload 7: ") and problem in str(exc.value), str(exc.value)
    assert exc.value.name == "upload 7" and exc.value.too_large is too_large


@pytest.mark.parametrize(
    "options, expectation",
    [
        ({"max_pixels": 810 * 1080}, does_not_raise()),  # exactly at the limit
        ({"max_pixels": 810 * 1080, "formats": ("JPEG",)}, does_not_raise()),
        ({"formats": ("PNG",)}, pytest.raises(ImageError, match="JPEG images are not accepted")),
    ],
)
def test_header_checks_pass_what_they_allow(bus, options, expectation):
    with expectation:
        assert decode_image(bus, **options).shape == (1080, 810, 3)


def test_read_image_names_the_file(tmp_path, bus):
    path = tmp_path / "cut.jpg"
    path.write_bytes(bus[:1000])
    with pytest.raises(ImageError, match=f"^{path}: truncated JPEG"):
        read_image(path)
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")


def test_read_depth_scales_and_checks_its_png(tmp_path):
    raw = np.array([[0, 1000], [5000, 65535]], np.uint16)
    assert cv2.imwrite(str(tmp_path / "d.png"), raw)
    np.testing.assert_array_equal(read_depth(tmp_path / "d.png", 1000.0, (2, 2)), raw.astype(np.float32) / 1000)
    with pytest.raises(ImageError, match=r"d.png: depth is 2x2 but the colour image is 3x2"):
        read_depth(tmp_path / "d.png", 1000.0, (2, 3))
    assert cv2.imwrite(str(tmp_path / "d8.png"), raw.astype(np.uint8))
    with pytest.raises(ImageError, match=r"d8.png: expected a single-channel 16-bit depth image, got \(2, 2\) uint8"):
        read_depth(tmp_path / "d8.png", 1000.0)


def test_the_141_byte_bomb_is_refused_from_its_header_at_every_limit():
    """Issue 12: a PNG of a few bytes declaring 65535x65535. OpenCV raised cv2.error (not a
    ValueError) through every reader; the header says enough to refuse it, limit or not."""
    bomb = _png_header(65535, 65535)
    with pytest.raises(cv2.error, match="CV_IO_MAX_IMAGE_PIXELS"):  # what OpenCV alone does with it
        cv2.imdecode(np.frombuffer(bomb, np.uint8), cv2.IMREAD_COLOR)
    for options in ({}, {"max_pixels": 10**6}, {"max_pixels": 2**40}, {"formats": ("PNG",)}):
        with pytest.raises(ImageError) as exc:
            decode_image(bomb, name="bomb.png", **options)
        assert exc.value.too_large and "65535x65535" in str(exc.value) and str(exc.value).startswith("bomb.png: ")


def _mp4_trailer(n: int) -> bytes:
    """What a Motion Photo appends after the JPEG: an MP4 (ftyp box) and then ``n`` bytes that
    hold 0xFF and even 0xFFD9 by chance."""
    rng = np.random.default_rng(0)
    return struct.pack(">I4s4s", 24, b"ftyp", b"mp42") + b"\0" * 12 + rng.integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("encode, trailer", [
    (lambda bus: bus, _mp4_trailer(100_000)),
    (lambda bus: _encode(".jpg", cv2.imdecode(np.frombuffer(bus, np.uint8), cv2.IMREAD_COLOR)[:200, :300]) , b"\0" * 4096),
    (lambda bus: _encode(".jpg", cv2.imdecode(np.frombuffer(bus, np.uint8), cv2.IMREAD_COLOR)[:200, :300], cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
     _mp4_trailer(50_000)),
    (lambda bus: _encode(".png", cv2.imdecode(np.frombuffer(bus, np.uint8), cv2.IMREAD_COLOR)[:200, :300]), b"\0" * 1000),
    (lambda bus: _encode(".png", cv2.imdecode(np.frombuffer(bus, np.uint8), cv2.IMREAD_COLOR)[:200, :300]), _mp4_trailer(10_000)),
])
def test_data_after_the_end_marker_is_ignored_not_taken_for_truncation(bus, encode, trailer):
    complete = encode(bus)
    expected = decode_image(complete)
    np.testing.assert_array_equal(decode_image(complete + trailer, max_pixels=10**7), expected)


def test_a_cut_jpeg_is_truncated_even_with_an_end_marker_inside_it(bus):
    """An EXIF thumbnail is a whole JPEG, end marker included, inside an APP1 segment: the marker
    walk skips it, so the main image cut mid-scan still says truncated, and whole it decodes."""
    thumb = _encode(".jpg", np.full((8, 8, 3), 90, np.uint8))
    app1 = b"\xff\xe1" + struct.pack(">H", len(thumb) + 8) + b"Exif\0\0" + thumb
    with_thumb = bus[:2] + app1 + bus[2:]
    np.testing.assert_array_equal(decode_image(with_thumb), decode_image(bus))
    cut = with_thumb[: len(with_thumb) * 2 // 3]
    assert b"\xff\xd9" in cut  # the thumbnail's
    with pytest.raises(ImageError, match="truncated JPEG: no end-of-image marker"):
        decode_image(cut)


def test_formats_only_opencv_reads_still_decode():
    """PFM and PAM: PIL reads neither header, OpenCV decodes both; without a limit set they pass."""
    rgb = np.random.default_rng(1).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    for ext in (".pfm", ".pam"):
        data = _encode(ext, rgb.astype(np.float32) / 255 if ext == ".pfm" else rgb)
        assert decode_image(data).shape == (10, 12, 3)
        with pytest.raises(ImageError, match="not a decodable image"):  # a limit needs a header it can be judged from
            decode_image(data, max_pixels=10**6)
