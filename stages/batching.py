"""Run a batched computation on groups of equally shaped inputs, so a frame's result cannot
depend on its batch neighbours.

Padding images of different sizes into one tensor makes a CNN see the padding: convolutions
near the border read it and per-image normalisation (GroupNorm) averages over it, so one frame
gives different results alone, beside a larger frame, or in another order. A padding mask
cannot undo that inside a CNN (each layer's zero padding differs from the features computed
over padded pixels). Running each distinct input shape as its own sub-batch gives every frame
exactly its single-frame input; a live source's frames all share one shape, so it costs
nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def group_indices(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indices of ``keys`` grouped by equal key: groups in order of first appearance, indices
    ascending within a group. ``group_indices(["a", "b", "a"]) == [[0, 2], [1]]``."""
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def map_grouped(items: Sequence[T], keys: Sequence[Hashable], fn: Callable[[list[T]], Sequence[R]]) -> list[R]:
    """``fn`` called once per group of items with equal key (see :func:`group_indices`), its
    results put back in the items' order: one result per item, as ``fn`` must return one per
    item it receives."""
    if len(items) != len(keys):
        raise ValueError(f"expected one key per item, got {len(keys)} keys for {len(items)} items")
    out: list[R | None] = [None] * len(items)
    for idx in group_indices(keys):
        results = fn([items[i] for i in idx])
        if len(results) != len(idx):
            raise ValueError(f"expected one result per item, got {len(results)} for a group of {len(idx)}")
        for i, r in zip(idx, results):
            out[i] = r
    return out  # type: ignore[return-value]
