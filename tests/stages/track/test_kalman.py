"""The vectorised constant-velocity Kalman filter: against a per-track loop, the closed-form
Mahalanobis distance, velocity estimates on noisy tracks, and time steps from timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.track.kalman import ConstantVelocity, box_size_std, box_to_z, z_to_box


def _tracks(n, seed=0):
    rng = np.random.default_rng(seed)
    kf = ConstantVelocity(4)
    z = rng.uniform(50, 200, (n, 4))
    mean, cov = kf.initiate(z, box_size_std(z, 0.1), box_size_std(z, 0.5))
    return kf, rng, mean, cov


def test_batched_update_equals_one_track_at_a_time():
    kf, rng, mean, cov = _tracks(5)
    mean, cov = kf.predict(mean, cov, 0.05, box_size_std(mean, 0.05), box_size_std(mean, 0.2))
    z = mean[:, :4] + rng.normal(0, 3, (5, 4))
    r = box_size_std(z, 0.05)
    m_all, c_all = kf.update(mean, cov, z, r)
    for i in range(5):
        m1, c1 = kf.update(mean[i:i + 1], cov[i:i + 1], z[i:i + 1], r[i:i + 1])
        np.testing.assert_allclose(m_all[i], m1[0], rtol=1e-12)
        np.testing.assert_allclose(c_all[i], c1[0], rtol=1e-10, atol=1e-10)
    # the textbook form, by hand, for one track
    h = np.hstack([np.eye(4), np.zeros((4, 4))])
    s = h @ cov[0] @ h.T + np.diag(r[0] ** 2)
    k = cov[0] @ h.T @ np.linalg.inv(s)
    np.testing.assert_allclose(m_all[0], mean[0] + k @ (z[0] - h @ mean[0]), rtol=1e-10)
    np.testing.assert_allclose(c_all[0], (np.eye(8) - k @ h) @ cov[0], rtol=1e-8, atol=1e-8)


def test_mahalanobis_matches_the_closed_form_with_per_measurement_noise():
    kf = ConstantVelocity(3)
    rng = np.random.default_rng(1)
    mean, cov = kf.initiate(rng.normal(0, 1, (3, 3)), np.full((3, 3), 0.2), np.full((3, 3), 1.0))
    z, extra, r = rng.normal(0, 1, (4, 3)), rng.uniform(0.05, 0.5, (4, 3)), np.full((3, 3), 0.1)
    d2 = kf.mahalanobis(mean, cov, z, r, extra)
    for n in range(3):
        for m in range(4):
            s = cov[n, :3, :3] + np.diag(r[n] ** 2) + np.diag(extra[m] ** 2)
            diff = z[m] - mean[n, :3]
            assert d2[n, m] == pytest.approx(diff @ np.linalg.solve(s, diff), rel=1e-10)


def test_velocity_converges_on_a_noisy_constant_velocity_track():
    kf = ConstantVelocity(2)
    rng = np.random.default_rng(2)
    v_true, dt = np.array([30.0, -12.0]), 1 / 30
    mean, cov = kf.initiate(np.zeros((1, 2)), np.full((1, 2), 2.0), np.full((1, 2), 50.0))
    for t in range(1, 120):
        mean, cov = kf.predict(mean, cov, dt, np.full((1, 2), 0.05), np.full((1, 2), 0.5))
        mean, cov = kf.update(mean, cov, (v_true * t * dt + rng.normal(0, 1.0, 2))[None], np.full((1, 2), 1.0))
    np.testing.assert_allclose(mean[0, 2:], v_true, atol=2.0)


def test_time_steps_come_from_timestamps_not_frame_counts():
    kf, _, mean, cov = _tracks(2)
    mean[:, 4:] = [[10.0, 0, 0, 0], [-5.0, 4.0, 0, 0]]
    zero = np.zeros((2, 4))
    two_steps = kf.predict(*kf.predict(mean, cov, 0.1, zero, zero), 0.1, zero, zero)[0]
    one_step = kf.predict(mean, cov, 0.2, zero, zero)[0]
    np.testing.assert_allclose(two_steps, one_step)
    np.testing.assert_allclose(one_step[:, :2] - mean[:, :2], [[2.0, 0.0], [-1.0, 0.8]])


def test_box_parametrisation_round_trips():
    boxes = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_allclose(box_to_z(boxes), [[30, 70, 40, 100], [0.5, 0.5, 1, 1]])
    np.testing.assert_allclose(z_to_box(box_to_z(boxes)), boxes)


def test_pairwise_mahalanobis_equals_the_full_matrix_on_those_pairs():
    kf = ConstantVelocity(3)
    rng = np.random.default_rng(4)
    mean, cov = kf.initiate(rng.normal(0, 1, (3, 3)), np.full((3, 3), 0.2), np.full((3, 3), 1.0))
    z, extra, r = rng.normal(0, 1, (4, 3)), rng.uniform(0.05, 0.5, (4, 3)), np.full((3, 3), 0.1)
    full = kf.mahalanobis(mean, cov, z, r, extra)
    t, d = np.array([0, 2, 1]), np.array([3, 0, 0])
    np.testing.assert_allclose(kf.mahalanobis_pairs(mean[t], cov[t], z[d], r[t], extra[d]), full[t, d], rtol=1e-12)
