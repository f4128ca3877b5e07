"""``sensorium faces enroll|list|remove|identify`` end to end on the real photos."""

from __future__ import annotations

import json

import cv2
import numpy as np
from typer.testing import CliRunner

from sensorium.deploy.cli import app  # the console script as users run it

runner = CliRunner()


def _lines(output):
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_enrol_identify_list_remove(tmp_path, data_dir):
    g = str(tmp_path / "faces.sqlite")
    gallery = data_dir / "faces" / "gallery"
    for person in ("obama", "biden"):
        res = runner.invoke(app, ["faces", "enroll", "--name", person, "--gallery", g, str(gallery / person / "*.jpg")])
        assert res.exit_code == 0, res.output
        assert _lines(res.output)[-1]["enrolled"] == 2
    res = runner.invoke(app, ["faces", "identify", "--gallery", g, str(data_dir / "faces" / "two_people.jpg"),
                              str(data_dir / "faces" / "lin-manuel-miranda.png")])
    assert res.exit_code == 0, res.output
    two, lmm = _lines(res.output)
    assert sorted(f["identity"] for f in two["faces"]) == ["biden", "obama"]
    assert all(len(f["box"]) == 4 and len(f["landmarks"]) == 5 and f["similarity"] > 0.9 for f in two["faces"])
    assert [f["identity"] for f in lmm["faces"]] == [None]
    res = runner.invoke(app, ["faces", "list", "--gallery", g])
    assert [(p["name"], p["photos"]) for p in _lines(res.output)] == [("biden", 2), ("obama", 2)]
    assert runner.invoke(app, ["faces", "remove", "biden", "--gallery", g]).exit_code == 0
    assert runner.invoke(app, ["faces", "remove", "biden", "--gallery", g]).exit_code == 1
    res = runner.invoke(app, ["faces", "identify", "--gallery", g, str(data_dir / "faces" / "two_people.jpg")])
    assert sorted(str(f["identity"]) for f in _lines(res.output)[0]["faces"]) == ["None", "obama"]


def test_bad_inputs_are_reported_and_skipped(tmp_path, data_dir):
    g = str(tmp_path / "faces.sqlite")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes((data_dir / "faces" / "two_people.jpg").read_bytes()[:15000])
    noface = tmp_path / "tiny.png"
    cv2.imwrite(str(noface), np.zeros((1, 1, 3), np.uint8))  # a 1x1 image
    res = runner.invoke(app, ["faces", "enroll", "--name", "x", "--gallery", g, str(cut), str(noface), str(tmp_path / "missing.jpg")])
    assert res.exit_code == 1 and "nothing enrolled" in res.output
    assert "cut.jpg" in res.output and "no face found" in res.output and "missing.jpg" in res.output
    res = runner.invoke(app, ["faces", "identify", "--gallery", g, str(cut)])
    assert res.exit_code == 2 and "face gallery not found" in res.output
    res = runner.invoke(app, ["faces", "enroll", "--name", "obama", "--gallery", g, str(data_dir / "faces" / "gallery" / "obama" / "obama.jpg")])
    assert res.exit_code == 0
    res = runner.invoke(app, ["faces", "identify", "--gallery", g, str(cut), str(data_dir / "faces" / "obama_partial_face.jpg")])
    bad, good = _lines(res.output)
    assert res.exit_code == 1 and "cut.jpg" in bad["image"] and bad["error"] and good["faces"][0]["identity"] == "obama"


def _png_bomb(w: int = 65535, h: int = 65535) -> bytes:
    """A complete PNG of a few dozen bytes whose header declares w x h."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_a_decompression_bomb_among_good_photos_is_named_and_the_good_ones_count(tmp_path, data_dir):
    """Issue 12: the bomb's cv2.error printed a traceback and skipped the good photos. Now it is
    a message naming it; enroll enrols the good photos (exit 0), identify answers every image
    and exits 1 because one could not be read (its documented rule)."""
    g = str(tmp_path / "faces.sqlite")
    (tmp_path / "bomb.png").write_bytes(_png_bomb())
    (tmp_path / "corrupt.jpg").write_bytes(b"a text file named .jpg, no image at all " * 20)
    obama = sorted(str(p) for p in (data_dir / "faces" / "gallery" / "obama").glob("*.jpg"))
    res = runner.invoke(app, ["faces", "enroll", "--name", "obama", "--gallery", g, str(tmp_path / "bomb.png"), obama[0],
                              str(tmp_path / "corrupt.jpg"), *obama[1:]])
    assert res.exit_code == 0 and not isinstance(res.exception, Exception), res.output  # SystemExit is no Exception; cv2.error was
    assert _lines(res.output)[-1] == {"name": "obama", "enrolled": len(obama), "photos": len(obama), "skipped": 2, "gallery": g}
    out = " ".join(res.output.split())
    assert f"skipped {tmp_path / 'bomb.png'}: 65535x65535 is above OpenCV's limit" in out
    assert f"skipped {tmp_path / 'corrupt.jpg'}: not a decodable image" in out
    res = runner.invoke(app, ["faces", "identify", "--gallery", g, str(tmp_path / "bomb.png"), str(data_dir / "faces" / "obama_partial_face.jpg")])
    bomb, good = _lines(res.output)
    assert res.exit_code == 1 and not isinstance(res.exception, Exception), res.output
    assert bomb == {"image": str(tmp_path / "bomb.png"), "error": bomb["error"]} and "65535x65535" in bomb["error"]
    assert good["faces"][0]["identity"] == "obama"
