"""What the report needs from a run, gathered frame by frame in bounded memory.

:class:`RunRecorder` takes every frame like a sink (``write``/``close``, in the sink thread)
and keeps small facts only: per-frame times and latencies, drop/reconnect/error events,
samples of depth and detection scores, and a handful of frames for the contact sheet (the
first of each source, the slowest, the first with errors), drawn only when the report is written.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import defaultdict, deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from sensorium.pipeline.io.sinks.annotate import annotate, primary_depth
from sensorium.stages.frame import Frame
from sensorium.stages.results import Detections, Faces

#: thumbnails are at most this wide (px) and JPEG-encoded at this quality
THUMB_WIDTH, THUMB_QUALITY = 480, 80
#: depth pixels sampled per frame for the depth histogram
DEPTH_SAMPLES_PER_FRAME = 400


@dataclass(frozen=True)
class Thumb:
    """An annotated frame for the contact sheet: why it was kept, and the JPEG bytes."""

    source_id: str
    seq: int
    why: str
    compute_ms: float
    errors: dict[str, str]
    jpeg: bytes


class RunRecorder:
    """Collects a run's facts for :func:`~sensorium.pipeline.report.page.write_report`.

    sources: the run's sources, whose ``reconnects`` counters are read at each frame (a
    reconnect is placed at the first frame after it). image_loader: gives the image of a
    frame that carries none (a batch job's rows), called only for thumbnails. keep: frames of
    each kind on the contact sheet; max_points: samples kept per series (the newest, for a
    stream that runs for days).
    """

    name = "report"

    def __init__(self, *, sources: Iterable[Any] = (), image_loader: Callable[[Frame], np.ndarray | None] | None = None,
                 keep: int = 4, max_points: int = 100_000) -> None:
        self.sources = list(sources)
        self.image_loader = image_loader
        self.keep = keep
        self.frames: deque[tuple[str, float, bool]] = deque(maxlen=max_points)  # (source, t, ok)
        self.latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=max_points))
        self.scores: deque[float] = deque(maxlen=max_points)
        self.depths: deque[float] = deque(maxlen=max_points)
        self.events: deque[tuple[str, float, str, int]] = deque(maxlen=max_points)  # (source, t, kind, count)
        self.first: dict[str, Frame] = {}
        self.slowest: list[tuple[float, int, Frame]] = []  # min-heap: the slowest ``keep``
        self.failed: list[Frame] = []
        self.count = 0
        self._seconds = 0.0
        self._t0: float | None = None
        self._last_seq: dict[str, int] = {}
        self._reconnects = {s.source_id: int(getattr(s, "reconnects", 0) or 0) for s in self.sources}
        self._tie = itertools.count()
        self._rng = np.random.default_rng(0)
        self._summary: dict[str, Any] | None = None

    def write(self, frame: Frame) -> None:
        start = time.perf_counter()
        now = time.monotonic()
        self._t0 = now if self._t0 is None else self._t0
        t = now - self._t0
        self.count += 1
        self.frames.append((frame.source_id, t, frame.ok))
        for stage, seconds in frame.timings.items():
            self.latency[stage].append(1000.0 * float(seconds))
        self._events(frame, t)
        self._samples(frame)
        self._keep(frame)
        self._seconds += time.perf_counter() - start

    def close(self) -> dict[str, Any]:
        if self._summary is None:
            self._summary = {"sink": self.name, "frames": self.count,
                             "collect_ms_per_frame": round(1000 * self._seconds / max(self.count, 1), 3)}
        return self._summary

    def thumbs(self) -> list[Thumb]:
        """The contact sheet, annotated now: first frames, the slowest (slowest first), frames
        with errors."""
        slow = [frame for _, _, frame in sorted(self.slowest, key=lambda item: item[:2], reverse=True)]
        reasons: dict[int, tuple[Frame, list[str]]] = {}  # a frame kept for two reasons is shown once
        for why, frames in (("first", self.first.values()), ("slowest", slow), ("error", self.failed)):
            for frame in frames:
                reasons.setdefault(id(frame), (frame, []))[1].append(why)
        out = []
        for frame, whys in reasons.values():
            jpeg = self._thumbnail(frame)
            if jpeg is not None:
                out.append(Thumb(frame.source_id, frame.seq, ", ".join(whys), _compute_ms(frame), dict(frame.errors), jpeg))
        return out

    def _events(self, frame: Frame, t: float) -> None:
        sid = frame.source_id
        last = self._last_seq.get(sid)
        if last is not None and frame.seq > last + 1:  # seq counts every frame read: a gap was dropped
            self.events.append((sid, t, "drop", frame.seq - last - 1))
        self._last_seq[sid] = frame.seq if last is None else max(last, frame.seq)
        if frame.errors:
            self.events.append((sid, t, "error", 1))
        for src in self.sources:
            n = int(getattr(src, "reconnects", 0) or 0)
            if n > self._reconnects.get(src.source_id, 0):
                self.events.append((src.source_id, t, "reconnect", n - self._reconnects[src.source_id]))
                self._reconnects[src.source_id] = n

    def _samples(self, frame: Frame) -> None:
        for result in frame.results.values():
            if isinstance(result, (Detections, Faces)):
                self.scores.extend(np.asarray(result.scores, np.float64).tolist())
        found = primary_depth(frame)
        if found is not None:
            flat = found[1].depth.reshape(-1)
            picks = flat[self._rng.integers(0, flat.size, DEPTH_SAMPLES_PER_FRAME)]
            self.depths.extend(picks[np.isfinite(picks) & (picks > 0)].tolist())

    def _keep(self, frame: Frame) -> None:
        """Hold the frame if the contact sheet may show it (at most 3 * ``keep`` frames held):
        drawing waits for the end, so a frame that is later pushed out costs nothing."""
        if frame.source_id not in self.first and len(self.first) < self.keep:
            self.first[frame.source_id] = frame
        if frame.errors and len(self.failed) < self.keep:
            self.failed.append(frame)
        if frame.timings:
            item = (_compute_ms(frame), next(self._tie), frame)
            if len(self.slowest) < self.keep:
                heapq.heappush(self.slowest, item)
            elif item[0] > self.slowest[0][0]:
                heapq.heapreplace(self.slowest, item)

    def _thumbnail(self, frame: Frame) -> bytes | None:
        """The annotated frame, at most THUMB_WIDTH wide, as JPEG; None when it has no picture."""
        if frame.image is None and self.image_loader is not None:
            image = self.image_loader(frame)
            frame = replace(frame, image=image) if image is not None else frame
        picture = annotate(frame)
        h, w = picture.shape[:2]
        if w > THUMB_WIDTH:
            picture = cv2.resize(picture, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
        return buf.tobytes() if ok else None


def _compute_ms(frame: Frame) -> float:
    """Milliseconds the stages spent on ``frame``, all together."""
    return 1000.0 * float(sum(frame.timings.values()))
