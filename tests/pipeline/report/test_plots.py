"""The report's plots: inline SVG, or nothing when there is nothing to draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sensorium.pipeline.report import plots

RNG = np.random.default_rng(0)


SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


@pytest.mark.parametrize("draw, label, empty", [
    (lambda: plots.latency_histograms({"depth": RNG.gamma(2, 10, 50), "detect": RNG.gamma(2, 5, 50)}), "detect",
     lambda: plots.latency_histograms({"depth": []})),
    (lambda: plots.throughput([("a", t, True) for t in np.linspace(0, 5, 60)]), "frames / s", lambda: plots.throughput([])),
    (lambda: plots.timeline([("a", 0.0, True), ("a", 3.0, True)], [("a", 1.0, "drop", 2), ("b", 2.0, "reconnect", 1)]), "b",
     lambda: plots.timeline([], [])),
    (lambda: plots.histogram(RNG.uniform(0.3, 20, 500), xlabel="depth (m)", log_x=True), "depth (m)", lambda: plots.histogram([np.nan], xlabel="x")),
])
def test_plots_are_standalone_svg_elements(draw, label, empty):
    svg = draw()
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg  # ready to inline in HTML
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and len(root.findall(f".//{SVG}path")) >= 8 and label in _texts(svg)
    assert "xlink:href=\"http" not in svg and "@import" not in svg  # nothing to fetch
    assert empty() == ""


def test_timeline_counts_each_kind_in_its_legend():
    svg = plots.timeline([("cam", 0.0, True), ("cam", 5.0, True)], [("cam", 1.0, "drop", 2), ("cam", 2.0, "drop", 3), ("cam", 3.0, "error", 1)])
    texts = _texts(svg)
    assert "drop (5)" in texts and "error (1)" in texts and "reconnect" not in " ".join(texts) and "cam" in texts


def test_depth_histogram_labels_its_log_axis_inside_a_narrow_range():
    texts = _texts(plots.histogram(RNG.uniform(1.5, 6, 500), xlabel="depth (m)", log_x=True))
    assert {"2.0", "5.0"} <= set(texts)  # no decade falls inside 1.5-6 m: 2 and 5 are labelled
