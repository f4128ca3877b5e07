"""JSON-safe encoding of numpy arrays, so every result container round-trips through JSON.

Small arrays become nested lists (readable in JSONL); large ones become base64 of the raw
bytes (a 640x480 depth map as lists would be ~10x bigger and slow to parse). Both carry
dtype and shape, so decoding restores the exact array.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

#: arrays with more elements than this are written as base64 instead of nested lists
LIST_LIMIT = 4096


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """Encode ``a`` as ``{"dtype", "shape", "data"|"b64"}`` (JSON-serialisable)."""
    a = np.asarray(a)
    out: dict[str, Any] = {"dtype": a.dtype.str, "shape": list(a.shape)}
    if a.size <= LIST_LIMIT and a.dtype.kind in "biuf":
        # NaN/inf are not JSON: store them as strings the decoder understands.
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            out["data"] = np.where(np.isfinite(a), a, np.nan).astype(object).tolist()
            out["data"] = _nan_to_str(out["data"])
        else:
            out["data"] = a.tolist()
    else:
        out["b64"] = base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")
    return out


def _nan_to_str(x: Any) -> Any:
    if isinstance(x, list):
        return [_nan_to_str(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return "nan"
    return x


def _str_to_nan(x: Any) -> Any:
    if isinstance(x, list):
        return [_str_to_nan(v) for v in x]
    if isinstance(x, str):
        return float(x)
    return x


def decode_array(d: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    dtype = np.dtype(d["dtype"])
    shape = tuple(d["shape"])
    if "b64" in d:
        return np.frombuffer(base64.b64decode(d["b64"]), dtype=dtype).reshape(shape).copy()
    return np.asarray(_str_to_nan(d["data"]), dtype=dtype).reshape(shape)


def check_array(
    name: str,
    a: Any,
    *,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    dtype: Any = None,
) -> np.ndarray:
    """Validate an array at a boundary and say what was expected and what came."""
    arr = np.asarray(a)
    if dtype is not None:
        want = np.dtype(dtype)
        if arr.dtype != want:
            if np.can_cast(arr.dtype, want, casting="same_kind") or arr.size == 0:
                arr = arr.astype(want)
            else:
                raise ValueError(f"{name}: expected dtype {want}, got {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim}-d array, got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != g for s, g in zip(shape, arr.shape)):
            want_s = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name}: expected shape {want_s}, got {arr.shape}")
    return arr
