"""Perception of single images in this process: the stages a request names, built once per
(stage, options) and reused, run in the order given on one frame.

This is what the REST service's ``/v1/perceive`` calls: the same stage classes as ``run`` and
``batch``, so the same image gives the same results in all three. Options are checked (stage
names known, every option coerced by its config's annotations) before any stage runs.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import numpy as np

from sensorium.stages.base import Stage, build_config, get_stage_class
from sensorium.stages.frame import Frame


class Perception:
    """``perceive(image, stages, options) -> Frame`` with each stage's result or error on it.

    max_stages: distinct (stage, options) instances kept loaded; the least recently used one is
    dropped beyond it (each holds a model)."""

    def __init__(self, max_stages: int = 8) -> None:
        self.max_stages = max_stages
        self._stages: OrderedDict[tuple[str, str], tuple[Stage, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    def configs(self, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[tuple[str, Any]]:
        """The (name, frozen config) of each requested stage; raises ValueError naming an unknown
        stage, options for a stage not requested, or an option that does not parse."""
        options = dict(options or {})
        if not stages:
            raise ValueError("stages: name at least one stage")
        if len(set(stages)) != len(stages):
            raise ValueError(f"stages: each stage once, got {list(stages)}")
        stray = sorted(set(options) - set(stages))
        if stray:
            raise ValueError(f"options for stage(s) {', '.join(stray)}, which the request does not run ({', '.join(stages)})")
        return [(name, build_config(name, dict(options.get(name) or {}))) for name in stages]

    def _stage(self, name: str, config: Any) -> tuple[Stage, threading.Lock]:
        key = (name, json.dumps(_plain(config), sort_keys=True, default=str))
        with self._lock:
            if key in self._stages:
                self._stages.move_to_end(key)
                return self._stages[key]
        stage = get_stage_class(name)(config)
        stage.setup()  # outside the lock: loading one model does not hold up requests for others
        with self._lock:
            entry = self._stages.setdefault(key, (stage, threading.Lock()))
            while len(self._stages) > self.max_stages:
                self._stages.popitem(last=False)
            return entry

    def perceive(self, image: np.ndarray, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None,
                 *, source_id: str = "request", meta: Mapping[str, Any] | None = None) -> Frame:
        """Run ``stages`` in order on one (H, W, 3) uint8 RGB image."""
        configs = self.configs(stages, options)
        frame = Frame(source_id, 0, image=image, meta=dict(meta or {}))
        for name, config in configs:
            stage, lock = self._stage(name, config)
            with lock:  # a stage instance serves one call at a time
                stage([frame])
        return frame


def _plain(config: Any) -> Any:
    import dataclasses

    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
