"""Readable, unique source ids from ``--source`` specs."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import pytest

from sensorium.pipeline.io.sources import source_name, source_names, split_source_name


@pytest.mark.parametrize("spec,name", [
    ("0", "cam0"),
    ("2", "cam2"),
    ("rtsp://10.0.0.5:554/stream1", "10.0.0.5:554/stream1"),
    ("http://user:secret@cam.local/video.mjpg?token=abc", "cam.local/video.mjpg"),  # no credentials, no query
    ("https://cam.local/", "cam.local"),
    ("clips/lobby.mp4", "lobby"),
    ("sample", "sample"),
    ("sample:rgbd", "sample-rgbd"),
    ("shots/2024-*/*.jpg", "shots"),
])
def test_a_spec_gives_a_readable_name(spec, name):
    assert source_name(spec) == name
    assert "secret" not in source_name(spec)


def test_a_folder_and_an_rgbd_folder_are_named_by_the_folder(data_dir):
    assert source_name(str(data_dir / "photos")) == "photos"
    assert source_name(f"rgbd:{data_dir / 'rgbd' / 'redwood'}") == "redwood"


@pytest.mark.parametrize("specs,ids,expectation", [
    (["a/video.mp4", "b/video.mp4", "c/video.mp4"], ["video", "video-2", "video-3"], does_not_raise()),
    (["door=rtsp://h/1", "rtsp://h/1"], ["door", "h/1"], does_not_raise()),
    (["video=x.mp4", "y/video.mp4"], ["video", "video-2"], does_not_raise()),  # the given name keeps its word
    (["rtsp://h/p?a=b", "0"], ["h/p", "cam0"], does_not_raise()),  # '=' inside a URL is not a name
    (["door=0", "door=1"], None, pytest.raises(ValueError, match="--source: name\\(s\\) door given to more than one source")),
])
def test_names_are_unique_and_explicit_names_win(specs, ids, expectation):
    with expectation:
        got, stripped = source_names(specs)
        assert got == ids
        assert stripped == [split_source_name(s)[1] for s in specs]


def test_an_existing_path_with_an_equals_sign_is_a_path_not_a_name(tmp_path, monkeypatch):
    assert split_source_name("a=b.mp4") == ("a", "b.mp4")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a=b.mp4").write_bytes(b"")
    assert split_source_name("a=b.mp4") == (None, "a=b.mp4")
