"""TFLite's sparse constant tensors made dense (what the DENSIFY op does at load time).

MediaPipe's pose detector stores 38 of its fp16 weight tensors sparse. The layout is TFLite's
``SparsityParameters``: the tensor's dimensions, plus one block dimension per entry of
``block_map``, are walked in ``traversal_order``; each walked dimension is DENSE (every index
0..dense_size-1) or SPARSE_CSR (``array_segments[parent]..array_segments[parent + 1]`` of
``array_indices``), and the leaves, in walking order, are the stored values. An original
coordinate is ``outer * block_size + inner`` for a blocked dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_DENSE, _CSR = 0, 1
_VECTORS = {1: "Int32Vector", 2: "Uint16Vector", 3: "Uint8Vector"}


def _index_vector(tfl: Any, kind: int, table: Any) -> np.ndarray:
    if kind not in _VECTORS:
        raise ValueError(f"sparse tensor: unknown index vector type {kind}")
    vec = getattr(tfl, _VECTORS[kind])()
    vec.Init(table.Bytes, table.Pos)
    return vec.ValuesAsNumpy().astype(np.int64)


def _levels(tfl: Any, sparsity: Any) -> list[tuple[int, int, np.ndarray | None, np.ndarray | None]]:
    """Per walked dimension: (format, dense size, segments, indices)."""
    levels = []
    for i in range(sparsity.DimMetadataLength()):
        dim = sparsity.DimMetadata(i)
        if dim.Format() == _DENSE:
            levels.append((_DENSE, dim.DenseSize(), None, None))
        elif dim.Format() == _CSR:
            levels.append((_CSR, 0, _index_vector(tfl, dim.ArraySegmentsType(), dim.ArraySegments()),
                           _index_vector(tfl, dim.ArrayIndicesType(), dim.ArrayIndices())))
        else:
            raise ValueError(f"sparse tensor: unknown dimension format {dim.Format()}")
    return levels


def _walk(levels: list, order: list[int], rank_ext: int) -> tuple[np.ndarray, np.ndarray]:
    """(V, rank_ext) coordinates of every stored value in the extended space, and (V,) value positions."""
    coords = np.zeros((1, rank_ext), np.int64)
    pos = np.zeros(1, np.int64)  # position in the current level (the parent of the next)
    for level, (fmt, size, segments, indices) in enumerate(levels):
        if fmt == _DENSE:
            coords = np.repeat(coords, size, axis=0)
            child = np.tile(np.arange(size), len(pos))
            pos = np.repeat(pos, size) * size + child
        else:
            counts = segments[pos + 1] - segments[pos]
            starts = np.repeat(segments[pos], counts)
            within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            pos = starts + within
            coords = np.repeat(coords, counts, axis=0)
            child = indices[pos]
        coords[:, order[level]] = child
    return coords, pos


def densify(tfl: Any, sparsity: Any, values: np.ndarray, shape: list[int]) -> np.ndarray:
    """The dense (shape) array of a sparse tensor's stored ``values`` (1-D, in walking order)."""
    order = sparsity.TraversalOrderAsNumpy().tolist()
    block_map = sparsity.BlockMapAsNumpy().tolist() if sparsity.BlockMapLength() else []
    rank = len(shape)
    levels = _levels(tfl, sparsity)
    if len(order) != rank + len(block_map) or len(levels) != len(order):
        raise ValueError(f"sparse tensor of shape {shape}: traversal order {order} and block map {block_map} disagree")
    coords, pos = _walk(levels, order, len(order))
    if len(pos) != values.size:
        raise ValueError(f"sparse tensor of shape {shape}: {values.size} stored values, the index arrays name {len(pos)}")
    dense_coords = coords[:, :rank].copy()
    for j, d in enumerate(block_map):
        block = levels[order.index(rank + j)][1]
        dense_coords[:, d] = dense_coords[:, d] * block + coords[:, rank + j]
    out = np.zeros(shape, values.dtype)
    out[tuple(dense_coords.T)] = values[pos]
    return out
