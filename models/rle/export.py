"""Export an RLE head to ONNX with the project's exporter settings and prove what the graph holds.

A head is exported on its own (a stage composes it after a backbone's pooled feature, or a later
issue registers backbone + head as one model spec in ``models/hub/registry.py``). Two checks make
the file trustworthy: onnxruntime matches torch at two batch sizes, and the graph's initialisers
are exactly the head's parameters, so no flow weight (the loss's business) leaks into inference.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from sensorium.models.hub.export import DEFAULT_OPSET, FP32_TOLERANCE, ParityError
from sensorium.models.rle.flow import RealNVP
from sensorium.models.rle.heads import RLEHead

log = logging.getLogger(__name__)

INPUT_NAME = "features"
OUTPUT_NAMES = ("mu", "sigma")
EXPORT_BATCH = 2  # torch.export specialises size-1 dims
HEAD_PARAMETERS = ("mu.weight", "mu.bias", "sigma.weight", "sigma.bias")  # RLEHead's two Linear maps
MAX_CONSTANT = 16  # elements in a non-parameter initialiser (shapes, scalars)


@dataclass(frozen=True)
class HeadExport:
    """path: the .onnx file; initializers: their names; max_abs_error: batch size -> max |ort - torch|."""

    path: Path
    initializers: tuple[str, ...]
    max_abs_error: dict[int, float]


def _export(head: RLEHead, path: Path, opset: int) -> None:
    example = (torch.randn(EXPORT_BATCH, head.in_features),)
    out = io.StringIO()
    with warnings.catch_warnings(record=True), contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        program = torch.onnx.export(
            head, example, dynamo=True, opset_version=opset, input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES), dynamic_shapes=({0: "batch"},), optimize=True, verbose=False,
        )
    log.debug("torch.onnx.export(%s): %s", type(head).__name__, out.getvalue().strip())
    program.save(path, external_data=False)


def _parity(head: RLEHead, path: Path, batch_sizes: Sequence[int]) -> dict[int, float]:
    from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig

    session = OnnxModel(path, RuntimeConfig(providers=("cpu",), warmup_runs=0), name=path.name)
    gen = torch.Generator().manual_seed(0)
    errors = {}
    for batch in batch_sizes:
        x = torch.randn(batch, head.in_features, generator=gen)
        with torch.inference_mode():
            expected = head(x)
        got = session.run([x.numpy()])
        errors[batch] = float(np.max([np.max(np.abs(got[n] - e.numpy())) for n, e in zip(OUTPUT_NAMES, expected)]))
    return errors


def export_head(head: RLEHead, path: str | Path, *, opset: int = DEFAULT_OPSET,
                batch_sizes: Sequence[int] = (1, 3)) -> HeadExport:
    """Write ``head`` (eval mode, CPU) to ``path``: input ``features`` (batch, in_features) float32,
    outputs ``mu`` and ``sigma`` (batch, *head.shape). Raises ParityError when onnxruntime differs
    from torch by more than FP32_TOLERANCE, ValueError when the head holds a flow or the graph holds
    weights beyond the head's two Linear maps; a file that failed a check is removed."""
    flows = [name for name, m in head.named_modules() if isinstance(m, RealNVP)]
    if flows:
        raise ValueError(f"{type(head).__name__} holds a flow at {flows[0]!r}: the flow belongs to RLELoss "
                         f"and is dropped at inference; export the head alone")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = head.eval().cpu()
    _export(head, path, opset)
    try:
        return _check(head, path, batch_sizes)
    except (ValueError, ParityError):
        path.unlink(missing_ok=True)
        raise


def _check(head: RLEHead, path: Path, batch_sizes: Sequence[int]) -> HeadExport:
    inits = onnx.load(path).graph.initializer
    names = tuple(init.name for init in inits)
    params = set(HEAD_PARAMETERS)
    # Besides the parameters the exporter stores constants (a reshape's target shape, SIGMA_FLOOR);
    # anything larger than MAX_CONSTANT elements would be weights the head does not own.
    extra = [i.name for i in inits if i.name not in params and int(np.prod(i.dims)) > MAX_CONSTANT]
    if extra or not params <= set(names) or {n for n, _ in head.named_parameters()} != params:
        raise ValueError(f"{path.name}: expected the head's parameters {sorted(params)} and small constants, "
                         f"got initialisers {list(names)} (unexpected: {extra})")
    errors = _parity(head, path, batch_sizes)
    if not all(e <= FP32_TOLERANCE for e in errors.values()):
        raise ParityError(f"{path.name}: onnxruntime differs from torch by {errors} (tolerance {FP32_TOLERANCE})")
    return HeadExport(path, names, errors)
