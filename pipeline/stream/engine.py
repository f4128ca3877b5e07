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

The rebuild-run-delta step is the one stage runner the batch engine uses too
(:mod:`sensorium.pipeline.runner`); actors' CPUs and GPUs come from the one planner
(:func:`sensorium.pipeline.cluster.plan_resources`); one ``stream`` call is a run state
(``_Run``: admit, dispatch, collect, emit) whose counters make the run summary.

Ordered stages (:attr:`Stage.ordered`: tracking, zone counts) keep state across one source's
frames, so they must see that source's frames one at a time in capture order. They come last
in a chain (``check_ordered``) and run here, in the driver, at emit time: one instance per
source, built when a ``stream`` starts, called on each frame as it leaves the reorder buffer,
which already yields every source's frames in admission order. Their answer cannot depend on
timing, actor counts or micro-batches, and they cost no Ray hop: the frame is fetched at emit
anyway, to hand it to the sinks. A frame that lost its image (a source error) or an upstream
result still goes through them: the stage skips it (recording why, for a missing result), and
the next frame it sees carries the gap in its ``seq`` and its time: a missing frame is a miss,
never a stall or a crash. What they cost is driver
time, per frame, in the stage table like any other stage (benchmarks.md, ordered stages).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import ray

from sensorium.pipeline.cluster import ActorRequest, init_ray, plan_resources
from sensorium.pipeline.runner import CallStatus, Delta, rebuild, run_stage
from sensorium.stages.base import Stage, get_stage_class
from sensorium.stages.frame import Frame
from sensorium.stages.results.zones import ZoneCounts

from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.stream.metrics import PipelineMetrics
from sensorium.pipeline.stream.reader import SourceReader
from sensorium.pipeline.stream.stop import StopRequest
from sensorium.pipeline.io.sources import Source
from sensorium.pipeline.stream.writer import SinkWriter

log = logging.getLogger(__name__)


def _split(counts: Sequence[int], refs: Sequence[Any]) -> tuple[list[Frame], list[Sequence[Delta]]]:
    """(frames, each frame's deltas) from the flat argument list ``[frame0, *deltas0, frame1, *deltas1, ...]``."""
    frames, deltas, i = [], [], 0
    for n in counts:
        frames.append(refs[i])
        deltas.append(refs[i + 1 : i + 1 + n])
        i += 1 + n
    return frames, deltas


class StageWorker:
    """Ray actor body: one stage instance, set up once, called with micro-batches."""

    def __init__(self, stage_cls: type[Stage], config: Any) -> None:
        self.stage = stage_cls(config)
        self.stage.setup()

    def ready(self) -> int:
        return os.getpid()

    def process(self, counts: list[int], *refs: Any) -> tuple:
        """``counts[i]`` deltas follow frame i in ``refs``; returns one Delta per frame + a CallStatus."""
        deltas, status = run_stage(self.stage, rebuild(*_split(counts, refs)))
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
    #: actors Ray is restarting after a crash: nothing is sent to them until they answer again
    down: set[int] = field(default_factory=set)


@dataclass
class StopReport:
    """How a run ended. ``reason``: ``"sources ended"``, ``"max_frames"``, or the stop request's
    (``"SIGINT"``, ``"SIGTERM"``). For a requested stop: the frames in flight when it came, how
    many of them were finished and emitted, how many were dropped (the drain timed out or a second
    request forced the stop), the frames read from the sources but not yet admitted (discarded),
    and how long the drain took."""

    reason: str
    requested: bool = False
    forced: bool = False
    in_flight_at_stop: int = 0
    finished_in_flight: int = 0
    dropped_in_flight: int = 0
    discarded_queued: int = 0
    drain_s: float = 0.0


@dataclass
class RunSummary:
    """What a run did: frame counts per source, drops, errors, wall time, per-stage latency,
    reconnects and failures per source, and how it stopped."""

    frames: dict[str, int]
    errors: dict[str, int]
    dropped: dict[str, int]
    source_states: dict[str, str]
    wall_s: float
    stages: dict[str, dict[str, float]]
    max_in_flight_seen: int
    sinks: dict[str, Any] = field(default_factory=dict)
    #: times each live source lost its stream and reconnected
    reconnects: dict[str, int] = field(default_factory=dict)
    #: why each failed source failed (gave up reconnecting, raised, truncated file)
    source_errors: dict[str, str] = field(default_factory=dict)
    stop: StopReport = field(default_factory=lambda: StopReport("sources ended"))
    #: each source's last zone and line counts (the ``zones`` stage's running totals), when it ran
    zones: dict[str, ZoneCounts] = field(default_factory=dict)

    @property
    def failed_sources(self) -> list[str]:
        """Sources that ended in ``error``: their frames are not the whole input."""
        return [sid for sid, state in self.source_states.items() if state == "error"]

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

    def __init__(self, config: PipelineConfig, *, metrics: PipelineMetrics | None = None, ready_timeout_s: float = 300.0,
                 shutdown_ray: bool = False, on_ray_ready: Callable[[], None] | None = None) -> None:
        """shutdown_ray: ``close`` also stops the local Ray that ``start`` started (a command-line
        run leaves no raylet behind); a Ray that was already running is never stopped.
        on_ray_ready: called once Ray is up, before the actors start (the CLI takes SIGTERM back
        from the handler ``ray.init`` sets, so a stop during a slow set-up is still clean)."""
        self.config = config
        self.metrics = metrics or PipelineMetrics()
        self.ready_timeout_s = ready_timeout_s
        self.shutdown_ray, self.on_ray_ready = shutdown_ray, on_ray_ready
        self._started_ray = False
        self._pools: list[_Pool] = []
        #: the ordered stages (the chain's tail): built per source when a stream starts, run in the driver
        self._ordered: list[tuple[StageSpec, type[Stage]]] = []
        self._started = False
        self._last_run: _Run | None = None
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
        self._started_ray = self._started_ray or not ray.is_initialized()
        init_ray(self.config.ray_address)
        if self.on_ray_ready is not None:
            self.on_ray_ready()
        if self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.config.metrics_port)
            log.warning("metrics on http://127.0.0.1:%d/metrics", self.metrics_port)
        self._ordered = [(spec, get_stage_class(spec.name)) for spec in self.config.stages if get_stage_class(spec.name).ordered]
        for spec, stage_cls, (num_cpus, num_gpus) in self._plan():
            remote = ray.remote(StageWorker).options(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=3, name=None)
            pool = _Pool(spec, stage_cls)
            for _ in range(spec.replicas):
                pool.actors.append(remote.remote(stage_cls, spec.config))  # the frozen config, built once at the edge
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

    def _plan(self) -> list[tuple[StageSpec, type[Stage], tuple[float, float]]]:
        """Each stage's spec, class and per-actor (num_cpus, num_gpus) from the one planner: what
        the spec gives, else what the stage asks (:meth:`Stage.resources`), else a share. Bad
        options and a cluster too small for every actor at once fail here, by name, not inside
        an actor or as actors pending forever."""
        classes, requests, specs = [], [], []
        for spec in self.config.stages:
            stage_cls = get_stage_class(spec.name)
            if stage_cls.ordered:
                continue  # runs in the driver (the module docstring says why)
            specs.append(spec)
            asked = stage_cls.resources(spec.config)
            cpus, gpus = spec.num_cpus, spec.num_gpus
            requests.append(ActorRequest(spec.name, spec.replicas, asked.num_cpus if cpus is None else cpus,
                                         asked.num_gpus if gpus is None else gpus, asked.wants_gpu))
            classes.append(stage_cls)
        plan = plan_resources(requests, ray.cluster_resources(), fix="replicas in the pipeline config") if requests else []
        return list(zip(specs, classes, plan))

    def actors(self) -> list[Any]:
        """Every stage actor's handle (what a supervisor checks is alive, or gone after ``close``)."""
        return [actor for pool in self._pools for actor in pool.actors]

    def close(self) -> None:
        for pool in self._pools:
            for actor in pool.actors:
                ray.kill(actor, no_restart=True)
        self._pools = []
        self._started = False
        self.metrics.close()
        if self.shutdown_ray and self._started_ray and ray.is_initialized():
            ray.shutdown()
            self._started_ray = False

    # --- running --------------------------------------------------------------------------
    def run(self, sources: Sequence[Source], sinks: Iterable[Any] = (), *, on_frame: Callable[[Frame], None] | None = None,
            max_frames: int | None = None, stop: StopRequest | None = None) -> RunSummary:
        """Stream every source through the stages into ``sinks``; returns the summary.

        ``stop``: requested (a signal, another thread), the run stops reading, finishes or drops
        the frames in flight (see :meth:`stream`), closes the sinks and still returns a summary.
        """
        writer = SinkWriter(sinks, queue_size=max(2, self.config.max_in_flight))
        start = time.perf_counter()
        try:
            for frame in self.stream(sources, max_frames=max_frames, stop=stop):
                writer.put(frame)
                if on_frame is not None:
                    on_frame(frame)
        finally:
            sink_summary = writer.close()
        return self._summary(time.perf_counter() - start, sink_summary)

    def _summary(self, wall: float, sinks: dict[str, Any]) -> RunSummary:
        run = self._last_run
        readers = run.readers if run is not None else []
        return RunSummary(
            frames={s: n for s, n in run.frames.items() if n} if run is not None else {},
            errors={s: n for s, n in run.errors.items() if n} if run is not None else {},
            dropped={r.source.source_id: r.dropped for r in readers},
            source_states={r.source.source_id: r.state.value for r in readers},
            wall_s=wall, stages=self.metrics.stage_summary(), max_in_flight_seen=self.metrics.max_in_flight_seen, sinks=sinks,
            reconnects={r.source.source_id: r.source.reconnects for r in readers if r.source.live},
            source_errors={r.source.source_id: r.error or "failed" for r in readers if r.state.value == "error"},
            stop=run.stop_report if run is not None else StopReport("sources ended"),
            zones=dict(run.zones) if run is not None else {},
        )

    def stream(self, sources: Sequence[Source], *, max_frames: int | None = None, readers_out: list | None = None,
               stop: StopRequest | None = None) -> Iterator[Frame]:
        """Yield processed frames, in admission order per source, as they complete.

        Once ``stop`` is requested no source is read any more (frames read but not admitted are
        discarded); the frames in flight go on through the stages and are yielded, until none is
        left or the drain ends (``stop.drain_timeout_s``, or a second request): the rest are
        dropped. The run's :class:`StopReport` counts each kind."""
        if not self._started:
            self.start()
        ids = [s.source_id for s in sources]
        if len(set(ids)) != len(ids):
            raise ValueError(f"source ids must be unique, got {ids}")
        cfg = self.config
        readers = [SourceReader(s, queue_size=cfg.source_queue, drop_policy=cfg.drop_policy) for s in sources]
        if readers_out is not None:
            readers_out.extend(readers)
        run = self._last_run = _Run(self._pools, readers, self.metrics, cfg.max_in_flight, max_frames, self._ordered)
        for r in readers:
            r.start()
        try:
            while True:
                if stop is not None and stop.requested:
                    run.begin_stop(stop)
                    if stop.drain_expired():
                        run.abandon(stop)
                        break
                run.admit()
                if run.finished():
                    run.end(stop)
                    break
                run.dispatch()
                run.collect()
                for frame in run.emit():
                    yield frame
                    if stop is not None and stop.requested:
                        break  # the finished frames not yet yielded count as in flight at the stop
        finally:
            for r in readers:
                r.stop()
            run.publish_sources()


class _Run:
    """The state of one :meth:`Pipeline.stream`: per-stage queues, calls in flight, the reorder
    buffer and the per-source counters the run summary is made of.

    One turn of the loop: :meth:`admit` frames from the sources while the in-flight bound
    allows, :meth:`dispatch` micro-batches to actors with spare call slots, :meth:`collect`
    finished calls (waiting for one, a batch deadline or new input), :meth:`emit` frames in
    admission order per source."""

    def __init__(self, pools: list[_Pool], readers: list[SourceReader], metrics: PipelineMetrics, max_in_flight: int, max_frames: int | None,
                 ordered: Sequence[tuple[StageSpec, type[Stage]]] = ()) -> None:
        self.pools, self.readers, self.metrics = pools, readers, metrics
        self.max_in_flight, self.max_frames = max_in_flight, max_frames
        ids = [r.source.source_id for r in readers]
        self.queues: list[deque[_Item]] = [deque() for _ in pools]
        self.pending: dict[Any, _Call] = {}
        self.probes: dict[Any, tuple[int, int]] = {}  # ready() call → (stage, actor) of a restarting actor
        self.admitted = {sid: 0 for sid in ids}
        self.next_index = {sid: 0 for sid in ids}
        self.done: dict[str, dict[int, _Item]] = {sid: {} for sid in ids}
        #: frames emitted per source, and how many of them carry an error (the run summary)
        self.frames = {sid: 0 for sid in ids}
        self.errors = {sid: 0 for sid in ids}
        self.in_flight = self.total_admitted = self.rr = 0
        self.sources_done = False
        self.next_deadline: float | None = None
        self.stopping = False
        self.stop_report = StopReport("sources ended")
        self._reconnects_seen = {sid: 0 for sid in ids}
        #: each source's own instances of the ordered stages, in chain order (their state is that source's)
        self.ordered: dict[str, list[Stage]] = {sid: [stage_cls(spec.config) for spec, stage_cls in ordered] for sid in ids}
        for stages in self.ordered.values():
            for stage in stages:
                stage.setup()
        self.zones: dict[str, ZoneCounts] = {}

    def begin_stop(self, stop: StopRequest) -> None:
        """On the first turn after a stop request: stop every reader (without waiting for one
        inside a read), discard what they queued, admit nothing more."""
        if self.stopping:
            return
        self.stopping = self.sources_done = True
        discarded = 0
        for r in self.readers:
            r.stop(timeout=0)
            while r.get(timeout=0) is not None:
                discarded += 1
        self.stop_report = StopReport(stop.reason or "stop requested", requested=True, in_flight_at_stop=self.in_flight,
                                      discarded_queued=discarded)
        log.warning("stop (%s): %d frame(s) in flight to finish, %d read but not admitted discarded", stop.reason, self.in_flight, discarded)

    def abandon(self, stop: StopRequest) -> None:
        """The drain is over (timed out or forced): count the frames still in flight as dropped."""
        self.end(stop)
        self.stop_report.dropped_in_flight = self.in_flight
        self.stop_report.finished_in_flight -= self.in_flight
        log.warning("stop (%s): dropped %d frame(s) still in flight%s", stop.reason, self.in_flight,
                    " (stopped again)" if stop.forced else f" after the {stop.drain_timeout_s:g} s drain")

    def end(self, stop: StopRequest | None) -> None:
        """Fill the stop report as the run ends."""
        report = self.stop_report
        if report.requested and stop is not None:
            report.forced = stop.forced
            report.finished_in_flight = report.in_flight_at_stop
            report.drain_s = time.monotonic() - (stop.requested_at or time.monotonic())
        elif self._max_reached():
            report.reason = "max_frames"

    def admit(self) -> None:
        """Take frames from the sources, round robin, while the in-flight bound allows."""
        if self.stopping:
            self.metrics.observe_in_flight(self.in_flight)
            return
        stalled = 0
        while self.in_flight < self.max_in_flight and stalled < len(self.readers) and not self._max_reached():
            reader = self.readers[self.rr % len(self.readers)]
            self.rr += 1
            frame = reader.get(timeout=0)
            if frame is None:
                stalled += 1
                continue
            stalled = 0
            sid = reader.source.source_id
            item = _Item(sid, self.admitted[sid], frame.key, ray.put(frame), time.perf_counter())
            if self.pools:
                self.queues[0].append(item)
            else:  # only ordered stages: straight to the reorder buffer, they run at emit
                self.done[sid][item.index] = item
            self.admitted[sid] += 1
            self.total_admitted += 1
            self.in_flight += 1
        self.metrics.observe_in_flight(self.in_flight)
        self.sources_done = all(r.finished for r in self.readers) or self._max_reached()

    def _max_reached(self) -> bool:
        return self.max_frames is not None and self.total_admitted >= self.max_frames

    def finished(self) -> bool:
        return self.sources_done and self.in_flight == 0

    def dispatch(self) -> None:
        """Send each stage's queued frames to its least loaded actor: a full batch, or a partial
        one whose wait is over or that nothing upstream can add to any more."""
        now = time.perf_counter()
        self.next_deadline = None
        for i, pool in enumerate(self.pools):
            q, spec = self.queues[i], pool.spec
            upstream_busy = (not self.sources_done) or any(self.queues[j] for j in range(i)) or any(c.stage < i for c in self.pending.values())
            while q:
                waited = (now - q[0].queued_at) * 1e3 >= spec.max_wait_ms
                if not (len(q) >= spec.max_batch or waited or not upstream_busy):
                    deadline = q[0].queued_at + spec.max_wait_ms / 1e3
                    self.next_deadline = deadline if self.next_deadline is None else min(self.next_deadline, deadline)
                    break
                up = [a for a in range(len(pool.actors)) if a not in pool.down]
                a = min(up, key=pool.load.__getitem__) if up else -1
                if a < 0 or pool.load[a] >= spec.calls_per_actor:
                    break
                batch = [q.popleft() for _ in range(min(spec.max_batch, len(q)))]
                flat = [r for it in batch for r in (it.ref, *it.deltas)]
                refs = pool.actors[a].process.options(num_returns=len(batch) + 1).remote([len(it.deltas) for it in batch], *flat)
                pool.load[a] += 1
                self.pending[refs[-1]] = _Call(i, a, batch, list(refs[:-1]), now)
            self.metrics.queue_depth.labels(spec.name).set(len(q))

    def collect(self) -> None:
        """Wait for calls to finish (or a batch deadline / new input) and move their frames on."""
        if not self.pending and not self.probes:
            wait = 0.001 if self.next_deadline is None else max(min(self.next_deadline - time.perf_counter(), 0.005), 0)
            time.sleep(wait)
            return
        # Poll the readers often only while a new frame could be admitted; otherwise sleep in
        # ray.wait until a call finishes or a batch deadline passes (a busy driver steals CPU
        # from the stage actors on small machines).
        can_admit = not self.sources_done and self.in_flight < self.max_in_flight
        timeout = 0.002 if can_admit else 0.05
        if self.next_deadline is not None:
            timeout = min(timeout, max(self.next_deadline - time.perf_counter(), 0.0))
        pending = [*self.pending, *self.probes]
        ready, _ = ray.wait(pending, num_returns=1, timeout=timeout)
        if ready and len(pending) > 1:
            ready += ray.wait([r for r in pending if r not in ready], num_returns=len(pending) - 1, timeout=0)[0]
        for ref in ready:
            if ref in self.probes:
                self._probed(*self.probes.pop(ref), ref)
            else:
                self._finish(self.pending.pop(ref), ref)

    def _probe(self, stage: int, actor: int) -> None:
        """Send nothing to a crashed actor that Ray restarts until it answers ``ready`` (frames
        sent meanwhile would fail as 'actor unavailable')."""
        self.pools[stage].down.add(actor)
        self.probes[self.pools[stage].actors[actor].ready.remote()] = (stage, actor)

    def _probed(self, stage: int, actor: int, ref: Any) -> None:
        try:
            ray.get(ref)
        except ray.exceptions.ActorUnavailableError:
            self._probe(stage, actor)  # still restarting: ask again
            return
        except ray.exceptions.RayActorError:
            pass  # gone for good: calls to it fail at once and are recorded on their frames
        self.pools[stage].down.discard(actor)

    def _finish(self, call: _Call, status_ref: Any) -> None:
        pool = self.pools[call.stage]
        pool.load[call.actor] -= 1
        name = pool.spec.name
        try:
            status: CallStatus = ray.get(status_ref)
            for item, ref in zip(call.items, call.out_refs):
                item.deltas.append(ref)
            self.metrics.observe_call(name, status.per_frame_s, time.perf_counter() - call.sent_at, status.compute_s)
            for err in status.errors:
                if err:
                    self.metrics.stage_errors.labels(name).inc()
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError, ray.exceptions.ObjectLostError) as exc:
            # The worker died or raised outside the stage's own error handling: the frames keep
            # flowing with the failure recorded, so nothing is lost and order is kept.
            log.error("stage %s worker failed on a batch of %d: %s", name, len(call.items), exc)
            if isinstance(exc, ray.exceptions.ActorUnavailableError) and call.actor not in pool.down:
                self._probe(call.stage, call.actor)
            for item in call.items:
                item.deltas.append(ray.put(Delta(name, error=f"{item.key}: {name}: worker failed: {type(exc).__name__}")))
                self.metrics.stage_errors.labels(name).inc()
        now = time.perf_counter()
        last = call.stage + 1 == len(self.pools)
        for item in call.items:
            if last:
                self.done[item.source_id][item.index] = item
            else:
                item.queued_at = now
                self.queues[call.stage + 1].append(item)

    def emit(self) -> Iterator[Frame]:
        """Yield the finished frames that are next in admission order of their source, each
        joined with its stages' deltas; count them and publish the sources' state."""
        for sid, buf in self.done.items():
            while self.next_index[sid] in buf:
                item = buf.pop(self.next_index[sid])
                self.next_index[sid] += 1
                self.in_flight -= 1
                frame, *deltas = ray.get([item.ref, *item.deltas])
                (frame,) = rebuild([frame], [deltas])
                self._run_ordered(frame)
                self.frames[sid] += 1
                self.errors[sid] += not frame.ok
                self.metrics.observe_emit(sid, frame.ok)
                yield frame
        self.publish_sources()

    def _run_ordered(self, frame: Frame) -> None:
        """Run this source's ordered stages on ``frame`` (the next one of its source, in capture
        order), in the driver; their time and errors go to the stage metrics like any stage's."""
        for stage in self.ordered[frame.source_id]:
            start = time.perf_counter()
            try:
                _deltas, status = run_stage(stage, [frame])
            except Exception as exc:  # noqa: BLE001 - the stage's own bookkeeping failed: recorded on the frame, the run goes on
                log.exception("ordered stage %s failed on %s", stage.name, frame.key)
                Delta(stage.name, error=f"{frame.key}: {stage.name}: {type(exc).__name__}: {exc}").apply(frame)
                self.metrics.stage_errors.labels(stage.name).inc()
                continue
            self.metrics.observe_call(stage.name, status.per_frame_s, time.perf_counter() - start, status.compute_s)
            if status.errors[0]:
                self.metrics.stage_errors.labels(stage.name).inc()
        for result in frame.results.values():
            if isinstance(result, ZoneCounts):
                self.zones[frame.source_id] = result
                self.metrics.observe_zones(frame.source_id, result)

    def publish_sources(self) -> None:
        """Each source's drops, state and new reconnects to the Prometheus series."""
        for r in self.readers:
            sid = r.source.source_id
            self.metrics.dropped.labels(sid).set(r.dropped)
            for state in ("connecting", "running", "reconnecting", "ended", "error"):
                self.metrics.source_state.labels(sid, state).set(1.0 if r.state.value == state else 0.0)
            new = r.source.reconnects - self._reconnects_seen[sid]
            if new > 0:
                self.metrics.reconnects.labels(sid).inc(new)
                self._reconnects_seen[sid] = r.source.reconnects
