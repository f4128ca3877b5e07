"""Stereo sources: two sources paired by index, or one side-by-side source split in halves."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

from sensorium.pipeline.io.sources.base import Source, SourceItem, SourceState
from sensorium.stages.camera import StereoCalibration
from sensorium.stages.frame import Frame

log = logging.getLogger(__name__)

#: calibration files looked for in a stereo folder (``left/``, ``right/``) when none is given
STEREO_CALIB_NAMES = ("calib.yaml", "calib.yml", "calib.json", "calib.xml")



def stereo_calibration(calib: StereoCalibration | str | Path | None) -> StereoCalibration | None:
    """``calib`` as given, or read from its file (FileNotFoundError/ValueError name the file)."""
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
        self.calib = stereo_calibration(calib)

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

    @property
    def extras(self) -> frozenset[str]:
        return frozenset({"right"})


class SideBySideSource(Source):
    """Stereo from one source whose frames hold the left view in the left half, the right in the right half."""

    def __init__(self, inner: Source, *, calib: StereoCalibration | str | Path | None = None, source_id: str | None = None) -> None:
        super().__init__(source_id or inner.source_id)
        self.inner = inner
        self.live = inner.live
        self.calib = stereo_calibration(calib)

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

    @property
    def extras(self) -> frozenset[str]:
        return frozenset({"right"})
