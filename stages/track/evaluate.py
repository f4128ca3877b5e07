"""The tracker on generated sequences with exact ground truth, scored by ``motmetrics`` (CLEAR MOT
and identity metrics: MOTA, IDF1, ID switches), as the MOT Challenge does.

``motmetrics`` is a development dependency (tests, benchmarks), imported only here and only when
scoring. Its own ``iou_matrix`` calls ``np.asfarray``, gone in numpy 2, so the IoU distances are
computed here and handed to ``MOTAccumulator.update``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorium.models.data.trajectories import MotSequence
from sensorium.stages.results.tracks import TRACKED
from sensorium.stages.track.associate import iou_matrix
from sensorium.stages.track.bytetrack import ByteTracker, Observations, TrackerParams, TrackState

#: MOT Challenge's match threshold: a hypothesis matches a truth box at IoU >= 0.5
MATCH_IOU = 0.5


@dataclass(frozen=True)
class MotScore:
    """mota, idf1, precision, recall in [0, 1] (MOTA may go below 0); id_switches, fragmentations,
    false_positives, misses, objects (ground-truth boxes scored) as counts."""

    mota: float
    idf1: float
    precision: float
    recall: float
    id_switches: int
    fragmentations: int
    false_positives: int
    misses: int
    objects: int


def run_tracker(seq: MotSequence, params: TrackerParams | None = None, use_xyz: bool = True) -> list[TrackState]:
    """The tracker's output on every frame of ``seq``, in order (xyz passed on when present and ``use_xyz``)."""
    tracker = ByteTracker(params)
    out = []
    for t, d in zip(seq.timestamps, seq.detections):
        xyz = d.xyz if use_xyz else None
        out.append(tracker.update(float(t), Observations(d.boxes, d.scores, d.class_id, xyz, d.xyz_spread if use_xyz else None)))
    return out


def score(seq: MotSequence, tracks: list[TrackState], min_visibility: float = 0.0) -> MotScore:
    """CLEAR MOT and IDF1 of ``tracks`` (one per frame, TRACKED rows are the hypotheses) against
    ``seq``'s truth; truth boxes less visible than ``min_visibility`` are left out."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for truth, st in zip(seq.truth, tracks):
        keep = truth.visibility >= min_visibility
        hyp = st.state == TRACKED
        dist = 1.0 - iou_matrix(truth.boxes[keep], st.boxes[hyp])
        dist[dist > 1.0 - MATCH_IOU] = np.nan
        acc.update(truth.ids[keep].tolist(), st.track_id[hyp].tolist(), dist)
    names = ["mota", "idf1", "precision", "recall", "num_switches", "num_fragmentations", "num_false_positives", "num_misses", "num_objects"]
    s = mm.metrics.create().compute(acc, metrics=names, name="seq").iloc[0]
    return MotScore(float(s.mota), float(s.idf1), float(s.precision), float(s.recall), int(s.num_switches),
                    int(s.num_fragmentations), int(s.num_false_positives), int(s.num_misses), int(s.num_objects))
