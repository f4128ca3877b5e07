"""``OUT/report.html``: the summary tables, the plots and the contact sheet on one page that
needs nothing else (inline CSS, inline SVG, JPEG thumbnails as data: URIs)."""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping

from sensorium.pipeline.report import plots
from sensorium.pipeline.report.collect import RunRecorder, Thumb

log = logging.getLogger(__name__)

REPORT = "report.html"

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plot svg{max-width:100%;height:auto}
.sheet{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;width:320px}
figure img{width:100%;display:block;border:1px solid #ccc}figcaption{font-size:12px}
.err{color:#b00}.note{color:#666}
"""


def write_report(out_dir: str | os.PathLike[str], recorder: RunRecorder, summary: Mapping[str, Any], *,
                 title: str = "sensorium run") -> Path:
    """Write ``out_dir/report.html`` from what ``recorder`` collected and the run's summary (the
    dict ``summary.json`` holds: per-source counts, per-stage latency; or a batch job's totals).
    Returns its path; the seconds it took are logged."""
    start = time.perf_counter()
    sections = [
        _section("Summary", _summary_tables(summary)),
        _section("Latency per stage", _plot(plots.latency_histograms(recorder.latency), "latency")
                 or '<p class="note">No per-stage timings in this run.</p>'),
        _section("Throughput", _plot(plots.throughput(recorder.frames), "throughput")),
        _section("Sources: drops, reconnects, errors", _plot(plots.timeline(recorder.frames, recorder.events), "timeline")),
        _section("Depth and scores", _row(_plot(plots.histogram(recorder.depths, xlabel="depth (m)", log_x=True), "depth")
                                          + _plot(plots.histogram(recorder.scores, xlabel="detection / face score"), "scores"))
                 or '<p class="note">No depth maps or detections in this run.</p>'),
        _section("Contact sheet", _contact_sheet(recorder.thumbs())),
    ]
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class=note>{recorder.count} frames; written {time.strftime('%Y-%m-%d %H:%M:%S')}</p>"
            + "".join(sections) + "</body></html>")
    path = Path(out_dir) / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    log.info("report written to %s in %.2f s", path, time.perf_counter() - start)
    return path


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>" if body else ""


def _row(plots_html: str) -> str:
    return f'<div class="plots">{plots_html}</div>' if plots_html else ""


def _plot(svg: str, name: str) -> str:
    return f'<div class="plot" data-plot="{name}">{svg}</div>' if svg else ""


def _table(header: list[str], rows: list[list[Any]], name: str) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table data-table="{name}"><tr>{head}</tr>{body}</table>'


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "-" if value is None else str(value)


def _summary_tables(summary: Mapping[str, Any]) -> str:
    """The run's facts (top-level numbers and text), its sources and its stages, as tables."""
    facts = [[k, v] for k, v in summary.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
    if isinstance(summary.get("stop"), Mapping):
        facts.append(["stop", summary["stop"].get("reason", "")])
    parts = [_table(["", "value"], facts, "facts")] if facts else []
    states = summary.get("source_states") or {}
    if states:
        rows = [[sid, summary.get("frames", {}).get(sid, 0), summary.get("errors", {}).get(sid, 0), summary.get("dropped", {}).get(sid, 0),
                 summary.get("reconnects", {}).get(sid, "-"), state, summary.get("source_errors", {}).get(sid, "")] for sid, state in states.items()]
        parts.append(_table(["source", "frames", "errors", "dropped", "reconnects", "state", "failure"], rows, "sources"))
    stages = summary.get("stages") or {}
    if stages:
        rows = [[name, st.get("p50_ms"), st.get("p95_ms"), st.get("mean_batch"), st.get("overhead_ms"), st.get("calls")] for name, st in stages.items()]
        parts.append(_table(["stage", "p50 ms", "p95 ms", "mean batch", "wait+hop ms", "calls"], rows, "stages"))
    return "".join(parts)


def _contact_sheet(thumbs: list[Thumb]) -> str:
    if not thumbs:
        return '<p class="note">No frames.</p>'
    figures = []
    for th in thumbs:
        src = "data:image/jpeg;base64," + base64.b64encode(th.jpeg).decode("ascii")
        errors = "".join(f'<div class="err">{html.escape(stage)}: {html.escape(msg[:200])}</div>' for stage, msg in th.errors.items())
        caption = f"{html.escape(th.why)}: {html.escape(th.source_id)} #{th.seq}" + (f", {th.compute_ms:.0f} ms" if th.compute_ms else "")
        figures.append(f'<figure data-why="{html.escape(th.why)}"><img alt="{html.escape(th.source_id)} #{th.seq}" src="{src}">'
                       f"<figcaption>{caption}{errors}</figcaption></figure>")
    return f'<div class="sheet" data-contact-sheet>{"".join(figures)}</div>'
