"""The annotator contract and its composition: a list of annotators applied in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Annotator(Protocol):
    """Draws one kind of result: ``annotate(image, result) -> image`` draws on ``image``
    ((H, W, 3) uint8 RGB) in place and returns it, so calls chain. Copy first to keep the input."""

    def annotate(self, image: np.ndarray, result: Any) -> np.ndarray: ...


def check_image(image: Any) -> np.ndarray:
    """``image`` if it is an (H, W, 3) uint8 RGB array a cv2 drawing call can write to."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"annotate: expected (H, W, 3) uint8 RGB image, got {got}")
    if not image.flags.c_contiguous or not image.flags.writeable:
        raise ValueError("annotate: expected a writeable C-contiguous image (draw on image.copy())")
    return image


@dataclass(frozen=True)
class Compose:
    """Several annotators on one result, in order (later ones draw over earlier ones)::

        Compose((BoxAnnotator(), LabelAnnotator(fields=("class", "distance")))).annotate(img, detections)
    """

    annotators: tuple[Annotator, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotators", tuple(self.annotators))
        bad = [type(a).__name__ for a in self.annotators if not isinstance(a, Annotator)]
        if bad:
            raise ValueError(f"Compose: expected annotators with annotate(image, result), got {', '.join(bad)}")

    def annotate(self, image: np.ndarray, result: Any) -> np.ndarray:
        check_image(image)
        for annotator in self.annotators:
            image = annotator.annotate(image, result)
        return image
