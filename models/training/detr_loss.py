"""DETR's set loss: Hungarian matching (scipy), then class cross-entropy, L1 and GIoU on
matched boxes, for the final decoder layer and every auxiliary one.

Boxes are (cx, cy, w, h) normalised to [0, 1] by the padded-free image size, as DETR predicts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn
from torchvision.ops import box_convert, generalized_box_iou


@dataclass(frozen=True)
class LossWeights:
    """DETR's defaults: matching and loss use the same class/L1/GIoU weights; ``eos`` is the
    relative weight of the no-object class in the cross-entropy."""

    cls: float = 1.0
    l1: float = 5.0
    giou: float = 2.0
    eos: float = 0.1


def _xyxy(b: torch.Tensor) -> torch.Tensor:
    return box_convert(b, "cxcywh", "xyxy")


@torch.no_grad()
def hungarian_match(logits: torch.Tensor, boxes: torch.Tensor, targets: list[dict[str, torch.Tensor]], w: LossWeights) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image, (query indices, target indices) of the minimum-cost one-to-one assignment.

    logits: (B, Q, K+1); boxes: (B, Q, 4) cxcywh; targets[i]: {"labels": (N_i,), "boxes": (N_i, 4) cxcywh}.
    """
    prob = logits.softmax(-1)
    out = []
    for i, t in enumerate(targets):
        if len(t["labels"]) == 0:
            out.append((torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int64)))
            continue
        cost = (
            -w.cls * prob[i][:, t["labels"]]
            + w.l1 * torch.cdist(boxes[i], t["boxes"], p=1)
            - w.giou * generalized_box_iou(_xyxy(boxes[i]), _xyxy(t["boxes"]))
        )
        q, k = linear_sum_assignment(cost.cpu().numpy())
        out.append((torch.as_tensor(q, dtype=torch.int64), torch.as_tensor(k, dtype=torch.int64)))
    return out


class SetCriterion(nn.Module):
    """``forward(outputs, targets) -> dict`` of weighted losses and their sum under ``"loss"``.

    outputs: {"logits": (B, Q, K+1), "boxes": (B, Q, 4), "aux": [{"logits", "boxes"}, ...]}.
    """

    def __init__(self, num_classes: int, weights: LossWeights = LossWeights()) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.w = weights
        empty = torch.ones(num_classes + 1)
        empty[-1] = weights.eos
        self.register_buffer("class_weight", empty)

    def _single(self, logits: torch.Tensor, boxes: torch.Tensor, targets: list[dict[str, torch.Tensor]], n_boxes: float) -> dict[str, torch.Tensor]:
        match = hungarian_match(logits, boxes, targets, self.w)
        target_cls = torch.full(logits.shape[:2], self.num_classes, dtype=torch.int64, device=logits.device)
        src_boxes, tgt_boxes = [], []
        for i, (q, k) in enumerate(match):
            target_cls[i, q] = targets[i]["labels"][k]
            src_boxes.append(boxes[i, q])
            tgt_boxes.append(targets[i]["boxes"][k])
        ce = F.cross_entropy(logits.transpose(1, 2), target_cls, weight=self.class_weight)
        sb, tb = torch.cat(src_boxes), torch.cat(tgt_boxes)
        l1 = F.l1_loss(sb, tb, reduction="sum") / n_boxes
        giou = (1 - torch.diag(generalized_box_iou(_xyxy(sb), _xyxy(tb)))).sum() / n_boxes if len(sb) else sb.sum()
        return {"cls": ce, "l1": l1, "giou": giou}

    def forward(self, outputs: dict, targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        n_boxes = max(float(sum(len(t["labels"]) for t in targets)), 1.0)
        parts = [self._single(outputs["logits"], outputs["boxes"], targets, n_boxes)]
        for aux in outputs.get("aux", []):
            parts.append(self._single(aux["logits"], aux["boxes"], targets, n_boxes))
        losses = {k: sum(p[k] for p in parts) for k in ("cls", "l1", "giou")}
        losses["loss"] = self.w.cls * losses["cls"] + self.w.l1 * losses["l1"] + self.w.giou * losses["giou"]
        return losses
