"""Tracks in metric 3-D: each track's camera-frame position and velocity, when its items carry one.

When depth ran, the tracked items carry ``xyz`` (metres, camera frame: X right, Y down, Z
forward) and ``xyz_spread`` (the robust spread of the depth samples behind each box). Two people
overlapping in the image at 3 m and 8 m have a high IoU but are 5 m apart: the 2-D tracker may
hand one's detection to the other's track, the 3-D gate never does. A constant-velocity Kalman
filter per track (random-acceleration noise) predicts each position; a pair is allowed only
within a Mahalanobis gate whose covariance adds the detection's spread to the prediction's, and
its cost mixes ``1 - IoU`` with the normalised 3-D distance.

Each track also keeps its last ``T`` filtered positions (the trajectory, oldest first, NaN-padded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorium.stages.track.associate import INFEASIBLE
from sensorium.stages.track.kalman import ConstantVelocity

#: chi-square quantile, 3 degrees of freedom, 0.99: a true pair falls outside 1% of the time
CHI2_3D_99 = 11.345


@dataclass(frozen=True)
class Motion3D:
    """accel: random-acceleration noise (m/s^2; people walking); min_sigma: floor on a
    position's measurement noise (m); gate: squared Mahalanobis gate; weight: share of the
    3-D distance in a pair's cost (the rest is ``1 - IoU``); init_speed: prior speed spread (m/s)."""

    accel: float = 3.0
    min_sigma: float = 0.05
    gate: float = CHI2_3D_99
    weight: float = 0.3
    init_speed: float = 1.5


class Positions3D:
    """The 3-D state of N tracks, row-aligned with the 2-D tracker's arrays."""

    def __init__(self, motion: Motion3D, trajectory_length: int) -> None:
        self.motion = motion
        self.kf = ConstantVelocity(3)
        self.mean = np.zeros((0, 6))
        self.cov = np.zeros((0, 6, 6))
        self.has = np.zeros(0, bool)
        self.trajectory = np.zeros((0, trajectory_length, 3), np.float32)

    def _r(self, spread: np.ndarray) -> np.ndarray:
        return np.maximum(np.nan_to_num(np.asarray(spread, np.float64), nan=self.motion.min_sigma), self.motion.min_sigma)

    def add(self, z: np.ndarray, spread: np.ndarray) -> None:
        """Append tracks born from measurements z (K, 3) (NaN rows: no position yet) with spreads (K, 3)."""
        ok = np.isfinite(z).all(axis=1)
        mean, cov = self.kf.initiate(np.nan_to_num(z), self._r(spread), np.full(z.shape, self.motion.init_speed))
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.has = np.concatenate([self.has, ok])
        traj = np.full((len(z), self.trajectory.shape[1], 3), np.nan, np.float32)
        traj[ok, -1] = z[ok]
        self.trajectory = np.concatenate([self.trajectory, traj])

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` is False (the 2-D tracker removed those tracks)."""
        self.mean, self.cov, self.has, self.trajectory = self.mean[mask], self.cov[mask], self.has[mask], self.trajectory[mask]

    def predict(self, dt: float) -> None:
        a, n = self.motion.accel, len(self.mean)
        q_pos, q_vel = np.full((n, 3), 0.5 * a * dt * dt), np.full((n, 3), a * dt)
        self.mean, self.cov = self.kf.predict(self.mean, self.cov, dt, q_pos, q_vel)

    def cost(self, rows: np.ndarray, iou: np.ndarray, z: np.ndarray, spread: np.ndarray) -> np.ndarray:
        """Pair costs (R, M) for tracks ``rows`` and M measurements: ``1 - IoU`` where either side
        has no 3-D position or the boxes do not overlap (such a pair never matches anyway, and
        skipping it keeps 1000 tracks cheap), else the mixed cost, INFEASIBLE outside the gate."""
        cost = 1.0 - iou
        if len(rows) == 0 or len(z) == 0:
            return cost
        ok = (iou > 0) & self.has[rows][:, None] & np.isfinite(z).all(axis=1)[None, :]
        t, d = np.nonzero(ok)
        if not len(t):
            return cost
        r = rows[t]
        m2 = self.kf.mahalanobis_pairs(self.mean[r], self.cov[r], z[d], np.full((len(t), 3), self.motion.min_sigma), self._r(spread[d]))
        w = self.motion.weight
        mixed = (1.0 - w) * cost[t, d] + w * np.sqrt(np.minimum(m2 / self.motion.gate, 1.0))
        cost[t, d] = np.where(m2 > self.motion.gate, INFEASIBLE, mixed)
        return cost

    def update(self, rows: np.ndarray, z: np.ndarray, spread: np.ndarray) -> None:
        """Correct tracks ``rows`` with their matched measurements z (K, 3); a track without a
        position starts one; NaN measurements leave the track as predicted. Pushes the
        filtered positions onto the trajectories."""
        ok = np.isfinite(z).all(axis=1)
        rows, z, spread = rows[ok], z[ok], spread[ok]
        fresh = ~self.has[rows]
        if fresh.any():
            mean, cov = self.kf.initiate(z[fresh], self._r(spread[fresh]), np.full((int(fresh.sum()), 3), self.motion.init_speed))
            self.mean[rows[fresh]], self.cov[rows[fresh]] = mean, cov
            self.has[rows[fresh]] = True
        old = rows[~fresh]
        if len(old):
            self.mean[old], self.cov[old] = self.kf.update(self.mean[old], self.cov[old], z[~fresh], self._r(spread[~fresh]))
        self.trajectory[rows] = np.roll(self.trajectory[rows], -1, axis=1)
        self.trajectory[rows, -1] = self.mean[rows, :3]

    def outputs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """xyz (R, 3), velocity (R, 3) float32 (NaN without a position) and trajectory (R, T, 3)."""
        xyz = np.where(self.has[rows, None], self.mean[rows, :3], np.nan).astype(np.float32)
        vel = np.where(self.has[rows, None], self.mean[rows, 3:], np.nan).astype(np.float32)
        return xyz, vel, self.trajectory[rows].copy()
