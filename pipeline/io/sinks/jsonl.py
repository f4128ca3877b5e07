"""JSON lines: one line per frame, depth maps replaced by their summary (and npz file name)."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from sensorium.pipeline.io.sinks.annotate import primary_depth
from sensorium.pipeline.io.sinks.base import BaseSink, frame_stem
from sensorium.pipeline.io.sinks.npz import NpzSink
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth


class JsonlSink(BaseSink):
    """``out_dir/frames.jsonl``: one ``frame.to_dict()`` per line, every frame (errors too).

    Depth results are too big for a log line: each is moved from ``results`` to a top-level
    ``"depth"`` dict, ``{stage: {**Depth.summary(), "npz": path or None}}``, where ``npz`` is
    the file NpzSink writes for the frame's primary depth, relative to ``out_dir``, when
    ``npz_names`` (``build_sinks`` sets it when the npz sink runs too). The rest of the line is
    exactly ``to_dict()``, so ``Frame.from_dict(line)`` rebuilds the frame without its depth.
    Each line is flushed, so a crash loses at most the frame being written.
    """

    name = "jsonl"

    def __init__(self, out_dir: str | os.PathLike[str], *, npz_names: bool = False) -> None:
        super().__init__(out_dir)
        self.npz_names = npz_names
        self.path = self.out_dir / "frames.jsonl"
        self._file = self.path.open("w", encoding="utf-8")

    def _write(self, frame: Frame) -> str | None:
        primary = primary_depth(frame)
        npz = f"{NpzSink.subdir}/{frame_stem(frame)}.npz" if self.npz_names and primary else None
        line = frame_record(frame, npz=npz)
        # serialise fully before writing, so a failure never leaves half a line
        text = json.dumps(line, separators=(",", ":"))
        self._file.write(text + "\n")
        self._file.flush()
        return None

    def _close(self) -> dict[str, Any]:
        self._file.close()
        return {"path": str(self.path)}


def frame_record(frame: Frame, *, npz: str | None = None) -> dict[str, Any]:
    """A frame as the JSONL sink writes it (and the REST service answers): ``frame.to_dict()``
    with each depth map moved from ``results`` to ``"depth"``: ``{stage: {**Depth.summary(),
    "npz": npz for the primary depth, else None}}``."""
    depths = {stage: r for stage, r in frame.results.items() if isinstance(r, Depth)}
    if not depths:
        return frame.to_dict()
    # a shallow copy without the depth maps: to_dict would base64 them only to be dropped
    light = copy.copy(frame)
    light.results = {stage: r for stage, r in frame.results.items() if stage not in depths}
    line = light.to_dict()
    primary = primary_depth(frame)
    line["depth"] = {stage: {**result.summary(), "npz": npz if primary and primary[0] == stage else None} for stage, result in depths.items()}
    return line

