"""Polygon zones and counting lines over tracks: who is inside, who entered or left, who crossed.

The ``zones`` stage is ordered (one instance per source, frames in capture order): counts are
transitions of a track between frames, so they exist only along a source's own timeline.
Geometry (``polygon.py``, ``line.py``), the anchor point of a box (``anchors.py``) and the
side-change rule shared by both (``crossing.py``) are pure functions and small classes over
numpy; the stage (``stage.py``) reads the ``track`` result and writes a
:class:`~sensorium.stages.results.zones.ZoneCounts`.
"""
