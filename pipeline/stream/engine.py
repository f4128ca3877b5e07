"""The Ray stage pipeline: every stage in its own actor pool, frames pipelined through the chain.

Flow: source readers (threads) → admission (bounded in-flight) → per-stage queues →
micro-batches dispatched to free actors → next stage's queue → reorder buffer → frames out in
order per source.

Frames travel as Ray object refs and are put in the object store once, at admission. A stage
call returns, per frame, only what that stage added (a :class:`Delta`: its result, error and
timing), so a hop never re-serialises the images or earlier stages' results; the next stage
receives the admitted frame plus the deltas before it and rebuilds the frame in its actor.
Image data never passes through the driver between stages. Each call also returns a small
status object (compute time, per-frame errors) that the driver fetches for metrics; only at
the end are a frame and its deltas fetched and joined, to hand them to the sinks.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import ray

from sensorium.pipeline.cluster import init_ray
from sensorium.stages.base import Stage, config_from_dict, get_stage_class
from sensorium.stages.frame import Frame

from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.stream.metrics import PipelineMetrics
from sensorium.pipeline.stream.reader import SourceReader
from sensorium.pipeline.io.sources import Source
from sensorium.pipeline.stream.writer import SinkWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delta:
    """What one stage added to one frame: its result, its error, its time (any may be None)."""

    stage: str
    result: Any = None
    error: str | None = None
    seconds: float | None = None

    def apply(self, frame: Frame) -> Frame:
        if self.result is not None:
            frame.results[self.stage] = self.result
        if self.error is not None:
            frame.errors[self.stage] = self.error
        if self.seconds is not None:
            frame.timings[self.stage] = self.seconds
        return frame


def _rebuild(counts: Sequence[int], refs: Sequence[Any]) -> list[Frame]:
    """Frames from the flat argument list ``[frame0, *deltas0, frame1, *deltas1, ...]``."""
    frames, i = [], 0
    for n in counts:
        frame = refs[i]
        for delta in refs[i + 1 : i + 1 + n]:
            delta.apply(frame)
        frames.append(frame)
        i += 1 + n
    return frames


class StageWorker:
    """Ray actor body: one stage instance, set up once, called with micro-batches."""

    def __init__(self, stage_cls: type[Stage], options: dict[str, Any]) -> None:
        self.stage = stage_cls(options)
        self.stage.setup()

    def ready(self) -> int:
        return os.getpid()

    def process(self, counts: list[int], *refs: Any) -> tuple:
        """``counts[i]`` deltas follow frame i in ``refs``; returns one Delta per frame + status."""
        frames = _rebuild(counts, refs)
        start = time.perf_counter()
        out = self.stage(frames)
        compute = time.perf_counter() - start
        name = self.stage.name
        deltas = [Delta(name, f.results.get(name), f.errors.get(name), f.timings.get(name)) for f in out]
        status = {
            "compute_s": compute,
            "per_frame_s": [f.timings.get(name, compute / len(out)) for f in out],
            "errors": [d.error for d in deltas],
        }
        return (*deltas, status)


@dataclass
class _Item:
    """A frame in flight: its source, admission index (the order it must come out in), the ref
    of the admitted frame and the refs of the deltas the stages so far added."""

    source_id: str
    index: int
    key: str
    ref: Any
    queued_at: float = 0.0
    deltas: list[Any] = field(default_factory=list)


@dataclass
class _Call:
    stage: int
    actor: int
    items: list[_Item]
    out_refs: list[Any]
    sent_at: float


@dataclass
class _Pool:
    spec: StageSpec
    stage_cls: type[Stage]
    actors: list[Any] = field(default_factory=list)
    load: list[int] = field(default_factory=list)


@dataclass
class RunSummary:
    """What a run did: frame counts per source, drops, errors, wall time, per-stage latency."""

    frames: dict[str, int]
    errors: dict[str, int]
    dropped: dict[str, int]
    source_states: dict[str, str]
    wall_s: float
    stages: dict[str, dict[str, float]]
    max_in_flight_seen: int
    sinks: dict[str, Any] = field(default_factory=dict)

    @property
    def total_frames(self) -> int:
        return sum(self.frames.values())

    @property
    def fps(self) -> float:
        return self.total_frames / self.wall_s if self.wall_s > 0 else 0.0


class Pipeline:
    """Runs a chain of stages over sources on Ray.

    ``with Pipeline(config) as p: for frame in p.stream(sources): ...`` yields every admitted
    frame once, in admission order per source, with each stage's result (or error) on it.
    """

    def __init__(self, config: PipelineConfig, *, metrics: PipelineMetrics | None = None, ready_timeout_s: float = 300.0) -> None:
        self.config = config
        self.metrics = metrics or PipelineMetrics()
        self.ready_timeout_s = ready_timeout_s
        self._pools: list[_Pool] = []
        self._started = False
        #: the port /metrics is served on (``config.metrics_port``; 0 picks a free one)
        self.metrics_port: int | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "Pipeline":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start Ray if needed, create every stage's actors and wait until they are set up."""
        if self._started:
            return
        init_ray(self.config.ray_address)
        if self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.config.metrics_port)
            log.warning("metrics on http://127.0.0.1:%d/metrics", self.metrics_port)
        cluster = ray.cluster_resources()
        for res, key in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
            need = sum(getattr(s, res) * s.replicas for s in self.config.stages)
            if need > cluster.get(key, 0) + 1e-9:
                # every actor must hold its resources at once: a shortfall would leave actors
                # pending forever, so say so now instead of timing out
                raise ValueError(f"the stages' actors need {res}={need:g} together; the cluster has {key}={cluster.get(key, 0):g}: "
                                 f"lower {res} or replicas in the pipeline config")
        for spec in self.config.stages:
            stage_cls = get_stage_class(spec.name)
            config_from_dict(stage_cls.Config, spec.options)  # bad options fail here, naming the key, not inside an actor
            if spec.num_cpus > cluster.get("CPU", 0) or spec.num_gpus > cluster.get("GPU", 0):
                raise ValueError(
                    f"stage {spec.name}: one actor needs num_cpus={spec.num_cpus}, num_gpus={spec.num_gpus}; "
                    f"the cluster has CPU={cluster.get('CPU', 0)}, GPU={cluster.get('GPU', 0)}"
                )
            remote = ray.remote(StageWorker).options(
                num_cpus=spec.num_cpus, num_gpus=spec.num_gpus, max_restarts=3, name=None,
            )
            pool = _Pool(spec, stage_cls)
            for _ in range(spec.replicas):
                pool.actors.append(remote.remote(stage_cls, dict(spec.options)))
                pool.load.append(0)
            self._pools.append(pool)
        waits = {a.ready.remote(): p.spec.name for p in self._pools for a in p.actors}
        ready, not_ready = ray.wait(list(waits), num_returns=len(waits), timeout=self.ready_timeout_s)
        if not_ready:
            names = sorted({waits[r] for r in not_ready})
            self.close()
            raise TimeoutError(f"stage actor(s) {', '.join(names)} not ready after {self.ready_timeout_s:.0f} s (not enough Ray resources?)")
        try:
            ray.get(ready)
        except ray.exceptions.RayActorError as exc:
            self.close()
            raise RuntimeError(f"a stage failed to set up: {exc}") from None
        self._started = True

    def close(self) -> None:
        for pool in self._pools:
            for actor in pool.actors:
                ray.kill(actor, no_restart=True)
        self._pools = []
        self._started = False
        self.metrics.close()

    # --- running --------------------------------------------------------------------------
    def run(self, sources: Sequence[Source], sinks: Iterable[Any] = (), *, on_frame: Callable[[Frame], None] | None = None, max_frames: int | None = None) -> RunSummary:
        """Stream every source through the stages into ``sinks``; returns the summary."""
        writer = SinkWriter(sinks, queue_size=max(2, self.config.max_in_flight))
        start = time.perf_counter()
        readers: list[SourceReader] = []
        try:
            for frame in self.stream(sources, max_frames=max_frames, readers_out=readers):
                writer.put(frame)
                if on_frame is not None:
                    on_frame(frame)
        finally:
            sink_summary = writer.close()
        return self._summary(readers, time.perf_counter() - start, sink_summary)

    def _summary(self, readers: list[SourceReader], wall: float, sinks: dict[str, Any]) -> RunSummary:
        m = self.metrics
        frames, errors = {}, {}
        for metric in m.frames.collect():
            for s in metric.samples:
                if s.name.endswith("_total"):
                    src, status = s.labels["source"], s.labels["status"]
                    frames[src] = frames.get(src, 0) + int(s.value)
                    if status == "error":
                        errors[src] = errors.get(src, 0) + int(s.value)
        return RunSummary(
            frames=frames, errors=errors,
            dropped={r.source.source_id: r.dropped for r in readers},
            source_states={r.source.source_id: r.state.value for r in readers},
            wall_s=wall, stages=m.stage_summary(), max_in_flight_seen=m.max_in_flight_seen, sinks=sinks,
        )

    def stream(self, sources: Sequence[Source], *, max_frames: int | None = None, readers_out: list | None = None) -> Iterator[Frame]:
        """Yield processed frames, in admission order per source, as they complete."""
        if not self._started:
            self.start()
        cfg = self.config
        ids = [s.source_id for s in sources]
        if len(set(ids)) != len(ids):
            raise ValueError(f"source ids must be unique, got {ids}")
        readers = [SourceReader(s, queue_size=cfg.source_queue, drop_policy=cfg.drop_policy) for s in sources]
        if readers_out is not None:
            readers_out.extend(readers)
        for r in readers:
            r.start()
        n_stages = len(self._pools)
        queues: list[deque[_Item]] = [deque() for _ in range(n_stages)]
        pending: dict[Any, _Call] = {}
        next_index = {sid: 0 for sid in ids}
        admitted = {sid: 0 for sid in ids}
        done: dict[str, dict[int, _Item]] = {sid: {} for sid in ids}
        in_flight = 0
        total_admitted = 0
        rr = 0
        try:
            while True:
                # 1. admit from sources, round robin, while the in-flight bound allows
                stalled = 0
                while in_flight < cfg.max_in_flight and stalled < len(readers) and (max_frames is None or total_admitted < max_frames):
                    reader = readers[rr % len(readers)]
                    rr += 1
                    frame = reader.get(timeout=0)
                    if frame is None:
                        stalled += 1
                        continue
                    stalled = 0
                    sid = reader.source.source_id
                    item = _Item(sid, admitted[sid], frame.key, ray.put(frame), time.perf_counter())
                    admitted[sid] += 1
                    total_admitted += 1
                    in_flight += 1
                    queues[0].append(item)
                self.metrics.observe_in_flight(in_flight)
                sources_done = all(r.finished for r in readers) or (max_frames is not None and total_admitted >= max_frames)
                if sources_done and in_flight == 0:
                    break

                # 2. dispatch micro-batches to actors with spare call slots
                now = time.perf_counter()
                next_deadline = None
                for i, pool in enumerate(self._pools):
                    q = queues[i]
                    upstream_busy = (not sources_done) or any(queues[j] for j in range(i)) or any(c.stage < i for c in pending.values())
                    while q:
                        spec = pool.spec
                        full = len(q) >= spec.max_batch
                        waited = (now - q[0].queued_at) * 1e3 >= spec.max_wait_ms
                        if not (full or waited or not upstream_busy):
                            deadline = q[0].queued_at + spec.max_wait_ms / 1e3
                            next_deadline = deadline if next_deadline is None else min(next_deadline, deadline)
                            break
                        a = min(range(len(pool.actors)), key=pool.load.__getitem__)
                        if pool.load[a] >= spec.calls_per_actor:
                            break
                        batch = [q.popleft() for _ in range(min(spec.max_batch, len(q)))]
                        flat = [r for it in batch for r in (it.ref, *it.deltas)]
                        refs = pool.actors[a].process.options(num_returns=len(batch) + 1).remote([len(it.deltas) for it in batch], *flat)
                        pool.load[a] += 1
                        pending[refs[-1]] = _Call(i, a, batch, list(refs[:-1]), now)
                    self.metrics.queue_depth.labels(pool.spec.name).set(len(q))

                # 3. wait for a call to finish (or a batch deadline / new input)
                if pending:
                    # Poll the readers often only while a new frame could be admitted; otherwise
                    # sleep in ray.wait until a call finishes or a batch deadline passes (a busy
                    # driver steals CPU from the stage actors on small machines).
                    can_admit = not sources_done and in_flight < cfg.max_in_flight
                    timeout = 0.002 if can_admit else 0.05
                    if next_deadline is not None:
                        timeout = min(timeout, max(next_deadline - time.perf_counter(), 0.0))
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
                    if ready:
                        ready += ray.wait([r for r in pending if r not in ready], num_returns=len(pending) - 1, timeout=0)[0] if len(pending) > 1 else []
                    for status_ref in ready:
                        self._finish(pending.pop(status_ref), status_ref, queues, done)
                else:
                    time.sleep(0.001 if next_deadline is None else max(min(next_deadline - time.perf_counter(), 0.005), 0))

                # 4. emit in order per source
                for sid in ids:
                    buf = done[sid]
                    while next_index[sid] in buf:
                        item = buf.pop(next_index[sid])
                        next_index[sid] += 1
                        in_flight -= 1
                        frame, *deltas = ray.get([item.ref, *item.deltas])
                        for delta in deltas:
                            delta.apply(frame)
                        self.metrics.observe_emit(sid, frame.ok)
                        yield frame
                for r in readers:
                    sid = r.source.source_id
                    self.metrics.dropped.labels(sid).set(r.dropped)
                    for state in ("connecting", "running", "reconnecting", "ended", "error"):
                        self.metrics.source_state.labels(sid, state).set(1.0 if r.state.value == state else 0.0)
        finally:
            for r in readers:
                r.stop()

    def _finish(self, call: _Call, status_ref: Any, queues: list[deque[_Item]], done: dict[str, dict[int, _Item]]) -> None:
        pool = self._pools[call.stage]
        pool.load[call.actor] -= 1
        name = pool.spec.name
        try:
            status = ray.get(status_ref)
            for item, ref in zip(call.items, call.out_refs):
                item.deltas.append(ref)
            self.metrics.observe_call(name, status["per_frame_s"], time.perf_counter() - call.sent_at, status["compute_s"])
            for err in status["errors"]:
                if err:
                    self.metrics.stage_errors.labels(name).inc()
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError, ray.exceptions.ObjectLostError) as exc:
            # The worker died or raised outside the stage's own error handling: the frames keep
            # flowing with the failure recorded, so nothing is lost and order is kept.
            log.error("stage %s worker failed on a batch of %d: %s", name, len(call.items), exc)
            for item in call.items:
                item.deltas.append(ray.put(Delta(name, error=f"{item.key}: {name}: worker failed: {type(exc).__name__}")))
                self.metrics.stage_errors.labels(name).inc()
        now = time.perf_counter()
        if call.stage + 1 < len(self._pools):
            for item in call.items:
                item.queued_at = now
                queues[call.stage + 1].append(item)
        else:
            for item in call.items:
                done[item.source_id][item.index] = item
