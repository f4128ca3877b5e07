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

Sources are plain iterators and know nothing of threads: :class:`~sensorium.pipeline.stream.reader.SourceReader` runs one
in a thread with a bounded queue and a drop policy.

One module per kind: :mod:`.base` (the Source contract), :mod:`.files`, :mod:`.video`,
:mod:`.capture` (cameras, streams), :mod:`.stereo`, :mod:`.rgbd`, :mod:`.sample`, and
:mod:`.open` (specs → sources), :mod:`.naming` (specs → readable source ids). Image decoding is :mod:`sensorium.pipeline.io.images`.
"""

from sensorium.pipeline.io.images import ImageError, decode_image, read_depth, read_image
from sensorium.pipeline.io.sources.base import ReconnectPolicy, Source, SourceItem, SourceState
from sensorium.pipeline.io.sources.capture import STREAM_SCHEMES, CaptureSource
from sensorium.pipeline.io.sources.files import ImageFilesSource
from sensorium.pipeline.io.sources.naming import source_name, source_names, split_source_name
from sensorium.pipeline.io.sources.open import is_live_spec, open_source, open_stereo
from sensorium.pipeline.io.sources.rgbd import (REDWOOD_DEPTH_SCALE, TUM_DEPTH_SCALE, RGBDEntry, RGBDSource, associate,
                                                open_rgbd, rgbd_layout)
from sensorium.pipeline.io.sources.sample import SampleSource
from sensorium.pipeline.io.sources.stereo import STEREO_CALIB_NAMES, SideBySideSource, StereoSource
from sensorium.pipeline.io.sources.video import VideoFileSource

__all__ = [
    "CaptureSource", "ImageError", "ImageFilesSource", "REDWOOD_DEPTH_SCALE", "RGBDEntry", "RGBDSource", "ReconnectPolicy",
    "STEREO_CALIB_NAMES", "STREAM_SCHEMES", "SampleSource", "SideBySideSource", "Source", "SourceItem", "SourceState",
    "StereoSource", "TUM_DEPTH_SCALE", "VideoFileSource", "associate", "decode_image", "is_live_spec", "open_rgbd", "open_source",
    "open_stereo", "read_depth", "read_image", "rgbd_layout", "source_name", "source_names", "split_source_name",
]
