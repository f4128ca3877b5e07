"""Ordered stages in the Ray engine (real local Ray): one instance per source, that source's
frames one at a time in capture order, whatever the actors, micro-batches and in-flight bound.

``Mover`` (a parallel stage, slow on even frames so completions come out of order) turns each
frame's seq into Tracks moving across the image; ``Witness`` (ordered) records what it saw;
the real ``zones`` stage counts the moving tracks across a line.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sources import ImageFilesSource
from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.stream.engine import Pipeline
from sensorium.stages.base import Stage, register_stage
from sensorium.stages.config import StageConfig
from sensorium.stages.results import Embeddings, Tracks

N = 24  # frames per source; 200 x 100 px images


@dataclass(frozen=True)
class MoverConfig(StageConfig):
    slow_even_ms: float = 0.0


class Mover(Stage):
    """Tracks from the frame's seq: track 1 moves right 10 px a frame from x=5, track 2 left from x=195."""

    name = "mover"
    Config = MoverConfig

    def process(self, frames):
        out = []
        for f in frames:
            time.sleep(self.config.slow_even_ms / 1e3 if f.seq % 2 == 0 else 0.0)
            x = np.array([5 + 10 * f.seq, 195 - 10 * f.seq], np.float32)
            boxes = np.stack([x - 4, np.full(2, 40), x + 4, np.full(2, 60)], axis=1).astype(np.float32)
            out.append(Tracks(track_id=np.array([1, 2]), boxes=boxes, scores=np.ones(2, np.float32), class_id=np.zeros(2, np.int64),
                              state=np.zeros(2, np.int64), item=np.arange(2), age=np.full(2, f.seq), of="detect",
                              metadata={"done": time.time()}))
        return out


class Witness(Stage):
    """Ordered: answers (frames seen by this instance, this seq, the previous seq it saw, id of the instance)."""

    name = "witness"
    ordered = True

    def setup(self):
        self.seen: list[int] = []
        super().setup()

    def check(self, frame):
        pass  # no image needed: it only counts

    def process(self, frames):
        out = []
        for f in frames:
            prev = self.seen[-1] if self.seen else -1
            self.seen.append(f.seq)
            out.append(Embeddings(vectors=np.array([[len(self.seen), f.seq, prev, id(self) % 100003]], np.float32)))
        return out


register_stage(Mover)
register_stage(Witness)


@pytest.fixture(scope="module", autouse=True)
def _ship_test_stages(ray_cluster):
    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frames")
    for i in range(N):
        img = np.full((100, 200, 3), 40 + 8 * i, np.uint8)
        cv2.imwrite(str(out / f"f_{i:03d}.png"), img)
    return out


def _sources(folder, ids=("a", "b")):
    return [ImageFilesSource.from_folder(folder, source_id=sid) for sid in ids]


ZONES = {"tracks": "mover", "lines": {sid: [{"name": "gate", "start": [100, 0], "end": [100, 100]}] for sid in ("a", "b")},
         "zones": {"a": [{"name": "right", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}]}}


def _config(replicas=2, max_batch=3, max_in_flight=8, stages=("mover", "witness", "zones")):
    specs = {"mover": StageSpec("mover", {"slow_even_ms": 15}, replicas=replicas, num_cpus=0.25, max_batch=max_batch),
             "witness": StageSpec("witness"), "zones": StageSpec("zones", ZONES)}
    return PipelineConfig(stages=tuple(specs[s] for s in stages), max_in_flight=max_in_flight)


def _stream(cfg, sources):
    with Pipeline(cfg) as p:
        frames = list(p.stream(sources))
    return frames, p


def test_ordered_stage_sees_each_source_in_seq_order_with_its_own_instance(folder):
    frames, p = _stream(_config(), _sources(folder))
    done = [f.results["mover"].metadata["done"] for f in frames if f.source_id == "a"]
    assert done != sorted(done), "the parallel stage finished in order: the test did not exercise reordering"
    for sid in ("a", "b"):
        mine = [f for f in frames if f.source_id == sid]
        assert [f.seq for f in mine] == list(range(N))
        w = np.stack([f.results["witness"].vectors[0] for f in mine])
        assert w[:, 0].tolist() == list(range(1, N + 1))  # this source's own count: no frame of the other source reached it
        assert w[:, 2].tolist() == list(range(-1, N - 1))  # one at a time, each after the one before it
        assert len(set(w[:, 3].tolist())) == 1
    instances = {f.source_id: int(f.results["witness"].vectors[0, 3]) for f in frames}
    assert instances["a"] != instances["b"]
    assert p.metrics.stage_summary()["witness"]["calls"] == 2 * N


def test_zone_counts_do_not_depend_on_actors_batches_or_in_flight(folder):
    runs = []
    for replicas, max_batch, in_flight in ((1, 1, 1), (2, 4, 8), (2, 2, 16)):
        frames, p = _stream(_config(replicas, max_batch, in_flight), _sources(folder))
        runs.append({(f.source_id, f.seq): f.results["zones"] for f in frames})
    assert runs[0] == runs[1] == runs[2]
    last_a = runs[0][("a", N - 1)]
    # track 1 walks right across x=100 (in), into the right half and out of the image (x=235 at the end);
    # track 2, first seen inside the right half (not an entry), walks left across the line (out)
    assert last_a.totals() == {"zones": {"right": {"inside": 0, "entered": 1, "left": 2}}, "lines": {"gate": {"in": 1, "out": 1}}}
    crossing = [seq for (sid, seq), c in runs[0].items() if sid == "a" and c.lines[0].crossed_in]
    assert crossing == [10]  # box [x-4, x+4] wholly right of x=100 first at x = 105
    summary_zones = p._summary(1.0, {}).zones
    assert summary_zones["b"].totals()["lines"] == {"gate": {"in": 1, "out": 1}}
    reg = p.metrics.registry
    assert reg.get_sample_value("sensorium_line_crossings_total", {"source": "a", "line": "gate", "direction": "in"}) == 1
    assert reg.get_sample_value("sensorium_zone_entries_total", {"source": "a", "zone": "right"}) == 1
    assert reg.get_sample_value("sensorium_zone_exits_total", {"source": "a", "zone": "right"}) == 2
    assert reg.get_sample_value("sensorium_zone_tracks", {"source": "a", "zone": "right"}) == 0


def test_a_frame_that_failed_upstream_still_reaches_the_ordered_stages(folder, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in sorted(folder.glob("*.png"))[:8]:
        (mixed / p.name).write_bytes(p.read_bytes())
    (mixed / "f_003.png").write_bytes(b"not a png")
    frames, _ = _stream(_config(stages=("mover", "witness", "zones")), _sources(mixed, ("a",)))
    assert [f.seq for f in frames] == list(range(8))
    assert "source" in frames[3].errors and "witness" not in frames[3].results
    seen = [f.results["witness"].vectors[0, 1:3].tolist() for f in frames if "witness" in f.results]
    assert seen[3] == [4, 2]  # the frame after the gap knows what it missed: seq 4 after seq 2


def test_a_chain_of_ordered_stages_only(folder):
    cfg = PipelineConfig(stages=(StageSpec("witness"),), max_in_flight=4)
    frames, _ = _stream(cfg, _sources(folder, ("a",)))
    assert [int(f.results["witness"].vectors[0, 1]) for f in frames] == list(range(N))
