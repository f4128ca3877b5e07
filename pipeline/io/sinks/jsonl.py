"""JSON lines: one line per frame, depth maps replaced by their summary (and npz file name),
image crops (the face stage's aligned chips) by the PNG files written beside the lines."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from typing import Any

import cv2
import numpy as np

from sensorium.pipeline.io.sinks.annotate import primary_depth
from sensorium.pipeline.io.sinks.base import BaseSink, frame_stem, safe_name
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
    Image crops in a result's ``data["chip"]`` ((N, h, w, 3) uint8 RGB, the face stage's with
    ``face.keep_chips=true``) are written as ``out_dir/chips/<source>/<seq:06d>_<stage>_<i>.png``
    and the line holds those paths, relative to ``out_dir``, in their place: as JSON the crops
    of a 275-frame clip came to tens of MB of lines.
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
        line = frame_record(self._chips_as_files(frame), npz=npz)
        # serialise fully before writing, so a failure never leaves half a line
        text = json.dumps(line, separators=(",", ":"))
        self._file.write(text + "\n")
        self._file.flush()
        return None

    def _chips_as_files(self, frame: Frame) -> Frame:
        """``frame``, or a shallow copy whose results hold PNG paths where they held crops."""
        with_chips = {stage: r for stage, r in frame.results.items()
                      if isinstance(getattr(r, "data", None), dict) and _is_crops(r.data.get("chip"))}
        if not with_chips:
            return frame
        light = copy.copy(frame)
        light.results = dict(frame.results)
        for stage, result in with_chips.items():
            folder = self.out_dir / CHIPS / safe_name(frame.source_id)
            folder.mkdir(parents=True, exist_ok=True)
            paths = []
            for i, chip in enumerate(result.data["chip"]):
                path = folder / f"{frame.seq:06d}_{stage}_{i}.png"
                if not cv2.imwrite(str(path), np.ascontiguousarray(chip[..., ::-1])):  # RGB → OpenCV's BGR
                    raise OSError(f"could not write {path}")
                paths.append(path.relative_to(self.out_dir).as_posix())
            light.results[stage] = dataclasses.replace(result, data={**result.data, "chip": np.array(paths, dtype=object)})
        return light

    def _close(self) -> dict[str, Any]:
        self._file.close()
        return {"path": str(self.path)}


#: the folder under the sink's ``out_dir`` that holds image crops as PNG files
CHIPS = "chips"


def _is_crops(value: Any) -> bool:
    """(N, h, w, 3) uint8: image crops (not paths already, nor another kind of array)."""
    return isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 4 and value.shape[-1] == 3


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

