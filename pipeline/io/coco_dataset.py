"""A user's COCO-format detection data set: an instances JSON (read by pycocotools) and the
folder its ``file_name`` entries are relative to.

Classes are the JSON's categories in ascending id order: class index ``i`` is category
``category_ids[i]`` named ``labels[i]``, whatever gaps the ids have (COCO's own 91 ids with 80
used become 80 contiguous classes). Crowd annotations and boxes without area are left out of
training targets (DETR's own COCO loader does the same); evaluation reads the JSON as it is.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class CocoSource:
    """annotations: the instances JSON; images: the folder ``file_name`` is relative to (None:
    the JSON's own folder)."""

    annotations: str
    images: str | None = None

    def image_dir(self) -> Path:
        return Path(self.images) if self.images is not None else Path(self.annotations).parent


class CocoDataset:
    """Images and boxes of a COCO instances file: ``load(i) -> (image (H, W, 3) uint8 RGB,
    boxes (N, 4) float32 xyxy pixels, classes (N,) int64 indexes into ``labels``)``."""

    def __init__(self, source: CocoSource) -> None:
        from pycocotools.coco import COCO

        path = Path(source.annotations)
        if not path.is_file():
            raise FileNotFoundError(f"COCO annotations not found: {path}")
        if not source.image_dir().is_dir():
            raise FileNotFoundError(f"COCO images folder not found: {source.image_dir()}")
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
                self.coco = COCO(str(path))
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise ValueError(f"{path}: expected a COCO instances JSON (images, annotations, categories), "
                             f"could not read it ({type(exc).__name__}: {exc})") from None
        cats = sorted(self.coco.loadCats(self.coco.getCatIds()), key=lambda c: c["id"])
        self.image_ids: tuple[int, ...] = tuple(sorted(self.coco.getImgIds()))
        if not cats or not self.image_ids:
            raise ValueError(f"{path}: expected at least one category and one image, got {len(cats)} and {len(self.image_ids)}")
        self.source = source
        self.category_ids: tuple[int, ...] = tuple(int(c["id"]) for c in cats)
        self.labels: tuple[str, ...] = tuple(str(c["name"]) for c in cats)
        self._index = {cid: i for i, cid in enumerate(self.category_ids)}

    def __len__(self) -> int:
        return len(self.image_ids)

    def ground_truth(self) -> dict[str, Any]:
        """The instances JSON as pycocotools read it (for :func:`~sensorium.pipeline.tools.eval_detect.coco_map`)."""
        return self.coco.dataset

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` (in ascending image id order) as (H, W, 3) uint8 RGB."""
        info = self.coco.loadImgs(self.image_ids[i])[0]
        path = self.source.image_dir() / info["file_name"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"image id {info['id']}: cannot read {path} (file_name {info['file_name']!r})")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(image, boxes xyxy pixels, class indexes) of image ``i``, crowd and empty boxes left out."""
        anns = self.coco.loadAnns(self.coco.getAnnIds(imgIds=self.image_ids[i]))
        keep = [a for a in anns if not a.get("iscrowd", 0) and a["bbox"][2] > 0 and a["bbox"][3] > 0]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in keep)], np.float32).reshape(-1, 4)
        classes = np.array([self._index[a["category_id"]] for a in keep], np.int64)
        return self.image(i), boxes, classes
