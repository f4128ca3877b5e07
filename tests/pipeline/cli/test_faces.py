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
