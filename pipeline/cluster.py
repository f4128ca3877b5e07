"""The one way sensorium joins or starts Ray: every engine (stream, batch, Serve) calls
:func:`init_ray`, so a run never ends up on a different Ray than the one the user named."""

from __future__ import annotations

import logging
import os
from typing import Any

import ray


def init_ray(address: str | None = None, *, num_cpus: int | None = None, log_to_driver: bool = True) -> None:
    """Connect to ``address`` (an existing cluster; ``auto``: the one ``ray start`` left) or,
    without one, start a local Ray of ``num_cpus`` (default: this machine's) that stops with
    the process. A no-op when this process is already connected."""
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": log_to_driver}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), **kwargs)
