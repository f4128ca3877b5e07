"""The npz sink: the documented arrays, read back with numpy."""

from __future__ import annotations

import numpy as np

from sensorium.pipeline.io.sinks import frame_stem
from sensorium.stages.results import Depth


def test_npz_holds_the_documented_arrays(written):
    out, frames, summaries = written
    files = sorted((out / "arrays").glob("*.npz"))
    with_depth = [f for f in frames if any(isinstance(r, Depth) for r in f.results.values())]
    assert [p.name for p in files] == sorted(f"{frame_stem(f)}.npz" for f in with_depth)
    assert summaries["npz"]["written"] == 5 and summaries["npz"]["skipped"] == {"no depth result": 2}
    for frame in with_depth:
        (depth,) = [r for r in frame.results.values() if isinstance(r, Depth)]
        with np.load(out / "arrays" / f"{frame_stem(frame)}.npz") as npz:
            want = {"depth", "confidence", "K", "pose"} | ({"sensor_depth"} if frame.sensor_depth is not None else set())
            assert set(npz.files) == want  # no disparity: this is RGB-D input
            assert npz["depth"].dtype == np.float32 and npz["confidence"].dtype == np.float32 and npz["K"].dtype == np.float64
            np.testing.assert_array_equal(npz["depth"], depth.depth)
            np.testing.assert_array_equal(npz["confidence"], depth.confidence)
            np.testing.assert_array_equal(npz["K"], depth.K)
            np.testing.assert_array_equal(npz["pose"], frame.pose)
            if frame.sensor_depth is not None:
                np.testing.assert_array_equal(npz["sensor_depth"], frame.sensor_depth)
