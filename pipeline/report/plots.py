"""The report's plots: matplotlib figures (no pyplot: no global state, safe off the main
thread) rendered to inline SVG text. Each function returns "" when it has nothing to draw."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from typing import Iterable, Mapping, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

#: event kind → (marker, colour) on the timeline
EVENT_STYLE = {"drop": ("v", "#e08000"), "reconnect": ("|", "#1f5fbf"), "error": ("x", "#d62728")}


def to_svg(fig: Figure) -> str:
    """``fig`` as an ``<svg>`` element to inline in HTML (no XML prolog, doctype or date; text
    as ``<text>`` in a generic font family, so no font is fetched)."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # <text> in the page's own fonts: smaller, selectable
        fig.savefig(buf, format="svg", metadata={"Date": None})  # each figure is laid out tight already
    text = buf.getvalue()
    return text[text.index("<svg"):]


def latency_histograms(latency: Mapping[str, Sequence[float]]) -> str:
    """One histogram per stage of its per-frame milliseconds, p50 and p95 marked."""
    stages = [(name, values) for name, values in latency.items() if len(values)]
    if not stages:
        return ""
    import numpy as np

    cols = min(3, len(stages))
    rows = -(-len(stages) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.4 * rows))
    for i, (name, values) in enumerate(stages):
        ax = fig.add_subplot(rows, cols, i + 1)
        v = np.asarray(values, np.float64)
        ax.hist(v, bins=min(40, max(5, len(v) // 4)), color="#4c72b0")
        for q, style in ((50, "-"), (95, "--")):
            ax.axvline(np.percentile(v, q), color="#333", linestyle=style, linewidth=1, label=f"p{q} {np.percentile(v, q):.1f} ms")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("ms per frame", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return to_svg(fig)


def throughput(frames: Iterable[tuple[str, float, bool]]) -> str:
    """Frames per second over the run, per source, in 30 bins (at least 10 ms each), as the
    sinks received them."""
    import numpy as np

    by_source: dict[str, list[float]] = defaultdict(list)
    for source, t, _ok in frames:
        by_source[source].append(t)
    if not by_source:
        return ""
    end = max(max(ts) for ts in by_source.values())
    width = max(end / 30, 0.01)
    edges = np.arange(0.0, end + 2 * width, width)
    fig = Figure(figsize=(7.5, 2.4))
    ax = fig.add_subplot()
    for source, ts in by_source.items():
        counts, _ = np.histogram(ts, edges)
        ax.step(edges[:-1], counts / width, where="post", label=source)
    ax.set_xlabel("seconds since the first frame", fontsize=8)
    ax.set_ylabel("frames / s", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return to_svg(fig)


def timeline(frames: Iterable[tuple[str, float, bool]], events: Iterable[tuple[str, float, str, int]]) -> str:
    """One row per source: the span it delivered frames in, with drops, reconnects and errors."""
    spans: dict[str, list[float]] = {}
    for source, t, _ok in frames:
        lo_hi = spans.setdefault(source, [t, t])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], t), max(lo_hi[1], t)
    events = list(events)
    sources = list(dict.fromkeys([*spans, *(e[0] for e in events)]))
    if not sources:
        return ""
    fig = Figure(figsize=(7.5, 0.6 + 0.45 * len(sources)))
    ax = fig.add_subplot()
    for row, source in enumerate(sources):
        if source in spans:
            ax.plot(spans[source], [row, row], color="#bbb", linewidth=6, solid_capstyle="butt")
    for kind, (marker, colour) in EVENT_STYLE.items():
        points = [(t, sources.index(s), n) for s, t, k, n in events if k == kind]
        if points:
            total = sum(n for *_, n in points)
            ax.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, color=colour, s=40, label=f"{kind} ({total})", zorder=3)
    ax.set_yticks(range(len(sources)), [_short(s) for s in sources], fontsize=7)
    ax.set_ylim(-0.7, len(sources) - 0.3)
    ax.set_xlabel("seconds since the first frame", fontsize=8)
    ax.tick_params(labelsize=7)
    if events:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return to_svg(fig)


def histogram(values: Sequence[float], *, xlabel: str, bins: int = 40, log_x: bool = False) -> str:
    """A plain histogram of ``values``; log-spaced bins when ``log_x`` (depths span decades)."""
    import numpy as np

    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return ""
    if log_x:
        v = v[v > 0]
        lo, hi = float(v.min()), float(v.max())
        edges = np.geomspace(lo, hi if hi > lo else lo * 1.01, bins + 1)
    else:
        edges = bins
    fig = Figure(figsize=(3.8, 2.4))
    ax = fig.add_subplot()
    ax.hist(v, bins=edges, color="#55a868")
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 0.5, 1, 2, 5, 10 m: labels within any range
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("count", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return to_svg(fig)


def _short(text: str, n: int = 28) -> str:
    text = re.sub(r"\s+", " ", str(text))
    return text if len(text) <= n else text[: n - 1] + "…"
