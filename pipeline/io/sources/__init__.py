"""Frame sources: files, cameras, network streams, stereo pairs, RGB-D folders, the sample.

Every source yields :class:`~sensorium.stages.frame.Frame` objects from ``frames()``: ``seq``
counts from 0, ``timestamp`` is the capture time (seconds since the epoch; the time of reading
when the input carries none), images are (H, W, 3) uint8 RGB. A bad item (corrupt or truncated
image, unreadable file, wrong depth PNG) does not stop a source: it yields a frame with
``image=None`` and ``errors["source"] = "<path>: <what was wrong>"``, and the items around it
still come. Problems with the source as a whole (missing folder, missing calibration file,
unknown spec) raise at open time, naming the path.

Live sources (webcams, RTSP/HTTP streams) reconnect with exponential backoff
(:class:`ReconnectPolicy`); their ``state`` goes connecting → running → reconnecting → running
… and ends in ``error`` once the attempts are exhausted. Finite sources end in ``ended``.

Sources are plain iterators and know nothing of threads: :class:`~.reader.SourceReader` runs one
in a thread with a bounded queue and a drop policy.
"""

from __future__ import annotations

import glob as globlib
import inspect
import json
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np

from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.frame import Frame
from sensorium.stages.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")
#: depth PNG units per metre: TUM RGB-D (and the bundled sample) and Redwood/Open3D (millimetres)
TUM_DEPTH_SCALE = 5000.0
REDWOOD_DEPTH_SCALE = 1000.0
#: calibration files looked for in a stereo folder (``left/``, ``right/``) when none is given
STEREO_CALIB_NAMES = ("calib.yaml", "calib.yml", "calib.json", "calib.xml")


class SourceState(str, Enum):
    CONNECTING = "connecting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    ERROR = "error"


@dataclass(frozen=True)
class ReconnectPolicy:
    """Exponential backoff for live sources: the n-th consecutive failure waits
    ``min(initial_delay_s * factor ** (n - 1), max_delay_s)`` before the next attempt to open;
    after ``max_attempts`` such retries fail the source gives up (``None``: retry forever).

    A failure is an open that fails or a read that fails (stream ended, timed out); one good frame
    resets the count.
    """

    initial_delay_s: float = 0.5
    max_delay_s: float = 10.0
    factor: float = 2.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s or self.factor < 1:
            raise ValueError(f"ReconnectPolicy: expected 0 <= initial_delay_s <= max_delay_s and factor >= 1, got {self}")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError(f"ReconnectPolicy: expected max_attempts >= 0 or None, got {self.max_attempts}")

    def delay(self, failures: int) -> float:
        return min(self.initial_delay_s * self.factor ** max(failures - 1, 0), self.max_delay_s)

    def exhausted(self, failures: int) -> bool:
        return self.max_attempts is not None and failures > self.max_attempts


@dataclass
class SourceItem:
    """What a source kind's ``_read`` yields for one frame; :meth:`Source.frames` numbers it and
    validates it into a Frame. ``error`` set = a bad item (``image`` None), named in the message."""

    image: np.ndarray | None = None
    right: np.ndarray | None = None
    sensor_depth: np.ndarray | None = None
    calib: StereoCalibration | Intrinsics | None = None
    pose: np.ndarray | None = None
    timestamp: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _failed(path: Path | str, exc: BaseException, meta: dict[str, Any] | None = None) -> SourceItem:
    what = f"cannot read ({exc.strerror or exc})" if isinstance(exc, OSError) else str(exc)
    return SourceItem(error=f"{path}: {what}", meta=meta if meta is not None else {"path": str(path)})


class Source(ABC):
    """A stream of frames. Iterate ``frames()`` once at a time; ``close()`` from any thread.

    ``close()`` only signals: the iteration stops at the next item boundary (or backoff wait) and
    releases its resources in the iterating thread, because releasing a ``cv2.VideoCapture``
    while another thread is inside ``read()`` is not safe.

    A new kind subclasses this and implements ``_read()``, yielding :class:`SourceItem` objects;
    numbering, validation, error frames and state bookkeeping stay here.
    """

    live: bool = False

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.error: str | None = None
        #: recent (time, state, reason) transitions, for health reports and tests
        self.state_log: deque[tuple[float, SourceState, str]] = deque(maxlen=64)
        self._state = SourceState.CONNECTING
        self._closed = threading.Event()
        self._iterating = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source_id!r}, state={self.state.value})"

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def state(self) -> SourceState:
        return self._state

    def _set_state(self, state: SourceState, reason: str = "") -> None:
        if state is self._state:
            return
        old, self._state = self._state, state
        self.state_log.append((time.time(), state, reason))
        level = logging.WARNING if state in (SourceState.RECONNECTING, SourceState.ERROR) else logging.INFO
        log.log(level, "source %s: %s -> %s%s", self.source_id, old.value, state.value, f" ({reason})" if reason else "")

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop the iteration at the next item boundary; idempotent, callable from any thread."""
        self._closed.set()
        if not self._iterating and self._state is not SourceState.ERROR:
            self._set_state(SourceState.ENDED, "closed")

    def _wait(self, seconds: float) -> bool:
        """Sleep unless closed meanwhile; True when closed."""
        return self._closed.wait(seconds)

    def frames(self) -> Iterator[Frame]:
        """Yield frames, ``seq`` from 0. An unexpected exception sets state ``error`` and propagates."""
        if self._iterating:
            raise RuntimeError(f"source {self.source_id}: frames() is already being iterated")
        self._iterating = True
        self.error = None
        seq, stopped = 0, ""
        if not self._closed.is_set():
            self._set_state(SourceState.CONNECTING, "opening")
        try:
            if self._closed.is_set():
                return
            for item in self._read():
                if self._closed.is_set():
                    break
                if self._state in (SourceState.CONNECTING, SourceState.RECONNECTING):
                    self._set_state(SourceState.RUNNING)
                yield self._frame(seq, item)
                seq += 1
        except GeneratorExit:
            stopped = "stopped by the consumer"
            raise
        except Exception as exc:
            self.error = f"{self.source_id}: {type(exc).__name__}: {exc}"
            self._set_state(SourceState.ERROR, self.error)
            raise
        finally:
            self._iterating = False
            if self._state is not SourceState.ERROR:
                self._set_state(SourceState.ENDED, "closed" if self._closed.is_set() else stopped or f"end of input after {seq} frames")

    def _fail(self, message: str) -> None:
        """End a live source for good (attempts exhausted): state ``error`` without a traceback."""
        self.error = message
        self._set_state(SourceState.ERROR, message)

    def _frame(self, seq: int, item: SourceItem) -> Frame:
        stamp = item.timestamp if item.timestamp is not None else time.time()
        if item.error is None:
            try:
                return Frame(self.source_id, seq, stamp, image=item.image, right=item.right, sensor_depth=item.sensor_depth,
                             calib=item.calib, pose=item.pose, meta=item.meta)
            except ValueError as exc:  # wrong shape/dtype from a reader: the item is bad, not the source
                item.error = f"{item.meta.get('path', f'{self.source_id}#{seq}')}: {exc}"
        return Frame(self.source_id, seq, stamp, errors={"source": item.error}, meta=item.meta)

    @abstractmethod
    def _read(self) -> Iterator[SourceItem]:
        """The kind's reading loop; checks ``self._closed`` between items and releases what it opened."""


# --- decoding ---------------------------------------------------------------------------------


def _incomplete(data: bytes) -> str | None:
    """Why ``data`` looks truncated, or None. OpenCV decodes a cut JPEG into a half-grey image
    without an error, so the end-of-image markers are checked before decoding."""
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        # 0xFFD9 cannot occur inside entropy-coded data, so a missing EOI near the end means a cut file
        return f"truncated JPEG: no end-of-image marker ({len(data)} bytes)"
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]:
        return f"truncated PNG: no IEND chunk ({len(data)} bytes)"
    return None


def decode_image(data: bytes) -> np.ndarray:
    """Decode an encoded image's bytes (an object read from a bucket) to (H, W, 3) uint8 RGB.

    Raises ValueError saying what is wrong with the content (empty, truncated, not an image)."""
    return cv2.cvtColor(_decode_bytes(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _decode(path: Path, flags: int) -> np.ndarray:
    return _decode_bytes(path.read_bytes(), flags)


def _decode_bytes(data: bytes, flags: int) -> np.ndarray:
    if not data:
        raise ValueError("empty file")
    problem = _incomplete(data)
    if problem:
        raise ValueError(problem)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if image is None:
        raise ValueError(f"not a decodable image ({len(data)} bytes)")
    return image


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file (any channels/depth OpenCV reads) to (H, W, 3) uint8 RGB.

    Raises OSError when the file cannot be read, ValueError saying what is wrong with its content.
    """
    return cv2.cvtColor(_decode(Path(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_depth(path: str | Path, scale: float, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a 16-bit single-channel depth PNG to (H, W) float32 metres (raw / ``scale``; 0 = unknown).

    ``shape``: the (H, W) of the colour image it must be registered to. Raises ValueError for
    another dtype, channel count or size.
    """
    raw = _decode(Path(path), cv2.IMREAD_UNCHANGED)
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(f"expected a single-channel 16-bit depth image, got {raw.shape} {raw.dtype}")
    if shape is not None and raw.shape != tuple(shape):
        raise ValueError(f"depth is {raw.shape[1]}x{raw.shape[0]} but the colour image is {shape[1]}x{shape[0]}")
    return raw.astype(np.float32) / np.float32(scale)


# --- files ------------------------------------------------------------------------------------


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageFilesSource(Source):
    """Still images in the given (sorted) order; never drops. One bad file is one error frame."""

    def __init__(self, paths: Sequence[str | Path], *, source_id: str) -> None:
        super().__init__(source_id)
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError(f"source {source_id}: no image files")

    @classmethod
    def from_folder(cls, folder: str | Path, *, source_id: str | None = None) -> "ImageFilesSource":
        folder = _existing(folder)
        paths = _image_files(folder)
        if not paths:
            raise ValueError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return cls(paths, source_id=source_id or str(folder))

    @classmethod
    def from_glob(cls, pattern: str, *, source_id: str | None = None) -> "ImageFilesSource":
        paths = sorted(Path(p) for p in globlib.glob(pattern, recursive=True) if Path(p).is_file())
        if not paths:
            raise FileNotFoundError(f"{pattern}: no files match")
        return cls(paths, source_id=source_id or pattern)

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self) -> Iterator[SourceItem]:
        for path in self.paths:
            if self._closed.is_set():
                return
            try:
                yield SourceItem(image=read_image(path), meta={"path": str(path)})
            except (OSError, ValueError) as exc:
                yield _failed(path, exc)


class VideoFileSource(Source):
    """Every frame of a video file, in order; never drops. ``meta``: path, frame index, media time."""

    def __init__(self, path: str | Path, *, source_id: str | None = None) -> None:
        self.path = _existing(path)
        super().__init__(source_id or str(self.path))
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise ValueError(f"{self.path}: OpenCV cannot open this file as a video")
            self.fps = float(cap.get(cv2.CAP_PROP_FPS))
            self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))  # container's estimate, may be 0
        finally:
            cap.release()

    def _read(self) -> Iterator[SourceItem]:
        cap = cv2.VideoCapture(str(self.path))
        index = 0
        try:
            while not self._closed.is_set():
                ok, bgr = cap.read()
                if not ok:
                    break
                meta = {"path": str(self.path), "frame_index": index, "pos_msec": float(cap.get(cv2.CAP_PROP_POS_MSEC))}
                index += 1
                yield SourceItem(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), meta=meta)
        finally:
            cap.release()
        if not self._closed.is_set() and self.frame_count > 0 and index < self.frame_count:
            log.warning("source %s: read %d of the %d frames %s declares (truncated or corrupt?)", self.source_id, index, self.frame_count, self.path)


# --- live -------------------------------------------------------------------------------------


def _redact(url: str) -> str:
    """The URL without a password, for ids and logs."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1***@", url, flags=re.IGNORECASE)


class CaptureSource(Source):
    """A live camera (device index) or network stream (RTSP, HTTP(S) MJPEG, ...) via cv2.VideoCapture.

    Streams open through OpenCV's FFmpeg backend with open/read timeouts, so a silent server
    turns into a failed read instead of a hung thread; FFmpeg's HTTP reader handles
    ``multipart/x-mixed-replace`` (MJPEG) streams. Any failed open or read (server gone, stream
    closed, timeout) reconnects by ``reconnect``; ``seq`` keeps counting across reconnections.
    """

    live = True

    def __init__(self, target: int | str, *, source_id: str | None = None, reconnect: ReconnectPolicy | dict | None = None,
                 open_timeout_s: float = 5.0, read_timeout_s: float = 5.0) -> None:
        self.target = target
        self.name = f"camera {target}" if isinstance(target, int) else _redact(target)
        super().__init__(source_id or (f"camera{target}" if isinstance(target, int) else self.name))
        self.reconnect = ReconnectPolicy(**reconnect) if isinstance(reconnect, dict) else (reconnect or ReconnectPolicy())
        if open_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError(f"source {self.source_id}: timeouts must be positive, got open {open_timeout_s} s, read {read_timeout_s} s")
        self.open_timeout_s, self.read_timeout_s = open_timeout_s, read_timeout_s
        #: consecutive failed opens/reads since the last good frame
        self.failures = 0

    def _open(self) -> cv2.VideoCapture | None:
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target)
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000), cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)]
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _read(self) -> Iterator[SourceItem]:
        self.failures, connected = 0, False
        while not self._closed.is_set():
            cap = self._open()
            if cap is None:
                reason = "cannot open"
            else:
                connected = True
                self._set_state(SourceState.RUNNING, f"opened {self.name}")
                reason = "stream ended or read timed out"
                try:
                    while not self._closed.is_set():
                        ok, bgr = cap.read()
                        if not ok:
                            break
                        self.failures = 0
                        yield SourceItem(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), timestamp=time.time())
                finally:
                    cap.release()
            if self._closed.is_set():
                return
            self.failures += 1
            if self.reconnect.exhausted(self.failures):
                self._fail(f"{self.name}: {reason}; gave up after {self.failures - 1} retries")
                return
            delay = self.reconnect.delay(self.failures)
            self._set_state(SourceState.RECONNECTING if connected else SourceState.CONNECTING, f"{self.name}: {reason}")
            log.warning("source %s: %s; retry %d in %.2f s", self.source_id, reason, self.failures, delay)
            if self._wait(delay):
                return


# --- stereo -----------------------------------------------------------------------------------


def _stereo_calib(calib: StereoCalibration | str | Path | None) -> StereoCalibration | None:
    if calib is None or isinstance(calib, StereoCalibration):
        return calib
    from sensorium.pipeline.io.calibration import read_stereo_calibration

    return read_stereo_calibration(Path(calib))  # FileNotFoundError/ValueError name the file


class StereoSource(Source):
    """Left and right frames from two sources, paired by index; ``calib`` (None = already rectified)
    is attached to every frame. Two independent live streams are only as synchronous as their
    arrival; a side-by-side stereo camera (:class:`SideBySideSource`) is synchronous by construction.
    """

    def __init__(self, left: Source, right: Source, *, calib: StereoCalibration | str | Path | None = None, source_id: str | None = None) -> None:
        super().__init__(source_id or f"{left.source_id}+{right.source_id}")
        self.left, self.right = left, right
        self.live = left.live or right.live
        self.calib = _stereo_calib(calib)

    @property
    def state(self) -> SourceState:
        if self._state in (SourceState.ENDED, SourceState.ERROR):
            return self._state
        for worst in (SourceState.ERROR, SourceState.RECONNECTING, SourceState.CONNECTING):
            if worst in (self.left.state, self.right.state):
                return worst
        return self._state

    def close(self) -> None:
        super().close()
        self.left.close()
        self.right.close()

    def _read(self) -> Iterator[SourceItem]:
        lefts, rights = self.left.frames(), self.right.frames()
        try:
            for lf in lefts:
                rf = next(rights, None)
                if rf is None:
                    if self.right.state is not SourceState.ERROR:
                        log.warning("source %s: right source %s ended before the left one", self.source_id, self.right.source_id)
                    break
                yield self._pair(lf, rf)
            else:
                if not self._closed.is_set() and self.left.state is not SourceState.ERROR and next(rights, None) is not None:
                    log.warning("source %s: left source %s ended before the right one", self.source_id, self.left.source_id)
        finally:
            lefts.close()
            rights.close()
        failed = [side.error or f"{side.source_id} failed" for side in (self.left, self.right) if side.state is SourceState.ERROR]
        if failed:
            self._fail("; ".join(failed))

    def _pair(self, lf: Frame, rf: Frame) -> SourceItem:
        meta = {**lf.meta, **({"right_path": rf.meta["path"]} if "path" in rf.meta else {})}
        problems = [f.errors["source"] for f in (lf, rf) if "source" in f.errors]
        if not problems and lf.image.shape != rf.image.shape:
            problems = [f"left image {lf.image.shape[1]}x{lf.image.shape[0]} and right image {rf.image.shape[1]}x{rf.image.shape[0]} differ in size"]
        if problems:
            return SourceItem(error="; ".join(problems), meta=meta)
        return SourceItem(image=lf.image, right=rf.image, calib=self.calib, timestamp=lf.timestamp, meta=meta)


class SideBySideSource(Source):
    """Stereo from one source whose frames hold the left view in the left half, the right in the right half."""

    def __init__(self, inner: Source, *, calib: StereoCalibration | str | Path | None = None, source_id: str | None = None) -> None:
        super().__init__(source_id or inner.source_id)
        self.inner = inner
        self.live = inner.live
        self.calib = _stereo_calib(calib)

    @property
    def state(self) -> SourceState:
        return self._state if self._state in (SourceState.ENDED, SourceState.ERROR) else self.inner.state

    def close(self) -> None:
        super().close()
        self.inner.close()

    def _read(self) -> Iterator[SourceItem]:
        frames = self.inner.frames()
        try:
            for f in frames:
                if "source" in f.errors:
                    yield SourceItem(error=f.errors["source"], meta=f.meta)
                    continue
                h, w = f.image.shape[:2]
                if w % 2:
                    yield SourceItem(error=f"{f.meta.get('path', f.key)}: side-by-side frame width {w} is odd", meta=f.meta)
                    continue
                yield SourceItem(image=f.image[:, : w // 2].copy(), right=f.image[:, w // 2 :].copy(), calib=self.calib, timestamp=f.timestamp, meta=f.meta)
        finally:
            frames.close()
        if self.inner.state is SourceState.ERROR:
            self._fail(self.inner.error or f"{self.inner.source_id} failed")


# --- RGB-D ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RGBDEntry:
    """One RGB-D item: colour and depth files, capture time (None = unknown), camera-to-world pose."""

    color: Path
    depth: Path
    timestamp: float | None = None
    pose: np.ndarray | None = None


class RGBDSource(Source):
    """Colour images with registered 16-bit depth PNGs (``depth_scale`` units per metre).

    Frames carry ``sensor_depth`` (H, W) float32 metres (0 = no reading), ``calib`` = the
    intrinsics when known and ``pose`` when a trajectory was given.
    """

    def __init__(self, entries: Sequence[RGBDEntry], *, depth_scale: float, intrinsics: Intrinsics | None = None, source_id: str) -> None:
        super().__init__(source_id)
        if not entries:
            raise ValueError(f"source {source_id}: no colour/depth pairs")
        if depth_scale <= 0:
            raise ValueError(f"source {source_id}: depth_scale must be positive, got {depth_scale}")
        self.entries, self.depth_scale, self.intrinsics = list(entries), float(depth_scale), intrinsics

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self) -> Iterator[SourceItem]:
        for e in self.entries:
            if self._closed.is_set():
                return
            meta = {"path": str(e.color), "depth_path": str(e.depth)}
            try:
                image = read_image(e.color)
            except (OSError, ValueError) as exc:
                yield _failed(e.color, exc, meta)
                continue
            try:
                depth = read_depth(e.depth, self.depth_scale, image.shape[:2])
            except (OSError, ValueError) as exc:
                yield _failed(e.depth, exc, meta)
                continue
            yield SourceItem(image=image, sensor_depth=depth, calib=self.intrinsics, pose=e.pose, timestamp=e.timestamp, meta=meta)


def _read_list(path: Path, min_fields: int) -> tuple[np.ndarray, list[list[str]]]:
    """Timestamps (N,) float64 and rows of a TUM-style list ("timestamp ..." lines, ``#`` comments)."""
    stamps, rows = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.replace(",", " ").split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if len(fields) < min_fields:
                raise ValueError(f"expected at least {min_fields} fields")
            stamps.append(float(fields[0]))
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: {exc}, got {line!r}") from None
        rows.append(fields)
    return np.array(stamps, dtype=np.float64), rows


def associate(a: np.ndarray, b: np.ndarray, max_dt: float) -> list[tuple[int, int]]:
    """Match timestamps ``a`` to ``b`` one-to-one, closest pairs first, within ``max_dt`` seconds
    (as TUM's associate.py); returns (i, j) pairs sorted by i."""
    order = np.argsort(b)
    sb = b[order]
    candidates = set()
    lo, hi = np.searchsorted(sb, a - max_dt, "left"), np.searchsorted(sb, a + max_dt, "right")
    for i, t in enumerate(a):
        for j in range(lo[i], hi[i]):
            candidates.add((abs(sb[j] - t), i, int(order[j])))
    used_a, used_b, pairs = set(), set(), []
    for _, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _quat_to_matrix(t: Sequence[float], q: Sequence[float]) -> np.ndarray:
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    pose = np.eye(4)
    pose[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    pose[:3, 3] = t
    return pose


def _tum_entries(folder: Path, max_dt: float) -> list[RGBDEntry]:
    (rgb_t, rgb_rows), (depth_t, depth_rows) = _read_list(folder / "rgb.txt", 2), _read_list(folder / "depth.txt", 2)
    pairs = associate(rgb_t, depth_t, max_dt)
    if len(pairs) < len(rgb_rows):
        log.warning("%s: %d of %d colour images have no depth within %.3f s; skipped", folder, len(rgb_rows) - len(pairs), len(rgb_rows), max_dt)
    poses: dict[int, np.ndarray] = {}
    gt = folder / "groundtruth.txt"
    if gt.is_file():
        gt_t, gt_rows = _read_list(gt, 8)
        for i, j in associate(rgb_t, gt_t, max_dt):
            try:
                values = [float(v) for v in gt_rows[j][1:8]]
            except ValueError as exc:
                raise ValueError(f"{gt}: bad pose row {' '.join(gt_rows[j])!r} ({exc})") from None
            poses[i] = _quat_to_matrix(values[:3], values[3:])
    return [RGBDEntry(folder / rgb_rows[i][1], folder / depth_rows[j][1], float(rgb_t[i]), poses.get(i)) for i, j in pairs]


def _read_trajectory_log(path: Path) -> list[np.ndarray]:
    """Open3D/Redwood ``.log`` trajectory: blocks of a metadata line and a 4x4 camera-to-world pose."""
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    if len(lines) % 5:
        raise ValueError(f"{path}: expected blocks of 5 lines (metadata + 4x4 pose), got {len(lines)} lines")
    poses = []
    for b in range(0, len(lines), 5):
        try:
            pose = np.array([[float(v) for v in row] for row in lines[b + 1 : b + 5]], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"{path}:{b + 2}: bad pose ({exc})") from None
        if pose.shape != (4, 4):
            raise ValueError(f"{path}:{b + 2}: expected a 4x4 pose, got rows of {[len(r) for r in lines[b + 1 : b + 5]]} values")
        poses.append(pose)
    return poses


def _redwood_entries(folder: Path) -> list[RGBDEntry]:
    colors, depths = _image_files(folder / "color"), _image_files(folder / "depth")
    if len(colors) != len(depths):
        raise ValueError(f"{folder}: {len(colors)} colour images in color/ but {len(depths)} depth images in depth/")
    poses: list[np.ndarray] = []
    if (folder / "trajectory.log").is_file():
        poses = _read_trajectory_log(folder / "trajectory.log")
        if len(poses) != len(colors):
            log.warning("%s: trajectory.log has %d poses for %d frames; frames beyond it get none", folder, len(poses), len(colors))
    return [RGBDEntry(c, d, None, poses[i] if i < len(poses) else None) for i, (c, d) in enumerate(zip(colors, depths))]


def rgbd_layout(folder: Path) -> str | None:
    """``"tum"`` (rgb.txt + depth.txt), ``"redwood"`` (color/ + depth/) or None."""
    if (folder / "rgb.txt").is_file() and (folder / "depth.txt").is_file():
        return "tum"
    if (folder / "color").is_dir() and (folder / "depth").is_dir():
        return "redwood"
    return None


def open_rgbd(path: str | Path, *, depth_scale: float | None = None, intrinsics: Intrinsics | str | Path | None = None,
              max_dt: float = 0.02, source_id: str | None = None) -> RGBDSource:
    """An RGB-D folder in the TUM layout (``rgb.txt``/``depth.txt`` associated by nearest timestamp
    within ``max_dt`` s, poses from ``groundtruth.txt``, ``intrinsics.json``, depth scale 5000) or
    the Redwood/Open3D layout (``color/``, ``depth/`` paired by sorted name, ``trajectory.log``,
    ``camera_primesense.json``, depth in millimetres). A folder holding such a layout in ``rgbd/``
    (the written sample) works too. ``depth_scale``/``intrinsics`` override the layout's.
    """
    folder = _existing(path)
    layout = rgbd_layout(folder)
    if layout is None and rgbd_layout(folder / "rgbd"):
        folder = folder / "rgbd"
        layout = rgbd_layout(folder)
    if layout is None:
        raise ValueError(f"{folder}: not an RGB-D folder (expected rgb.txt + depth.txt, or color/ + depth/)")
    from sensorium.pipeline.io.calibration import read_intrinsics

    default_file = folder / ("intrinsics.json" if layout == "tum" else "camera_primesense.json")
    if intrinsics is None and default_file.is_file():
        intrinsics = default_file
    if isinstance(intrinsics, (str, Path)):
        intrinsics = read_intrinsics(Path(intrinsics))
    if depth_scale is None:
        depth_scale = TUM_DEPTH_SCALE if layout == "tum" else REDWOOD_DEPTH_SCALE
        if default_file.is_file():  # the written sample keeps its scale beside K
            try:
                depth_scale = float(json.loads(default_file.read_text()).get("depth_scale", depth_scale))
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"{default_file}: bad depth_scale ({exc})") from None
    entries = _tum_entries(folder, max_dt) if layout == "tum" else _redwood_entries(folder)
    return RGBDSource(entries, depth_scale=depth_scale, intrinsics=intrinsics, source_id=source_id or str(path))


# --- sample -----------------------------------------------------------------------------------


class SampleSource(Source):
    """The synthetic sample (:mod:`.sample`), rendered in memory on first read, timestamps
    ``T0 + i / FPS`` and the ground-truth pose in every frame.

    mode ``stereo``: the rectified pair with its StereoCalibration (depth comes from matching);
    ``rgbd``: the left image with the ground-truth depth as sensor depth and its Intrinsics;
    ``both``: everything in one frame (a stage picks what it uses).
    """

    MODES = ("stereo", "rgbd", "both")

    def __init__(self, n_frames: int = 8, width: int = 640, height: int = 480, seed: int = 0, *, mode: str = "stereo", source_id: str = "sample") -> None:
        super().__init__(source_id)
        if mode not in self.MODES:
            raise ValueError(f"sample source: mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        self.n_frames, self.width, self.height, self.seed, self.mode = n_frames, width, height, seed, mode

    def __len__(self) -> int:
        return self.n_frames

    def _read(self) -> Iterator[SourceItem]:
        from sensorium.pipeline.io.sample import make_sample

        seq = make_sample(self.n_frames, self.width, self.height, self.seed)
        for i, stamp in enumerate(seq.timestamps):
            if self._closed.is_set():
                return
            stereo, rgbd = self.mode in ("stereo", "both"), self.mode in ("rgbd", "both")
            yield SourceItem(image=seq.lefts[i], right=seq.rights[i] if stereo else None,
                             sensor_depth=seq.depths[i] if rgbd else None, calib=seq.calib if stereo else seq.intrinsics,
                             pose=seq.poses[i], timestamp=stamp, meta={"index": i})


# --- opening by spec --------------------------------------------------------------------------


def _existing(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"source {str(path)!r}: no such file or folder")
    return p


def _with_options(kind: str, spec: Any, factory: Callable[..., Source], options: dict[str, Any], *args: Any, **fixed: Any) -> Source:
    """Call ``factory`` naming any option it does not take (instead of a bare TypeError)."""
    params = inspect.signature(factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return factory(*args, **fixed, **options)  # it passes them on and checks them itself
    known = sorted(n for n, p in params.items() if n != "source_id" and (p.kind is p.KEYWORD_ONLY or (p.default is not p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)))
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"source {spec!r} ({kind}): unknown option(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}")
    return factory(*args, **fixed, **options)


def _is_stereo_folder(p: Path) -> bool:
    return (p / "left").is_dir() and (p / "right").is_dir() and not _image_files(p)


def open_source(spec: str | int | Path, *, source_id: str | None = None, **options: Any) -> Source:
    """Open a source from a spec string; ``options`` go to that kind (unknown ones raise).

    ``0`` (any integer): webcam; ``rtsp://``, ``http(s)://`` …: network stream (both live:
    ``reconnect``, ``open_timeout_s``, ``read_timeout_s``); ``sample``, ``sample:rgbd``, ``sample:both``: the synthetic sample
    (``n_frames``, ``width``, ``height``, ``seed``); ``rgbd:PATH`` or a folder in an RGB-D layout:
    :func:`open_rgbd`; a folder with ``left/`` and ``right/``: :func:`open_stereo`; a folder of
    images, a glob (``*``, ``?``, ``[``) or one image file: :class:`ImageFilesSource`; any other
    file: :class:`VideoFileSource`. A missing path raises FileNotFoundError naming it.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        return _with_options("webcam", spec, CaptureSource, options, index, source_id=source_id)
    text = str(spec)
    if text.lower().startswith(STREAM_SCHEMES):
        return _with_options("stream", spec, CaptureSource, options, text, source_id=source_id)
    if text == "sample" or text.startswith("sample:"):
        mode = text.partition(":")[2] or "stereo"
        return _with_options("sample", spec, SampleSource, options, mode=mode, source_id=source_id or text.replace(":", "-"))
    if text.startswith("rgbd:"):
        return _with_options("rgbd", spec, open_rgbd, options, text[len("rgbd:"):], source_id=source_id or text)
    if any(c in text for c in "*?[") and not Path(text).exists():
        return _with_options("glob", spec, ImageFilesSource.from_glob, options, text, source_id=source_id)
    path = _existing(text)
    if path.is_dir():
        if rgbd_layout(path):
            return _with_options("rgbd", spec, open_rgbd, options, path, source_id=source_id or text)
        if _is_stereo_folder(path):
            return _with_options("stereo folder", spec, open_stereo, options, path, source_id=source_id)
        return _with_options("image folder", spec, ImageFilesSource.from_folder, options, path, source_id=source_id or text)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _with_options("image", spec, ImageFilesSource, options, [path], source_id=source_id or text)
    return _with_options("video", spec, VideoFileSource, options, path, source_id=source_id or text)


def open_stereo(left: str | Path | int, right: str | Path | int | None = None, *, calib: StereoCalibration | str | Path | None = None,
                side_by_side: bool = False, source_id: str | None = None, **options: Any) -> Source:
    """Open a stereo source; ``calib`` (a file read by :mod:`.calibration_io`, or a StereoCalibration)
    is attached to every frame, None means the pair is already rectified.

    * ``open_stereo(left, right)``: two specs (folders, videos, streams) paired by index;
      two folders must hold as many images;
    * ``open_stereo(spec, side_by_side=True)``: each frame of ``spec`` split into halves;
    * ``open_stereo(folder)``: ``folder/left`` and ``folder/right``, with ``folder/calib.yaml``
      (or .yml/.json/.xml) when ``calib`` is not given.

    ``options`` go to the underlying :func:`open_source` call(s). A calibration file that does not
    exist raises FileNotFoundError naming it, before anything is read.
    """
    if side_by_side:
        if right is not None:
            raise ValueError("open_stereo: side_by_side takes one source, got a right one too")
        calib = _stereo_calib(calib)
        inner = open_source(left, **options)
        return SideBySideSource(inner, calib=calib, source_id=source_id or inner.source_id)
    if right is None:
        folder = _existing(left)
        if not _is_stereo_folder(folder):
            raise ValueError(f"{folder}: expected a stereo folder with left/ and right/ image folders (or pass right=..., or side_by_side=True)")
        if calib is None:
            calib = next((folder / n for n in STEREO_CALIB_NAMES if (folder / n).is_file()), None)
        if options:
            raise ValueError(f"open_stereo({str(left)!r}): a stereo folder takes no option(s) {', '.join(sorted(options))}")
        calib = _stereo_calib(calib)
        left_src = ImageFilesSource.from_folder(folder / "left", source_id=f"{folder}/left")
        right_src = ImageFilesSource.from_folder(folder / "right", source_id=f"{folder}/right")
    else:
        calib = _stereo_calib(calib)
        left_src, right_src = open_source(left, **options), open_source(right, **options)
    if isinstance(left_src, ImageFilesSource) and isinstance(right_src, ImageFilesSource) and len(left_src) != len(right_src):
        raise ValueError(f"stereo pair: {left_src.source_id} has {len(left_src)} images but {right_src.source_id} has {len(right_src)}")
    return StereoSource(left_src, right_src, calib=calib, source_id=source_id or (str(left) if right is None else None))
