"""Constant-velocity Kalman filters, vectorised over tracks (plain numpy).

One filter per track, all tracks in one array so a frame with 1000 tracks costs a few batched
matrix products, not 1000 Python calls. State ``(N, 2D)``: D positions then their D velocities
per second; time steps come from frame timestamps (``dt`` seconds), so a dropped frame or a
variable frame rate changes the prediction, not the model.

Boxes use ByteTrack's successors' ``cx, cy, w, h`` parametrisation (BoT-SORT): noise scales with
the box size, so a near pedestrian and a far one are equally uncertain relative to their size.
3-D positions (metres, camera frame) use the same filter with D = 3 and fixed noise in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the frame period ByteTrack's noise weights were tuned at: per-frame noise is scaled by dt / REF_DT
REF_DT = 1.0 / 30.0


@dataclass(frozen=True)
class BoxNoise:
    """ByteTrack/BoT-SORT noise weights, as a fraction of the box size per frame at 30 fps:
    position process noise, velocity process noise, measurement noise."""

    position: float = 1.0 / 20.0
    velocity: float = 1.0 / 160.0
    measurement: float = 1.0 / 20.0


class ConstantVelocity:
    """Kalman filter with state ``[p (D), v (D)]``, p in units, v in units per second."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._h = np.hstack([np.eye(dim), np.zeros((dim, dim))])  # (D, 2D) measures the positions

    def initiate(self, z: np.ndarray, pos_std: np.ndarray, vel_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean (N, 2D) and covariance (N, 2D, 2D) from first measurements z (N, D) and the
        standard deviations (N, D) of position and velocity (per second)."""
        z = np.asarray(z, np.float64)
        mean = np.concatenate([z, np.zeros_like(z)], axis=1)
        var = np.concatenate([pos_std, vel_std], axis=1) ** 2
        return mean, _diag(var)

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt: float, q_pos: np.ndarray, q_vel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every track by ``dt`` seconds. q_pos/q_vel (N, D): process noise standard
        deviations for that step (the caller scales them with dt)."""
        d = self.dim
        f = np.eye(2 * d)
        f[:d, d:] = dt * np.eye(d)
        mean = mean @ f.T
        cov = f @ cov @ f.T + _diag(np.concatenate([q_pos, q_vel], axis=1) ** 2)
        return mean, cov

    def project(self, mean: np.ndarray, cov: np.ndarray, r_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted measurement (N, D) and its covariance S (N, D, D) with measurement noise r_std (N, D)."""
        d = self.dim
        return mean[:, :d], cov[:, :d, :d] + _diag(r_std**2)

    def update(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray, r_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct tracks (N) with their measurements z (N, D) of noise r_std (N, D)."""
        d = self.dim
        z_pred, s = self.project(mean, cov, r_std)
        pht = cov[:, :, :d]  # (N, 2D, D) = P H^T since H selects the positions
        gain = np.linalg.solve(s, np.swapaxes(pht, 1, 2)).swapaxes(1, 2)  # (N, 2D, D) = P H^T S^-1 (S symmetric)
        mean = mean + np.einsum("nij,nj->ni", gain, np.asarray(z, np.float64) - z_pred)
        cov = cov - gain @ np.swapaxes(pht, 1, 2)
        return mean, 0.5 * (cov + np.swapaxes(cov, 1, 2))

    def mahalanobis(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray, r_std: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Squared Mahalanobis distances (N, M) between N tracks' predicted measurements and M
        measurements z (M, D). S uses the tracks' r_std (N, D); ``extra`` (M, D) adds each
        measurement's own standard deviation (e.g. the spread of the depth samples behind a box),
        so the distance is exact per pair: (z - Hx)^T (S_n + diag(extra_m^2))^-1 (z - Hx)."""
        z_pred, s = self.project(mean, cov, r_std)
        diff = np.asarray(z, np.float64)[None, :, :] - z_pred[:, None, :]  # (N, M, D)
        if extra is None:
            sol = np.linalg.solve(s[:, None], diff[..., None])[..., 0]  # (N, M, D)
        else:
            s_pair = s[:, None] + _diag(np.asarray(extra, np.float64) ** 2)[None]  # (N, M, D, D)
            sol = np.linalg.solve(s_pair, diff[..., None])[..., 0]
        return np.einsum("nmd,nmd->nm", diff, sol)


    def mahalanobis_pairs(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray, r_std: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances (P,) of P (track, measurement) pairs given row by row:
        the track's mean (P, 2D), cov (P, 2D, 2D), r_std (P, D) and the measurement's z (P, D),
        extra (P, D). What :meth:`mahalanobis` gives on those pairs, without the (N, M) work."""
        z_pred, s = self.project(mean, cov, r_std)
        s = s + _diag(np.asarray(extra, np.float64) ** 2)
        diff = np.asarray(z, np.float64) - z_pred
        return np.einsum("pd,pd->p", diff, np.linalg.solve(s, diff[..., None])[..., 0])


def box_to_z(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) ``x1, y1, x2, y2`` → (N, 4) ``cx, cy, w, h``."""
    b = np.asarray(boxes, np.float64)
    wh = b[:, 2:] - b[:, :2]
    return np.concatenate([b[:, :2] + wh / 2, wh], axis=1)


def z_to_box(z: np.ndarray) -> np.ndarray:
    """(N, >=4) ``cx, cy, w, h, ...`` → (N, 4) ``x1, y1, x2, y2`` (widths clipped at 0)."""
    c, wh = z[:, :2], np.maximum(z[:, 2:4], 0.0)
    return np.concatenate([c - wh / 2, c + wh / 2], axis=1)


def box_size_std(z: np.ndarray, weight: float) -> np.ndarray:
    """(N, 4) standard deviations ``weight * (w, h, w, h)``: noise proportional to the box size."""
    wh = np.maximum(z[:, 2:4], 1.0)
    return weight * np.concatenate([wh, wh], axis=1)


def _diag(v: np.ndarray) -> np.ndarray:
    """(N, K) → (N, K, K) diagonal matrices."""
    out = np.zeros((*v.shape, v.shape[-1]), dtype=np.float64)
    idx = np.arange(v.shape[-1])
    out[..., idx, idx] = v
    return out
