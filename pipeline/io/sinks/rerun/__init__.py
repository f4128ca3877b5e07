"""The Rerun sink: :class:`.sink.RerunSink` writes ``run.rrd``; :mod:`.entities` says where
each result goes in the recording; :mod:`.viewer` runs Rerun's web viewer on loopback."""

from sensorium.pipeline.io.sinks.rerun.sink import RerunSink

__all__ = ["RerunSink"]
