"""The synthetic sample as a source (the generator is :mod:`sensorium.pipeline.io.sample`)."""

from __future__ import annotations

from typing import Iterator

from sensorium.pipeline.io.sources.base import Source, SourceItem


class SampleSource(Source):
    """The synthetic sample, rendered in memory on first read, timestamps
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

    @property
    def extras(self) -> frozenset[str]:
        return frozenset({"right"} if self.mode == "stereo" else {"sensor_depth"} if self.mode == "rgbd" else {"right", "sensor_depth"})

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
