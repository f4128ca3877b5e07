"""Still images from a folder, a glob or a list of paths."""

from __future__ import annotations

import glob as globlib
from pathlib import Path
from typing import Iterator, Sequence

from sensorium.pipeline.io.images import read_image
from sensorium.pipeline.io.sources.base import Source, SourceItem, existing_path, failed_item
from sensorium.stages.images import IMAGE_SUFFIXES


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (by suffix), sorted by name."""
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
        folder = existing_path(folder)
        paths = image_files(folder)
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
                yield failed_item(path, exc)
