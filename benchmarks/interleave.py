"""Interleaved measurement for a noisy machine: every configuration once per round, the order
reversed every other round (ABBA...), and medians with their spread instead of one run each.

Two back-to-back runs of the same comparison on a loaded 2-core machine once gave ratios of 0.68
and 1.20: load that drifts over a minute lands on whichever configuration ran then. Interleaving
spreads the drift over all of them, and the per-round ratio (both sides measured seconds apart)
cancels most of what is left.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def rounds(measures: dict[str, Callable[[], float]], n_rounds: int) -> dict[str, list[float]]:
    """Each measure's values, one per round; round r runs them in order (even r) or reversed (odd r)."""
    names = list(measures)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(n_rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            out[name].append(float(measures[name]()))
    return out


def median_spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    v = np.asarray(values, np.float64)
    return float(np.median(v)), float(v.min()), float(v.max())


def ratio(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Median and spread (min, max) of the per-round ratios a[r] / b[r]."""
    return median_spread([x / y for x, y in zip(a, b)])


def fmt(stats: tuple[float, float, float], digits: int = 2) -> str:
    m, lo, hi = stats
    return f"{m:.{digits}f} [{lo:.{digits}f}-{hi:.{digits}f}]"
