"""Ray for every engine: the one way sensorium joins or starts Ray (:func:`init_ray`) and the one
rule that shares a cluster's CPUs and GPUs among stage actors (:func:`plan_resources`)."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import ray


class RayUnavailable(RuntimeError):
    """Ray could not be joined or started; the message says which and what to try."""


def init_ray(address: str | None = None, *, num_cpus: int | None = None, log_to_driver: bool = True) -> None:
    """Connect to ``address`` (an existing cluster; ``auto``: the one ``ray start`` left) or,
    without one, start a local Ray of ``num_cpus`` (default: this machine's) that stops with
    the process. A no-op when this process is already connected.

    Raises :class:`RayUnavailable` when that fails: ``ray.init`` raises a bare ``Exception``
    when a local raylet does not register in time (30 s, e.g. on an overloaded machine), which
    the commands would otherwise show as a traceback and exit 1 before any work."""
    if ray.is_initialized():
        return
    if address:
        check_reachable(address)
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": log_to_driver}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), **kwargs)
    except ValueError:  # a malformed address or option: the caller's input, said as Ray says it
        raise
    except Exception as exc:  # noqa: BLE001 - Ray's start-up failures have no common type
        if ray.is_initialized():
            ray.shutdown()
        where = f"join the Ray cluster at {address!r}" if address else "start a local Ray"
        hint = ("check the address and that the cluster is up (`ray status`)" if address else
                "the machine may be overloaded; retry, or start one with `ray start --head` and pass --ray-address auto")
        raise RayUnavailable(f"could not {where}: {type(exc).__name__}: {exc} ({hint})") from exc


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Raise :class:`RayUnavailable` when nothing accepts a connection at a ``host:port``
    cluster address: ``ray.init`` would retry such an address for minutes without a word to the
    user. Other forms (``auto``, ``ray://...``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(f"could not join the Ray cluster at {address!r}: nothing answers there ({exc}); "
                             f"check the address and that the cluster is up (`ray status --address {address}`)") from None


@dataclass(frozen=True)
class ActorRequest:
    """One stage's actors as the planner sees them: how many, and per actor the CPUs and GPUs
    the user (or the stage) fixed, None where the planner shares what is left; ``wants_gpu``:
    a stage whose GPUs are None gets a share of them (else 0)."""

    name: str
    actors: int = 1
    num_cpus: float | None = None
    num_gpus: float | None = None
    wants_gpu: bool = False


def plan_resources(requests: Sequence[ActorRequest], cluster: Mapping[str, float], *, fix: str = "actors") -> list[tuple[float, float]]:
    """(num_cpus, num_gpus) per actor of each request.

    Given values are kept; the CPUs they leave are shared among the actors that give none, at
    most 1 each (a 2-core machine runs three one-actor stages at 0.67 CPU each instead of
    leaving one pending forever); the GPUs they leave go, at most 1 each, to the actors that
    want one. Every actor must hold its resources at once, so a plan the cluster cannot hold
    raises ValueError now (``fix`` names what the user should lower besides num_cpus/num_gpus)
    instead of leaving actors pending forever."""
    cpus = _share(requests, cluster.get("CPU", 0.0), "num_cpus", "CPU", lambda r: True, fix)
    gpus = _share(requests, cluster.get("GPU", 0.0), "num_gpus", "GPU", lambda r: r.wants_gpu and cluster.get("GPU", 0.0) > 0, fix)
    return list(zip(cpus, gpus))


def _share(requests: Sequence[ActorRequest], total: float, field: str, key: str, wants: Any, fix: str) -> list[float]:
    given = [getattr(r, field) for r in requests]
    fixed = sum(g * r.actors for g, r in zip(given, requests) if g is not None)
    if fixed > total + 1e-9:
        raise ValueError(f"the stages' actors need {field}={fixed:g} together; the cluster has {key}={total:g}: lower {field} or {fix}")
    auto = [i for i, (g, r) in enumerate(zip(given, requests)) if g is None and wants(r)]
    waiting = sum(requests[i].actors for i in auto)
    share = min(1.0, (total - fixed) / waiting) if waiting else 0.0
    if waiting and share <= 0:
        raise ValueError(f"no {key} left for {[requests[i].name for i in auto]}: the cluster's {key}={total:g} is all given to "
                         f"{[r.name for g, r in zip(given, requests) if g is not None]}; lower {field} or {fix}")
    return [g if g is not None else (share if i in auto else 0.0) for i, g in enumerate(given)]
