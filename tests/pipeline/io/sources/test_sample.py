"""SampleSource: the synthetic sample in memory, and written to disk and read back."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.io.sample import DEPTH_SCALE, make_sample, write_sample
from sensorium.pipeline.io.sources.open import open_source
from sensorium.stages.camera import Intrinsics, StereoCalibration


def test_written_sample_reads_back_as_stereo_and_tum(tmp_path, read_all):
    seq = make_sample(n_frames=3, width=64, height=48, seed=1)
    out = write_sample(seq, tmp_path / "sample")

    stereo = read_all(open_source(str(out)))
    assert len(stereo) == 3
    assert np.array_equal(stereo[1].image, seq.lefts[1]) and np.array_equal(stereo[1].right, seq.rights[1])
    np.testing.assert_allclose(stereo[0].calib.K1, seq.calib.K1)

    rgbd = read_all(open_source(f"rgbd:{out}"))
    assert len(rgbd) == 3
    for i, f in enumerate(rgbd):
        np.testing.assert_allclose(f.sensor_depth, seq.depths[i], atol=1.0 / DEPTH_SCALE)
        np.testing.assert_allclose(f.pose, seq.poses[i], atol=1e-6)
        assert f.timestamp == pytest.approx(seq.timestamps[i])
        np.testing.assert_allclose(f.calib.K, seq.intrinsics.K)


@pytest.mark.parametrize("spec, stereo, rgbd", [("sample", True, False), ("sample:rgbd", False, True), ("sample:both", True, True)])
def test_sample_spec_renders_in_memory(spec, stereo, rgbd, read_all):
    seq = make_sample(n_frames=2, width=64, height=48, seed=3)
    source = open_source(spec, n_frames=2, width=64, height=48, seed=3)
    assert len(source) == 2
    frames = read_all(source)

    assert [f.seq for f in frames] == [0, 1]
    for i, f in enumerate(frames):
        assert np.array_equal(f.image, seq.lefts[i]) and np.array_equal(f.pose, seq.poses[i])
        assert (f.right is not None) == stereo and (f.sensor_depth is not None) == rgbd
        if stereo:
            assert np.array_equal(f.right, seq.rights[i])
            assert isinstance(f.calib, StereoCalibration) and f.calib.baseline == pytest.approx(seq.calib.baseline)
        else:
            assert isinstance(f.calib, Intrinsics) and np.array_equal(f.calib.K, seq.intrinsics.K)
        if rgbd:
            assert np.array_equal(f.sensor_depth, seq.depths[i])


def test_sample_spec_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        open_source("sample:lidar")
