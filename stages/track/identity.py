"""A face track's name: a vote over the frames it was matched in, not each frame alone.

Naming each frame alone turns one unlucky frame (a blurred or turned face scoring just above the
threshold against someone in the gallery) into a false sighting. A track accumulates, per name,
the similarity of every frame that named it; its name is the leader once the leader has at least
``min_votes`` frames and ``min_share`` of the named weight. Frames where the face stayed unknown
add no weight: a person never enrolled stays unknown, a single-frame false match never names the
track, and a long track of Lin-Manuel Miranda with one frame matched to someone else stays his.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoteRule:
    """min_votes: frames naming the leader before the track takes the name; min_share: the
    leader's share of the similarity-weighted votes of all names."""

    min_votes: int = 3
    min_share: float = 0.6

    def __post_init__(self) -> None:
        if self.min_votes < 1 or not 0.0 < self.min_share <= 1.0:
            raise ValueError(f"expected min_votes >= 1 and min_share in (0, 1], got {self.min_votes}, {self.min_share}")


class IdentityVotes:
    """Per-track name votes of one source, keyed by track id."""

    def __init__(self, rule: VoteRule | None = None) -> None:
        self.rule = rule or VoteRule()
        self._weight: dict[int, dict[str, float]] = {}
        self._count: dict[int, dict[str, int]] = {}

    def add(self, track_ids: np.ndarray, names: np.ndarray, similarity: np.ndarray | None) -> None:
        """One frame's votes: track ``track_ids[i]`` was matched to a face named ``names[i]``
        (None: unknown) with gallery similarity ``similarity[i]`` (weight 1 when None)."""
        for i, (tid, name) in enumerate(zip(np.asarray(track_ids).tolist(), list(names))):
            if name is None:
                continue
            w = 1.0 if similarity is None else max(float(similarity[i]), 0.0)
            weights, counts = self._weight.setdefault(tid, {}), self._count.setdefault(tid, {})
            weights[name] = weights.get(name, 0.0) + w
            counts[name] = counts.get(name, 0) + 1

    def name(self, track_id: int) -> str | None:
        """The track's voted name, or None while no name has enough votes."""
        weights = self._weight.get(int(track_id))
        if not weights:
            return None
        leader = min(weights, key=lambda n: (-weights[n], n))  # ties: alphabetical, deterministic
        total = sum(weights.values())
        if self._count[int(track_id)][leader] < self.rule.min_votes or weights[leader] < self.rule.min_share * total:
            return None
        return leader

    def names(self, track_ids: np.ndarray) -> np.ndarray:
        """(N,) object array of voted names for ``track_ids``."""
        return np.array([self.name(t) for t in np.asarray(track_ids).tolist()], dtype=object)

    def forget(self, alive: np.ndarray) -> None:
        """Drop the votes of tracks no longer alive (ids are never reused)."""
        keep = set(np.asarray(alive).tolist())
        for tid in [t for t in self._weight if t not in keep]:
            del self._weight[tid], self._count[tid]
