"""ImageFilesSource on real photos, corrupt, truncated and empty files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sensorium.pipeline.io.sources.base import SourceState
from sensorium.pipeline.io.sources.open import open_source


def small_bus(data_dir: Path, size=(96, 72)) -> np.ndarray:
    """A real photo, small, as BGR (what cv2 writes)."""
    return cv2.resize(cv2.imread(str(data_dir / "photos/bus.jpg")), size, interpolation=cv2.INTER_AREA)


def test_image_folder_yields_error_frames_for_bad_files_and_decodes_the_rest(data_dir, tmp_path, read_all, write_png):
    bus = (data_dir / "photos/bus.jpg").read_bytes()
    good_bgr = small_bus(data_dir)
    write_png(tmp_path / "a_good.png", good_bgr)
    (tmp_path / "b_corrupt.jpg").write_bytes(b"this is not a JPEG at all" * 40)
    (tmp_path / "c_truncated.jpg").write_bytes(bus[: len(bus) // 2])
    (tmp_path / "d_good.jpg").write_bytes(bus)
    (tmp_path / "e_empty.png").write_bytes(b"")
    png = (tmp_path / "a_good.png").read_bytes()
    (tmp_path / "f_truncated.png").write_bytes(png[: len(png) - 40])
    (tmp_path / "notes.txt").write_text("not an image, not listed")

    source = open_source(str(tmp_path))
    frames = read_all(source)

    assert [f.seq for f in frames] == list(range(6))
    assert [Path(f.meta["path"]).name for f in frames] == ["a_good.png", "b_corrupt.jpg", "c_truncated.jpg", "d_good.jpg", "e_empty.png", "f_truncated.png"]
    good = {0: cv2.cvtColor(good_bgr, cv2.COLOR_BGR2RGB), 3: cv2.cvtColor(cv2.imread(str(data_dir / "photos/bus.jpg")), cv2.COLOR_BGR2RGB)}
    for i, expected in good.items():
        assert frames[i].ok and np.array_equal(frames[i].image, expected)  # decoded, and RGB not BGR
    expected_errors = {1: "not a decodable image", 2: "truncated JPEG", 4: "empty file", 5: "truncated PNG"}
    for i, what in expected_errors.items():
        f = frames[i]
        assert f.image is None
        assert f.errors["source"].startswith(f.meta["path"] + ": ")
        assert what in f.errors["source"]
    assert source.state is SourceState.ENDED


def test_glob_reads_matching_files_sorted(data_dir, tmp_path, read_all, write_png):
    bgr = small_bus(data_dir)
    for name in ("2.png", "10.png", "1.png"):
        write_png(tmp_path / name, bgr)
    write_png(tmp_path / "other.jpg", bgr)

    frames = read_all(open_source(str(tmp_path / "*.png")))

    assert [Path(f.meta["path"]).name for f in frames] == ["1.png", "10.png", "2.png"]
    assert all(f.ok and f.image.shape == (72, 96, 3) for f in frames)


def _png_bomb(w: int = 65535, h: int = 65535) -> bytes:
    """A complete PNG of a few dozen bytes whose header declares w x h."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_one_error_frame_and_every_later_file_comes_through(data_dir, tmp_path, read_all):
    """Issue 12: the bomb's cv2.error ended the folder source (state error, every later file
    skipped, exit code 0). Now it is one error frame naming it; a Motion Photo (a JPEG with an
    MP4 after its end marker) is a good frame, not a truncated one."""
    bus = (data_dir / "photos/bus.jpg").read_bytes()
    (tmp_path / "a_good.jpg").write_bytes(bus)
    (tmp_path / "b_bomb.png").write_bytes(_png_bomb())
    (tmp_path / "c_corrupt.jpg").write_bytes(b"a text file named .jpg, no image at all " * 20)
    (tmp_path / "d_motion_photo.jpg").write_bytes(bus + b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400)
    (tmp_path / "e_good.jpg").write_bytes((data_dir / "photos/zidane.jpg").read_bytes())

    source = open_source(str(tmp_path))
    frames = read_all(source)

    assert [Path(f.meta["path"]).name for f in frames] == ["a_good.jpg", "b_bomb.png", "c_corrupt.jpg", "d_motion_photo.jpg", "e_good.jpg"]
    assert [f.ok for f in frames] == [True, False, False, True, True]
    assert frames[1].errors["source"] == f"{tmp_path / 'b_bomb.png'}: 65535x65535 is above OpenCV's limit of 1073741824 pixels " \
                                         "(CV_IO_MAX_IMAGE_PIXELS) or 1048576 a side"
    assert frames[2].errors["source"].startswith(f"{tmp_path / 'c_corrupt.jpg'}: not a decodable image")
    np.testing.assert_array_equal(frames[3].image, frames[0].image)
    assert frames[4].image.shape == (720, 1280, 3)
    assert source.state is SourceState.ENDED and source.error is None
