"""The one resource planner both engines use: given values kept, the rest shared, or refused;
and joining a cluster that is not there fails at once, naming it."""

from __future__ import annotations

import socket

import pytest

from sensorium.pipeline.cluster import ActorRequest, RayUnavailable, check_reachable, plan_resources

R = ActorRequest


@pytest.mark.parametrize(
    ("requests", "cluster", "expected", "error"),
    [
        ([R("a"), R("b"), R("c")], {"CPU": 2.0}, [(2 / 3, 0.0)] * 3, None),  # a 2-core machine: three stages share
        ([R("a"), R("b")], {"CPU": 16.0}, [(1.0, 0.0)] * 2, None),  # at most 1 CPU each
        ([R("a", actors=2), R("b", num_cpus=1.0)], {"CPU": 2.0}, [(0.5, 0.0), (1.0, 0.0)], None),
        ([R("a", wants_gpu=True), R("b")], {"CPU": 8.0, "GPU": 1.0}, [(1.0, 1.0), (1.0, 0.0)], None),
        ([R("a", wants_gpu=True, actors=3)], {"CPU": 8.0, "GPU": 1.0}, [(1.0, 1 / 3)], None),
        ([R("a", wants_gpu=True)], {"CPU": 8.0}, [(1.0, 0.0)], None),  # wants one, the cluster has none: CPU
        ([R("a", num_cpus=1.0), R("b", num_cpus=1.0, actors=2)], {"CPU": 2.0}, None, "num_cpus=3 together; the cluster has CPU=2: lower num_cpus or actors"),
        ([R("a", num_cpus=2.0), R("b")], {"CPU": 2.0}, None, r"no CPU left for \['b'\]"),
        ([R("a", num_gpus=1.0)], {"CPU": 2.0}, None, "num_gpus=1 together; the cluster has GPU=0"),
        ([R("a", num_gpus=1.0), R("b", wants_gpu=True)], {"CPU": 2.0, "GPU": 1.0}, None, r"no GPU left for \['b'\]"),
    ],
)
def test_plan_shares_what_is_not_given_or_refuses(requests, cluster, expected, error):
    if error is None:
        assert plan_resources(requests, cluster) == [pytest.approx(e) for e in expected]
    else:
        with pytest.raises(ValueError, match=error):
            plan_resources(requests, cluster)


def test_the_refusal_names_what_to_lower():
    with pytest.raises(ValueError, match="lower num_cpus or replicas in the pipeline config"):
        plan_resources([R("a", num_cpus=4.0)], {"CPU": 2.0}, fix="replicas in the pipeline config")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_answers_is_refused_at_once():
    # ray.init retries such an address for minutes with only log lines (seen: > 5 min)
    address = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(RayUnavailable, match=rf"could not join the Ray cluster at '{address}': nothing answers there"):
        check_reachable(address)


@pytest.mark.parametrize("address", ["auto", "ray://127.0.0.1:1", "local"])
def test_addresses_ray_resolves_itself_are_left_to_ray(address):
    check_reachable(address)  # no connection tried, nothing raised

