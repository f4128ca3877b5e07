"""Sinks by name, with their options."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import pytest

from sensorium.pipeline.io.sinks import build_sinks


@pytest.mark.parametrize(
    "names, opts, expectation",
    [
        ("jsonl, npz", {}, does_not_raise()),
        (["video"], {"fps": 30, "voxel_length": 0.02}, does_not_raise()),  # tsdf's option, unused
        ("jsonl,mp3", {}, pytest.raises(ValueError, match="unknown sink.*mp3")),
        ("jsonl,jsonl", {}, pytest.raises(ValueError, match="twice")),
        ("video", {"fsp": 30}, pytest.raises(ValueError, match="unknown sink option.*fsp")),
        ("video", {"fps": 0}, pytest.raises(ValueError, match="fps")),
        ("jsonl,tsdf", {"voxel_length": -1}, pytest.raises(ValueError, match="voxel_length")),
    ],
)
def test_build_sinks(tmp_path: Path, names, opts, expectation):
    with expectation:
        sinks = build_sinks(names, tmp_path, **opts)
        for sink in sinks:
            sink.close()
