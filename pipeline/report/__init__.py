"""The run report: ``OUT/report.html``, one self-contained page (inline CSS, SVG plots and
JPEG thumbnails; nothing fetched) written at the end of ``sensorium run`` and ``batch``.

:mod:`.collect` gathers bounded facts while frames pass (a sink beside the others),
:mod:`.plots` draws them with matplotlib (Agg, to SVG), :mod:`.page` writes the HTML.
"""

from sensorium.pipeline.report.collect import RunRecorder
from sensorium.pipeline.report.page import write_report

__all__ = ["RunRecorder", "write_report"]
