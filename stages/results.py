"""Typed result containers, one per kind of result a stage adds to a frame.

Numpy only (no torch): containers cross the Ray object store and the REST boundary.
Per-item containers keep N first on every array, validate on construction and support
``len()``, integer/slice/boolean-mask indexing, ``empty()`` and ``merge()``; ``data`` holds
per-item extras (each N long) and ``metadata`` frame-level facts. ``to_dict()`` is JSON-safe
and ``from_dict()`` restores an equal container.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence, TypeVar

import numpy as np

from sensorium.stages.arrays import check_array, decode_array, encode_array

T = TypeVar("T", bound="Items")

#: registry of container kinds, so a frame can rebuild its results from JSON
RESULT_KINDS: dict[str, type] = {}


def _register(cls: type) -> type:
    if cls.kind in RESULT_KINDS:
        raise ValueError(f"result kind {cls.kind!r} registered twice")
    RESULT_KINDS[cls.kind] = cls
    return cls


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return {"__ndarray__": encode_array(x)}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _unjson(x: Any) -> Any:
    if isinstance(x, dict):
        if set(x) == {"__ndarray__"}:
            return decode_array(x["__ndarray__"])
        return {k: _unjson(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_unjson(v) for v in x]
    return x


def _array_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def _dict_equal(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not _array_equal(x, y):
                return False
        elif isinstance(x, dict) and isinstance(y, dict):
            if not _dict_equal(x, y):
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
        out.update(_jsonable(self._scalars()))
        out["data"] = {k: encode_array(v) if v.dtype.kind != "U" and v.dtype.kind != "O" else {"str": [None if s is None else str(s) for s in v.tolist()]} for k, v in self.data.items()}
        out["metadata"] = _jsonable(self.metadata)
        return out

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        kwargs = {name: None if d.get(name) is None else decode_array(d[name]) for name in cls.SPEC}
        scalars = {f.name: _unjson(d[f.name]) for f in dataclasses.fields(cls) if f.name not in cls.SPEC and f.name not in ("data", "metadata") and f.name in d}
        data = {}
        for k, v in d.get("data", {}).items():
            data[k] = np.array(v["str"], dtype=object) if "str" in v else decode_array(v)
        return cls(**kwargs, **scalars, data=data, metadata=_unjson(d.get("metadata", {})))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (
            all(_array_equal(getattr(self, n), getattr(other, n)) for n in self.SPEC)
            and self._scalars() == other._scalars()  # type: ignore[attr-defined]
            and _dict_equal(self.data, other.data)  # type: ignore[attr-defined]
            and _dict_equal(self.metadata, other.metadata)  # type: ignore[attr-defined]
        )

    __hash__ = None  # type: ignore[assignment]


@_register
@dataclass(frozen=True, eq=False)
class Detections(Items):
    """Objects found in one image.

    boxes: (N, 4) float32 ``x1, y1, x2, y2`` in input-image pixels. scores: (N,) float32 in
    [0, 1]. class_id: (N,) int64 into ``class_names``. xyz/extent (optional, from 3D lifting):
    (N, 3) float32 metres in the camera frame (X right, Y down, Z forward); xyz_spread (N, 3)
    is the robust spread (MAD-based sigma) of the depth samples behind each box.
    """

    kind: ClassVar[str] = "detections"
    SPEC: ClassVar = {
        "boxes": ((4,), np.float32, True),
        "scores": ((), np.float32, True),
        "class_id": ((), np.int64, True),
        "xyz": ((3,), np.float32, False),
        "extent": ((3,), np.float32, False),
        "xyz_spread": ((3,), np.float32, False),
    }
    boxes: np.ndarray = None  # type: ignore[assignment]
    scores: np.ndarray = None  # type: ignore[assignment]
    class_id: np.ndarray = None  # type: ignore[assignment]
    xyz: np.ndarray | None = None
    extent: np.ndarray | None = None
    xyz_spread: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "class_names", tuple(self.class_names))


@_register
@dataclass(frozen=True, eq=False)
class Faces(Items):
    """Faces in one image.

    boxes (N, 4) float32 xyxy pixels; scores (N,); landmarks (N, 5, 2) float32 pixels in the
    order right eye, left eye, nose tip, right mouth corner, left mouth corner (subject's
    right/left); quality (N,) float32 in [0, 1]; embeddings (N, D) float32 L2-normalised;
    similarity (N,) float32 to the matched gallery identity. ``data["identity"]`` holds the
    matched names (None when unknown).
    """

    kind: ClassVar[str] = "faces"
    SPEC: ClassVar = {
        "boxes": ((4,), np.float32, True),
        "scores": ((), np.float32, True),
        "landmarks": ((5, 2), np.float32, True),
        "quality": ((), np.float32, False),
        "embeddings": ((None,), np.float32, False),
        "similarity": ((), np.float32, False),
    }
    boxes: np.ndarray = None  # type: ignore[assignment]
    scores: np.ndarray = None  # type: ignore[assignment]
    landmarks: np.ndarray = None  # type: ignore[assignment]
    quality: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    similarity: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@_register
@dataclass(frozen=True, eq=False)
class Keypoints(Items):
    """Keypoints of N instances, each with its own uncertainty (RLE heads).

    xy (N, K, 2) float32 pixels; sigma (N, K, 2) float32 pixels (the predicted scale of the
    residual distribution, not a heuristic); scores (N, K) float32 visibility/confidence;
    boxes (N, 4) optional instance boxes.
    """

    kind: ClassVar[str] = "keypoints"
    SPEC: ClassVar = {
        "xy": ((None, 2), np.float32, True),
        "sigma": ((None, 2), np.float32, True),
        "scores": ((None,), np.float32, False),
        "boxes": ((4,), np.float32, False),
    }
    xy: np.ndarray = None  # type: ignore[assignment]
    sigma: np.ndarray = None  # type: ignore[assignment]
    scores: np.ndarray | None = None
    boxes: np.ndarray | None = None
    names: tuple[str, ...] = ()
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.xy.shape != self.sigma.shape:
            raise ValueError(f"Keypoints: xy {self.xy.shape} and sigma {self.sigma.shape} differ")
        object.__setattr__(self, "names", tuple(self.names))


@_register
@dataclass(frozen=True, eq=False)
class Gaze(Items):
    """Gaze of N faces: yaw_pitch (N, 2) float32 radians (camera frame), sigma (N, 2) radians,
    origin (N, 2) float32 pixels (between the eyes)."""

    kind: ClassVar[str] = "gaze"
    SPEC: ClassVar = {
        "yaw_pitch": ((2,), np.float32, True),
        "sigma": ((2,), np.float32, True),
        "origin": ((2,), np.float32, False),
    }
    yaw_pitch: np.ndarray = None  # type: ignore[assignment]
    sigma: np.ndarray = None  # type: ignore[assignment]
    origin: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def vectors(self) -> np.ndarray:
        """(N, 3) unit gaze vectors, camera frame (X right, Y down, Z forward; looking at the camera is -Z)."""
        yaw, pitch = self.yaw_pitch[:, 0], self.yaw_pitch[:, 1]
        return np.stack([-np.cos(pitch) * np.sin(yaw), -np.sin(pitch), -np.cos(pitch) * np.cos(yaw)], axis=1).astype(np.float32)


@_register
@dataclass(frozen=True, eq=False)
class Embeddings(Items):
    """N embedding vectors (N, D) float32, L2-normalised; ``boxes`` (N, 4) when they embed crops
    (None for whole images); ``model`` names the model that produced them (vectors from
    different models are not comparable)."""

    kind: ClassVar[str] = "embeddings"
    SPEC: ClassVar = {
        "vectors": ((None,), np.float32, True),
        "boxes": ((4,), np.float32, False),
    }
    vectors: np.ndarray = None  # type: ignore[assignment]
    boxes: np.ndarray | None = None
    model: str = ""
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@_register
@dataclass(frozen=True, eq=False)
class Depth:
    """Dense depth for one frame, in the (rectified) left/colour camera.

    depth: (H, W) float32 metres, 0 where unknown. disparity: (H, W) float32 pixels (None for
    RGB-D input), <= 0 where unknown. confidence: (H, W) float32 in [0, 1], 0 where unknown.
    K: (3, 3) float64 intrinsics of the camera the maps are in. points/colors: optional
    down-sampled point cloud, (P, 3) float32 metres in that camera's frame and (P, 3) uint8 RGB.
    """

    kind: ClassVar[str] = "depth"
    depth: np.ndarray
    confidence: np.ndarray
    K: np.ndarray
    disparity: np.ndarray | None = None
    points: np.ndarray | None = None
    colors: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        depth = check_array("Depth.depth", self.depth, ndim=2, dtype=np.float32)
        hw = depth.shape
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "confidence", check_array("Depth.confidence", self.confidence, shape=hw, dtype=np.float32))
        object.__setattr__(self, "K", check_array("Depth.K", self.K, shape=(3, 3), dtype=np.float64))
        if self.disparity is not None:
            object.__setattr__(self, "disparity", check_array("Depth.disparity", self.disparity, shape=hw, dtype=np.float32))
        if (self.points is None) != (self.colors is None):
            raise ValueError("Depth: points and colors come together")
        if self.points is not None:
            pts = check_array("Depth.points", self.points, shape=(None, 3), dtype=np.float32)
            cols = check_array("Depth.colors", self.colors, shape=(pts.shape[0], 3), dtype=np.uint8)
            object.__setattr__(self, "points", pts)
            object.__setattr__(self, "colors", cols)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def valid(self) -> np.ndarray:
        """(H, W) bool: pixels with a depth."""
        return self.depth > 0

    def summary(self) -> dict[str, Any]:
        """Small JSON-safe facts for per-frame logs (the maps themselves go to .npz)."""
        v = self.depth[self.valid]
        return {
            "shape": list(self.depth.shape),
            "valid_fraction": float(self.valid.mean()) if self.depth.size else 0.0,
            "depth_median_m": float(np.median(v)) if v.size else None,
            "depth_min_m": float(v.min()) if v.size else None,
            "depth_max_m": float(v.max()) if v.size else None,
            "points": 0 if self.points is None else int(self.points.shape[0]),
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("depth", "confidence", "K", "disparity", "points", "colors"):
            value = getattr(self, name)
            out[name] = None if value is None else encode_array(value)
        out["metadata"] = _jsonable(self.metadata)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Depth":
        kw = {n: None if d.get(n) is None else decode_array(d[n]) for n in ("depth", "confidence", "K", "disparity", "points", "colors")}
        return cls(**kw, metadata=_unjson(d.get("metadata", {})))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Depth):
            return NotImplemented
        return all(_array_equal(getattr(self, n), getattr(other, n)) for n in ("depth", "confidence", "K", "disparity", "points", "colors")) and _dict_equal(self.metadata, other.metadata)

    __hash__ = None  # type: ignore[assignment]


#: UI-TARS action types (computer, mobile and browser spaces)
GUI_ACTION_TYPES = (
    "click", "left_double", "right_single", "drag", "hotkey", "type", "scroll", "wait", "finished",
    "call_user", "long_press", "open_app", "press_home", "press_back", "navigate", "navigate_back",
)


@_register
@dataclass(frozen=True, eq=False)
class GuiAction:
    """One action of a GUI agent, always resolved to screen pixels.

    ``x, y`` (and ``x2, y2`` for drag) are screen pixels (CSS/logical pixels of the screen the
    screenshot shows); ``params`` holds type-specific arguments (``content``, ``key``,
    ``direction``, ``app_name``, ``url``); ``raw`` is the model's text the action came from.
    """

    kind: ClassVar[str] = "gui_action"
    type: str
    thought: str = ""
    x: float | None = None
    y: float | None = None
    x2: float | None = None
    y2: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    def __post_init__(self) -> None:
        if self.type not in GUI_ACTION_TYPES:
            raise ValueError(f"GuiAction.type: expected one of {', '.join(GUI_ACTION_TYPES)}, got {self.type!r}")
        if (self.x is None) != (self.y is None) or (self.x2 is None) != (self.y2 is None):
            raise ValueError("GuiAction: x and y (and x2 and y2) come together")
        for name in ("x", "y", "x2", "y2"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, float(v))
        object.__setattr__(self, "params", dict(self.params))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GuiAction":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GuiAction):
            return NotImplemented
        return dataclasses.asdict(self) == dataclasses.asdict(other)

    __hash__ = None  # type: ignore[assignment]


@_register
@dataclass(frozen=True, eq=False)
class GuiStep:
    """One step of a GUI agent: what it thought and the actions it chose, in screen pixels.

    ``actions`` run in order; ``raw`` is the model's whole text; ``metadata`` records the
    backend, the coordinate space the model answered in and the screen it was converted for.
    """

    kind: ClassVar[str] = "gui_step"
    thought: str
    actions: tuple[GuiAction, ...] = ()
    reflection: str = ""
    summary: str = ""
    raw: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", tuple(self.actions))
        if not all(isinstance(a, GuiAction) for a in self.actions):
            raise ValueError("GuiStep.actions: expected GuiAction items")
        object.__setattr__(self, "metadata", dict(self.metadata))

    def __len__(self) -> int:
        return len(self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "thought": self.thought, "actions": [a.to_dict() for a in self.actions],
                "reflection": self.reflection, "summary": self.summary, "raw": self.raw, "metadata": _jsonable(self.metadata)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GuiStep":
        return cls(d["thought"], tuple(GuiAction.from_dict(a) for a in d.get("actions", [])), d.get("reflection", ""),
                   d.get("summary", ""), d.get("raw", ""), _unjson(d.get("metadata", {})))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GuiStep):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


def result_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild any registered container from its ``to_dict()`` output."""
    try:
        cls = RESULT_KINDS[d["kind"]]
    except KeyError:
        raise ValueError(f"unknown result kind {d.get('kind')!r}; known: {sorted(RESULT_KINDS)}") from None
    return cls.from_dict(d)
