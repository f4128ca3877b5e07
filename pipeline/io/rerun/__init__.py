"""A frame's results as Rerun entities (:mod:`.entities`) and the web viewer that shows a
recording while it is written (:mod:`.viewer`). The sink that uses them is
:class:`sensorium.pipeline.io.sinks.rerun.RerunSink`."""
