"""Arrays in JSON: exact round trips, NaN kept."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensorium.stages.arrays import LIST_LIMIT, decode_array, encode_array

rng = np.random.default_rng(0)

@pytest.mark.parametrize("shape, dtype", [((3,), np.float32), ((LIST_LIMIT + 1,), np.float32), ((2, 3), np.int64), ((100, 100), np.uint16), ((0, 4), np.float32)])
def test_arrays_encode_exactly(shape, dtype):
    a = (rng.normal(size=shape) * 100).astype(dtype)
    back = decode_array(json.loads(json.dumps(encode_array(a))))
    assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)


def test_nan_survives_json():
    a = np.array([1.0, np.nan, np.inf], np.float32)
    back = decode_array(json.loads(json.dumps(encode_array(a))))
    assert back[0] == 1.0 and np.isnan(back[1]) and np.isnan(back[2])  # inf is not JSON: stored as unknown
