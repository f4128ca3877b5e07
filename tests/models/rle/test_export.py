"""An exported RLE head: onnxruntime matches torch at several batch sizes, and its initialisers
are exactly the head's parameters (plus shape/scalar constants), so no flow reaches inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from sensorium.models.hub.export import FP32_TOLERANCE
from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig
from sensorium.models.rle.export import MAX_CONSTANT, export_head
from sensorium.models.rle.heads import GazeRLEHead, KeypointRLEHead, RLEHead
from sensorium.models.rle.loss import RLELoss


@pytest.fixture(scope="module", params=["keypoints", "gaze"])
def exported(request, tmp_path_factory) -> tuple[RLEHead, Path, object]:
    torch.manual_seed(0)
    head = KeypointRLEHead(32, 17) if request.param == "keypoints" else GazeRLEHead(32)
    result = export_head(head, tmp_path_factory.mktemp(request.param) / "head.onnx")
    return head, result.path, result


def test_onnxruntime_matches_torch_at_other_batch_sizes(exported):
    head, path, result = exported
    assert set(result.max_abs_error) == {1, 3} and max(result.max_abs_error.values()) <= FP32_TOLERANCE
    session = OnnxModel(path, RuntimeConfig(providers=("cpu",), warmup_runs=0))
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(5))
    got = session.run([x.numpy()])
    with torch.inference_mode():
        mu, sigma = head(x)
    np.testing.assert_allclose(got["mu"], mu.numpy(), atol=FP32_TOLERANCE)
    np.testing.assert_allclose(got["sigma"], sigma.numpy(), atol=FP32_TOLERANCE)
    assert got["mu"].shape == (5, *head.shape)


def test_graph_holds_the_heads_parameters_and_no_flow(exported):
    head, path, result = exported
    graph = onnx.load(path).graph
    params = {n: p for n, p in head.named_parameters()}
    weights = {i.name: i for i in graph.initializer if i.name in params}
    assert set(weights) == set(params)
    for name, init in weights.items():
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(init), params[name].detach().numpy())
    others = [i for i in graph.initializer if i.name not in params]
    assert len(others) <= 2 and all(int(np.prod(i.dims)) <= MAX_CONSTANT for i in others)
    assert not any("flow" in n or "coupling" in n for n in result.initializers)
    assert {node.op_type for node in graph.node} <= {"Gemm", "MatMul", "Add", "Sigmoid", "Reshape"}


class _HeadWithFlow(GazeRLEHead):
    """A wrong head that evaluates a flow at inference: what export_head must refuse."""

    def __init__(self) -> None:
        super().__init__(8)
        self.loss = RLELoss(2, num_couplings=1, hidden=32)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, sigma = super().forward(features)
        return mu, sigma * self.loss.flow.log_prob(mu).exp()[:, None]


class _WiderHead(GazeRLEHead):
    """A head with a weight beyond its two Linear maps (a hidden layer): the graph check refuses it."""

    def __init__(self) -> None:
        super().__init__(8)
        self.hidden = nn.Linear(8, 8)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().forward(self.hidden(features))


def test_refuses_a_head_holding_a_flow(tmp_path):
    with pytest.raises(ValueError, match="_HeadWithFlow holds a flow at 'loss.flow'"):
        export_head(_HeadWithFlow(), tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_refuses_a_graph_with_weights_beyond_the_heads_linear_maps(tmp_path):
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=r"expected the head's parameters .* \(unexpected: \['hidden.weight'"):
        export_head(_WiderHead(), tmp_path / "wide.onnx")
    assert not (tmp_path / "wide.onnx").exists()  # a file that failed its check is not left to be trusted
