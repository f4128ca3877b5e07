"""The stream source policy against what a hostile client would ask the server to open."""

from __future__ import annotations

import os
from contextlib import nullcontext as does_not_raise

import pytest

from sensorium.pipeline.serve.streams.errors import SinkRefused, SourceRefused, StreamError
from sensorium.pipeline.serve.streams.policy import StreamPolicy


@pytest.fixture
def roots(tmp_path):
    """An allowed root with a video in it, a secret beside it and a symlink from inside out."""
    root, outside = tmp_path / "videos", tmp_path / "private"
    root.mkdir(), outside.mkdir()
    (root / "clip.mp4").write_bytes(b"x")
    (outside / "secret.txt").write_text("s3cret")
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    return root, outside


@pytest.mark.parametrize("source, status, rule", [
    ("file:///etc/passwd", 403, "file:// URLs are not accepted"),
    ("FILE:///etc/passwd", 403, "file:// URLs are not accepted"),
    ("gopher://127.0.0.1:70/_stats", 400, "unsupported URL scheme 'gopher'"),
    ("concat:/etc/passwd|/etc/hosts", 400, "unsupported URL scheme 'concat'"),
    ("rtmp://cam.local/live", 403, "scheme 'rtmp' is not allowed"),
    ("http:///no-host", 400, "needs a host"),
    ("http://[::1/x", 400, "not a valid URL"),
    ("http://169.254.169.254/latest/meta-data/", 403, "link-local or cloud metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", 403, "link-local or cloud metadata"),
    ("http://[::ffff:169.254.169.254]/", 403, "link-local or cloud metadata"),
    ("rtsp://0.0.0.0/s", 403, "link-local or cloud metadata"),
    ("/etc/passwd", 403, "outside the allowed file roots"),
    ("relative/clip.mp4", 400, "absolute path"),
    ("0", 403, "cameras are not allowed"),
    (3, 403, "cameras are not allowed"),
    ("", 400, "printable characters"),
    ("http://cam/\nx", 400, "printable characters"),
    (True, 400, "expected a camera index"),
])
def test_refusals_name_the_rule(roots, source, status, rule):
    policy = StreamPolicy(file_roots=(str(roots[0]),))
    with pytest.raises(SourceRefused) as info:
        policy.check_source(source)
    assert info.value.status == status and rule in info.value.message


@pytest.mark.parametrize("relative, expectation", [
    ("clip.mp4", does_not_raise()),
    ("link.txt", pytest.raises(SourceRefused, match="outside the allowed file roots")),      # symlink out of the root
    ("linkdir/secret.txt", pytest.raises(SourceRefused, match="outside the allowed file roots")),
    ("../private/secret.txt", pytest.raises(SourceRefused, match="outside the allowed file roots")),  # '..' escape
    ("missing.mp4", pytest.raises(SourceRefused, match="no such file")),
])
def test_file_sources_stay_under_their_root(roots, relative, expectation):
    policy = StreamPolicy(file_roots=(str(roots[0]),))
    with expectation:
        assert policy.check_source(str(roots[0]) + "/" + relative) == os.path.realpath(roots[0] / relative)


def test_files_are_off_without_a_root(roots):
    with pytest.raises(SourceRefused, match="file sources are not allowed"):
        StreamPolicy().check_source(str(roots[0] / "clip.mp4"))


def test_allowed_sources_pass_as_given():
    policy = StreamPolicy(allow_cameras=True)
    assert policy.check_source("rtsp://user:pw@cam.local:554/s1") == "rtsp://user:pw@cam.local:554/s1"
    assert policy.check_source("HTTPS://cam.local/mjpg") == "HTTPS://cam.local/mjpg"
    assert policy.check_source("rtsp://192.168.1.20/stream1") == "rtsp://192.168.1.20/stream1"  # LAN cameras are the point
    assert policy.check_source("2") == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"schemes": ("http", "gopher")}, "gopher cannot be opened"),
    ({"file_roots": ("/no/such/folder",)}, "is not a folder"),
    ({"max_streams": 0}, "max_streams >= 1"),
    ({"preview_fps": 0}, "preview_fps > 0"),
])
def test_bad_policies_fail_at_the_edge(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StreamPolicy(**kwargs)


def test_policy_from_cli_text():
    policy = StreamPolicy(schemes="rtsp, HTTP://", allow_cameras="yes", max_streams="3")
    assert policy.schemes == ("rtsp", "http") and policy.allow_cameras is True and policy.max_streams == 3


def test_sinks_need_an_output_root(tmp_path):
    with pytest.raises(SinkRefused, match="no output root") as info:
        StreamPolicy().check_sinks(["jsonl"])
    assert info.value.status == 403
    with pytest.raises(SinkRefused, match="unknown sink") as info:
        StreamPolicy(output_root=str(tmp_path)).check_sinks(["shell"])
    assert info.value.status == 400
    assert StreamPolicy(output_root=str(tmp_path)).check_sinks(["jsonl", "video"]) == ("jsonl", "video")
    assert StreamPolicy().check_sinks([]) == ()


@pytest.mark.parametrize("options, expectation", [
    ({"face": {"recognizer": "none", "max_side": 320, "score_threshold": "0.5", "providers": ["cpu"]}}, does_not_raise()),
    ({"face": {"gallery": "/tmp/evil.sqlite"}}, pytest.raises(StreamError, match=r"options.face.gallery: '/tmp/evil.sqlite' names a file")),
    ({"face": {"gallery": "faces.sqlite"}}, pytest.raises(StreamError, match="names a file")),   # relative: the server's cwd
    ({"face": {"detector": "~/model.onnx"}}, pytest.raises(StreamError, match="names a file")),
    ({"face": {"quality": {"model": "../x"}}}, pytest.raises(StreamError, match=r"options.face.quality.model")),
    ({"embed": {"weights": "{root}/clip.mp4"}}, does_not_raise()),                 # under a root: allowed
    ({"embed": {"weights": "{root}/link.txt"}}, pytest.raises(StreamError, match="names a file")),  # its symlink leaves the root
])
def test_options_naming_files_stay_under_the_roots(roots, options, expectation):
    policy = StreamPolicy(file_roots=(str(roots[0]),))
    for opts in options.values():
        for k, v in opts.items():
            if isinstance(v, str):
                opts[k] = v.replace("{root}", str(roots[0]))
    with expectation as info:
        policy.check_options(options)
    if info is not None:
        assert info.value.status == 403 and info.value.code == "option_refused"
