"""Graph inputs and outputs as numpy sees them, for validating feeds and making warm-up inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int8)": np.int8, "tensor(int16)": np.int16, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32, "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: symbolic dims are strings (or None when unnamed);
    ``dtype`` is None for types numpy cannot hold (bfloat16, sequences, maps)."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: np.dtype | None
    onnx_type: str

    @classmethod
    def from_node_arg(cls, arg: Any) -> TensorSpec:
        dt = DTYPES.get(arg.type)
        shape = tuple(d if isinstance(d, (int, str)) and d != -1 else None for d in (arg.shape or ()))
        return cls(arg.name, shape, np.dtype(dt) if dt is not None else None, arg.type)

    def accepts(self, array: np.ndarray) -> bool:
        if self.dtype is not None and array.dtype != self.dtype:
            return False
        if len(self.shape) != array.ndim:
            return False
        return all(not isinstance(d, int) or d == n for d, n in zip(self.shape, array.shape))

    def example(self) -> np.ndarray | None:
        """Zeros of a valid shape (symbolic dims → 1), for warm-up; None if not a numeric tensor."""
        if self.dtype is None or self.dtype == np.object_:
            return None
        return np.zeros(tuple(d if isinstance(d, int) and d > 0 else 1 for d in self.shape), self.dtype)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"({dims}{',' if len(self.shape) == 1 else ''}) {self.dtype if self.dtype is not None else self.onnx_type}"
