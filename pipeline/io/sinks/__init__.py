"""Sinks: where processed frames go (JSON lines, arrays, video, point clouds, a fused mesh).

A sink receives every frame, in order per source, through ``write(frame)`` and finishes with
``close()``, which returns a JSON-safe summary. Sinks never raise on a bad frame: a failure is
logged, counted in the summary and the next frame is written (one unwritable frame must not
end a long run). Frames with errors are still logged to JSONL, with their errors; the array
sinks skip frames that lack what they write (no Depth result because the depth stage failed,
no image because the source failed) and count why.

Layout under ``out_dir`` (``<src>`` is the sanitised source id, see ``safe_name``)::

    frames.jsonl                    JsonlSink: one JSON object per frame
    arrays/<src>_<seq:06d>.npz      NpzSink: the depth maps of one frame
    <src>.mp4                       VideoSink: annotated frames of one source
    clouds/<src>_<seq:06d>.ply      PlySink: the Depth result's point cloud
    <src>_mesh.ply                  TsdfSink: the fused surface of one source
    run.rrd                         RerunSink: a Rerun recording of every source

Sinks are not thread-safe: the pipeline calls each from one thread.

One module per format: :mod:`.base` (the Sink protocol, BaseSink, file names), :mod:`.jsonl`,
:mod:`.npz`, :mod:`.video` (drawing in :mod:`.annotate`), :mod:`.ply`, :mod:`.tsdf`, :mod:`.rerun`, and
:mod:`.build` (sinks by name).
"""

from sensorium.pipeline.io.sinks.base import BaseSink, Sink, frame_stem, safe_name
from sensorium.pipeline.io.sinks.build import SINKS, build_sinks, split_sink_sets
from sensorium.pipeline.io.sinks.jsonl import JsonlSink
from sensorium.pipeline.io.sinks.npz import NpzSink
from sensorium.pipeline.io.sinks.ply import PlySink
from sensorium.pipeline.io.sinks.rerun import RerunSink
from sensorium.pipeline.io.sinks.tsdf import TsdfSink
from sensorium.pipeline.io.sinks.video import VideoSink

__all__ = ["SINKS", "BaseSink", "JsonlSink", "NpzSink", "PlySink", "RerunSink", "Sink", "TsdfSink", "VideoSink", "build_sinks",
           "frame_stem", "safe_name", "split_sink_sets"]
