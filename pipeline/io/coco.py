"""Writing detections as a COCO results file (the ``loadRes`` / evaluation-server format)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence

from sensorium.stages.detect.stage import to_coco
from sensorium.stages.frame import Frame
from sensorium.stages.results import Detections


def coco_results(items: Iterable[tuple[int, Detections]], *, category_ids: Sequence[int] | None = None) -> list[dict]:
    """COCO result dicts for (image_id, Detections) pairs, in order."""
    return [r for image_id, dets in items for r in to_coco(dets, image_id, category_ids=category_ids)]


def frames_to_coco(frames: Iterable[Frame], *, stage: str = "detect", category_ids: Sequence[int] | None = None) -> list[dict]:
    """COCO result dicts of every frame's ``stage`` result; image_id = ``frame.meta["image_id"]``
    when the source set one (a COCO image list), else ``frame.seq``. Frames without the result
    (failed or skipped) contribute nothing."""
    items = []
    for f in frames:
        dets = f.results.get(stage)
        if isinstance(dets, Detections):
            items.append((int(f.meta.get("image_id", f.seq)), dets))
    return coco_results(items, category_ids=category_ids)


def write_coco_results(path: str | Path, results: list[dict]) -> Path:
    """Write ``results`` as a JSON array to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(results))
    os.replace(tmp, path)
    return path
