"""The shared base of per-item containers (:class:`Items`) and the JSON helpers every
container uses (arrays as base64 ``{"__ndarray__": ...}``, numpy scalars as Python ones).

Per-item containers keep N first on every array, validate on construction and support
``len()``, integer/slice/boolean-mask indexing, ``empty()`` and ``merge()``; ``data`` holds
per-item extras (each N long) and ``metadata`` frame-level facts. ``to_dict()`` is JSON-safe
and ``from_dict()`` restores an equal container.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence, TypeVar

import numpy as np

from sensorium.stages.arrays import check_array, decode_array, encode_array

T = TypeVar("T", bound="Items")


def jsonable(x: Any) -> Any:
    """``x`` with arrays as ``{"__ndarray__": ...}`` and numpy scalars as Python ones (JSON-safe)."""
    if isinstance(x, np.ndarray):
        return {"__ndarray__": encode_array(x)}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def unjson(x: Any) -> Any:
    """The inverse of :func:`jsonable`."""
    if isinstance(x, dict):
        if set(x) == {"__ndarray__"}:
            return decode_array(x["__ndarray__"])
        return {k: unjson(v) for k, v in x.items()}
    if isinstance(x, list):
        return [unjson(v) for v in x]
    return x


def array_equal(a: Any, b: Any) -> bool:
    """Same shape, dtype and values (NaN equal to NaN); None equals only None."""
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def dict_equal(a: dict, b: dict) -> bool:
    """Deep equality of dicts that may hold arrays."""
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not array_equal(x, y):
                return False
        elif isinstance(x, dict) and isinstance(y, dict):
            if not dict_equal(x, y):
                return False
        elif x != y:
            return False
    return True


@dataclass(frozen=True, eq=False)
class Items:
    """Base of per-item containers: every array field is ``(N, *trailing)``.

    Subclasses declare ``SPEC = {field: (trailing_shape, dtype, required)}``; ``None`` in a
    trailing shape means any size (e.g. embedding dimension).
    """

    kind: ClassVar[str] = ""
    SPEC: ClassVar[dict[str, tuple[tuple[int | None, ...], Any, bool]]] = {}

    def __post_init__(self) -> None:
        n: int | None = None
        for name, (trailing, dtype, required) in self.SPEC.items():
            value = getattr(self, name)
            if value is None:
                if required:
                    raise ValueError(f"{type(self).__name__}.{name} is required")
                continue
            arr = check_array(f"{type(self).__name__}.{name}", value, shape=(None, *trailing), dtype=dtype)
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"{type(self).__name__}.{name}: expected {n} items (N first), got shape {arr.shape}")
            object.__setattr__(self, name, arr)
        n = n or 0
        data = {}
        for key, value in self.data.items():
            arr = np.asarray(value)
            if arr.ndim == 0 or arr.shape[0] != n:
                raise ValueError(f"{type(self).__name__}.data[{key!r}]: expected {n} items (N first), got shape {arr.shape}")
            data[key] = arr
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "metadata", dict(self.metadata))

    def __len__(self) -> int:
        for name in self.SPEC:
            value = getattr(self, name)
            if value is not None:
                return int(value.shape[0])
        return 0

    def __getitem__(self: T, index: int | slice | Sequence[int] | np.ndarray) -> T:
        """Select items by int, slice, index list or boolean mask of length N."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        if isinstance(index, np.ndarray) and index.dtype == bool and index.shape != (len(self),):
            raise ValueError(f"boolean mask of shape {index.shape} for {len(self)} items")
        kwargs = {name: (None if getattr(self, name) is None else getattr(self, name)[index]) for name in self.SPEC}
        return type(self)(**kwargs, **self._scalars(), data={k: v[index] for k, v in self.data.items()}, metadata=self.metadata)

    def _scalars(self) -> dict[str, Any]:
        """Non-array dataclass fields a subclass adds (copied unchanged when indexing)."""
        skip = set(self.SPEC) | {"data", "metadata"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}

    @classmethod
    def empty(cls: type[T], **scalars: Any) -> T:
        kwargs = {}
        for name, (trailing, dtype, required) in cls.SPEC.items():
            if required:
                kwargs[name] = np.zeros((0, *[t or 0 for t in trailing]), dtype=dtype)
        return cls(**kwargs, **scalars)

    @classmethod
    def merge(cls: type[T], parts: Sequence[T]) -> T:
        """Concatenate containers of this kind (fields and ``data`` keys must agree)."""
        parts = [p for p in parts]
        if not parts:
            return cls.empty()
        kwargs: dict[str, Any] = {}
        for name in cls.SPEC:
            values = [getattr(p, name) for p in parts]
            if all(v is None for v in values):
                kwargs[name] = None
            elif any(v is None for v in values):
                raise ValueError(f"cannot merge {cls.__name__}: field {name!r} missing in some parts")
            else:
                kwargs[name] = np.concatenate(values)
        keys = set(parts[0].data)
        if any(set(p.data) != keys for p in parts):
            raise ValueError(f"cannot merge {cls.__name__}: data keys differ")
        data = {k: np.concatenate([p.data[k] for p in parts]) for k in keys}
        metadata: dict[str, Any] = {}
        for p in parts:
            metadata.update(p.metadata)
        return cls(**kwargs, **parts[0]._scalars(), data=data, metadata=metadata)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in self.SPEC:
            value = getattr(self, name)
            out[name] = None if value is None else encode_array(value)
        out.update(jsonable(self._scalars()))
        out["data"] = {k: encode_array(v) if v.dtype.kind != "U" and v.dtype.kind != "O" else {"str": [None if s is None else str(s) for s in v.tolist()]} for k, v in self.data.items()}
        out["metadata"] = jsonable(self.metadata)
        return out

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        kwargs = {name: None if d.get(name) is None else decode_array(d[name]) for name in cls.SPEC}
        scalars = {f.name: unjson(d[f.name]) for f in dataclasses.fields(cls) if f.name not in cls.SPEC and f.name not in ("data", "metadata") and f.name in d}
        data = {}
        for k, v in d.get("data", {}).items():
            data[k] = np.array(v["str"], dtype=object) if "str" in v else decode_array(v)
        return cls(**kwargs, **scalars, data=data, metadata=unjson(d.get("metadata", {})))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (
            all(array_equal(getattr(self, n), getattr(other, n)) for n in self.SPEC)
            and self._scalars() == other._scalars()  # type: ignore[attr-defined]
            and dict_equal(self.data, other.data)  # type: ignore[attr-defined]
            and dict_equal(self.metadata, other.metadata)  # type: ignore[attr-defined]
        )

    __hash__ = None  # type: ignore[assignment]


