"""Landmark models: onnxruntime vs the LiteRT interpreter, and the pose / face+gaze stages per VGA frame.

    SENSORIUM_DATA=/path/to/data python benchmarks/gaze_pose.py [--rounds 60] [--threads 1,2]
        [--stage-rounds 8] [--set pose.tiles=2] [--profile mediapipe_pose_landmark_full] [--previous CACHE/mediapipe]

Part 1, per model: MediaPipe's .tflite files on the LiteRT interpreter (``ai_edge_litert``)
against our ONNX conversions (``models/arch/mediapipe/files.onnx_file``) on onnxruntime's CPU
provider, with the same thread count, on real inputs made the way the stages make them: the
face detector (128x128) and the face mesh (192x192) on ``faces/lin-manuel-miranda.png``, the
iris model (64x64) on both eyes of that mesh, the pose detector (224x224) and the pose landmark
model (256x256) on ``photos/zidane.jpg``. The sessions are the stages' own (``OnnxModel`` with
``RuntimeConfig``: idle threads do not spin); with 2 threads onnxruntime is also timed with
spinning on, which is what LiteRT's thread pool does. Calls are interleaved (A B A B ...: one
call of every variant per round) so a noisy neighbour hurts all alike; median, 10th..90th
percentile. Per face = face mesh + 2 x iris; per person = pose landmarks; per frame = the
detector. The ratio is LiteRT's median over onnxruntime's (> 1: onnxruntime is faster).

Part 2, per VGA frame (640x480) with 1 person (``lin-manuel-miranda.png``) and with 5 (real
crops of the people in ``bus.jpg``, ``two_people.jpg`` and ``zidane.jpg`` tiled into one frame): the whole ``pose``
stage and the ``face`` + ``gaze`` stages, built by name through the stage registry. A stage name
the registry does not know yet is skipped with a message.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import datetime
import json
import os
import platform
import shutil
import tempfile
import time
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from sensorium.models.arch.mediapipe import face_detection as fd
from sensorium.models.arch.mediapipe import face_mesh as fm
from sensorium.models.arch.mediapipe import iris, pose
from sensorium.models.arch.mediapipe.files import onnx_file
from sensorium.models.arch.mediapipe.roi import crop
from sensorium.models.hub.files import sha256_file
from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig
from sensorium.models.hub.weights import resolve

#: (x1, y1, x2, y2) head-to-hips crops of real people, tiled into the 5-person frame
PEOPLE = (("photos/bus.jpg", (48, 398, 245, 700)), ("photos/bus.jpg", (221, 405, 344, 680)),
          ("faces/two_people.jpg", (0, 0, 563, 661)), ("faces/two_people.jpg", (563, 0, 1126, 661)),
          ("photos/zidane.jpg", (747, 41, 1141, 712)))


def data_root() -> Path:
    return Path(os.environ.get("SENSORIUM_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def rgb(name: str) -> np.ndarray:
    path = data_root() / name
    img = cv2.imread(str(path))
    if img is None:
        raise SystemExit(f"cannot read {path}: set SENSORIUM_DATA to the shared data folder")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --- real inputs, made as the stages make them ------------------------------------------------
def _ort(name: str, threads: int, spin: bool = False) -> OnnxModel:
    return OnnxModel(onnx_file(name), RuntimeConfig(providers=("cpu",), intra_op_threads=threads, allow_spinning=spin,
                                                    warmup_runs=0), name=name)


def _run(model: OnnxModel, x: np.ndarray) -> dict[str, np.ndarray]:
    outs = model.session.run(None, {model.inputs[0].name: x})
    return dict(zip([o.name for o in model.outputs], outs))


def _largest(boxes: np.ndarray) -> int:
    if not len(boxes):
        raise SystemExit("the detector found nothing in the benchmark photo")
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


def real_inputs() -> dict[str, np.ndarray]:
    """Registered weights name -> its (1, S, S, 3) float32 input from the real photos (iris: (2, 64, 64, 3), both eyes)."""
    face_img, person_img = rgb("faces/lin-manuel-miranda.png"), rgb("photos/zidane.jpg")
    x_face, lb = fd.letterbox(face_img)
    det = _ort("mediapipe_face_detection_short_range", 1)
    raw = _run(det, x_face[None])
    boxes, kps, _ = fd.weighted_nms(*fd.decode(raw["regressors"][0], raw["classificators"][0], fd.ssd_anchor_centres(fd.FACE_SHORT_RANGE_ANCHORS)))
    boxes, kps = fd.to_image(boxes, kps, lb)
    i = _largest(boxes)
    x_mesh, affines = fm.preprocess(face_img, [fm.roi_from_detection(boxes[i], kps[i])])
    raw = _run(_ort("mediapipe_face_landmark", 1), x_mesh)
    mesh, _ = fm.decode(raw["conv2d_21"], raw["conv2d_31"], affines)
    x_iris, _ = iris.preprocess(face_img, iris.eye_rois(mesh[0]))

    x_pdet, lb = fd.letterbox(person_img, pose.DETECTOR_SIZE)
    raw = _run(_ort("mediapipe_pose_detection", 1), x_pdet[None])
    boxes, kps, _ = fd.weighted_nms(*fd.decode(raw["Identity"][0], raw["Identity_1"][0], fd.ssd_anchor_centres(pose.POSE_ANCHORS),
                                               input_size=pose.DETECTOR_SIZE))
    boxes, kps = fd.to_image(boxes, kps, lb)
    patch, _ = crop(person_img, pose.roi_from_detection(kps[_largest(boxes)]), pose.LANDMARK_SIZE)
    return {"mediapipe_face_detection_short_range": x_face[None], "mediapipe_face_landmark": x_mesh,
            "mediapipe_iris_landmark": x_iris, "mediapipe_pose_detection": x_pdet[None],
            "mediapipe_pose_landmark_full": patch[None].astype(np.float32) / 255.0}


# --- the engines ------------------------------------------------------------------------------
class LiteRT:
    """One LiteRT interpreter on a batch-1 input: set, invoke, read every output (as the stage would)."""

    def __init__(self, name: str, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=str(resolve(name)), num_threads=threads)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.outs = [(d["name"], d["index"]) for d in self.it.get_output_details()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.it.set_tensor(self.inp, x)
        self.it.invoke()
        return {n: self.it.get_tensor(i) for n, i in self.outs}


def parity(inputs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Max abs difference per output, onnxruntime vs LiteRT, on the benchmark's own inputs (units
    are the output's: input pixels for landmarks, logits for scores and masks)."""
    out = {}
    for name, x in inputs.items():
        ort_out, lite = _run(_ort(name, 1), x[:1]), LiteRT(name, 1)(x[:1])
        out[name] = {k: float(np.abs(ort_out[k].reshape(lite[k].shape) - lite[k]).max()) for k in lite}
    return out


def timed(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Interleaved timings in ms: every round calls each variant once, in order (A B A B ...)."""
    for fn in fns.values():
        fn()
        fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            out[k].append((time.perf_counter() - t) * 1e3)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    q = np.percentile(ms, [10, 50, 90])
    return {"median": float(q[1]), "p10": float(q[0]), "p90": float(q[2]), "min": float(min(ms))}


def previous_conversion(folder: Path, name: str) -> Path:
    """The first converter's cached file of ``name`` in ``folder`` (named ``<stem>.<sha256[:16]>.onnx``)."""
    src = resolve(name)
    path = folder / f"{src.stem}.{sha256_file(src)[:16]}.onnx"
    if not path.is_file():
        raise SystemExit(f"--previous: {path} not found (the cache of a checkout before CONVERTER_VERSION 2)")
    return path


def engine_variants(inputs: dict[str, np.ndarray], threads: int, previous: Path | None = None) -> dict[str, Callable[[], object]]:
    """(model, engine) -> one call on batch 1 (``iris x2 batched``: onnxruntime on both eyes in one call)."""
    engines: dict[str, Callable[[str], Callable[[np.ndarray], Any]]] = {
        "ort": lambda n: (lambda m: lambda x: _run(m, x))(_ort(n, threads)),
        "litert": lambda n: LiteRT(n, threads),
    }
    if threads > 1:
        engines["ort-spin"] = lambda n: (lambda m: lambda x: _run(m, x))(_ort(n, threads, spin=True))
    if previous is not None:
        engines["ort-prev"] = lambda n: (lambda m: lambda x: _run(m, x))(
            OnnxModel(previous_conversion(previous, n), RuntimeConfig(providers=("cpu",), intra_op_threads=threads, warmup_runs=0)))
    fns: dict[str, Callable[[], object]] = {}
    for name, x in inputs.items():
        one = np.ascontiguousarray(x[:1])
        for engine, make in engines.items():
            run = make(name)
            fns[f"{name}|{engine}"] = lambda run=run, one=one: run(one)
    both = _ort("mediapipe_iris_landmark", threads)
    fns["mediapipe_iris_landmark x2 batched|ort"] = lambda: _run(both, inputs["mediapipe_iris_landmark"])
    unmasked = OnnxModel(without_mask(), RuntimeConfig(providers=("cpu",), intra_op_threads=threads, warmup_runs=0))
    person = np.ascontiguousarray(inputs["mediapipe_pose_landmark_full"][:1])
    fns["mediapipe_pose_landmark_full without mask|ort"] = lambda: _run(unmasked, person)
    return fns


#: the pose landmark outputs the pose stage reads: landmarks, presence, heatmaps (its sigma features), world landmarks
POSE_STAGE_OUTPUTS = ["Identity", "Identity_1", "Identity_3", "Identity_4"]


def without_mask() -> Path:
    """The converted pose landmark graph cut to ``POSE_STAGE_OUTPUTS`` (no segmentation mask,
    ``Identity_2``): 59 of its 227 nodes and all five resizes feed only the mask and heatmaps,
    the mask's at up to 256x256. LiteRT's interpreter runs the whole graph."""
    from onnx.utils import extract_model

    folder = Path(tempfile.mkdtemp(prefix="gaze_pose_bench."))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    dst = folder / "pose_landmark_without_mask.onnx"
    extract_model(str(onnx_file("mediapipe_pose_landmark_full")), str(dst), ["input_1"], POSE_STAGE_OUTPUTS)
    return dst


def _cell(s: dict[str, float]) -> str:
    return f"{s['median']:.2f} ({s['p10']:.2f}..{s['p90']:.2f}) min {s['min']:.2f}"


def part1(inputs: dict[str, np.ndarray], threads: int, rounds: int, previous: Path | None = None) -> dict[str, dict[str, float]]:
    ms = timed(engine_variants(inputs, threads, previous), rounds)
    stats = {k: summary(v) for k, v in ms.items()}
    print(f"\n## {threads} thread(s): ms per call, median (p10..p90) and min, {rounds} interleaved rounds")
    engines = ["ort", "litert"] + (["ort-spin"] if threads > 1 else []) + (["ort-prev"] if previous is not None else [])
    print("| model | input | " + " | ".join(engines) + " | LiteRT / ORT |")
    print("|---|---|" + "---|" * len(engines) + "---|")
    for name, x in inputs.items():
        cells = [_cell(stats[f"{name}|{e}"]) for e in engines]
        ratio = stats[f"{name}|litert"]["median"] / stats[f"{name}|ort"]["median"]
        print(f"| {name} | {x.shape[1]}x{x.shape[2]} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    med = {k: v["median"] for k, v in stats.items()}
    for e in engines:
        face = med[f"mediapipe_face_landmark|{e}"] + 2 * med[f"mediapipe_iris_landmark|{e}"]
        person = med[f"mediapipe_pose_landmark_full|{e}"]
        print(f"- {e}: per face (mesh + 2 x iris) {face:.2f} ms; per person (pose landmarks) {person:.2f} ms; "
              f"per frame: pose detector {med[f'mediapipe_pose_detection|{e}']:.2f} ms, face detector "
              f"{med[f'mediapipe_face_detection_short_range|{e}']:.2f} ms")
    batched = med["mediapipe_face_landmark|ort"] + med["mediapipe_iris_landmark x2 batched|ort"]
    print(f"- ort, both eyes in one iris call: per face {batched:.2f} ms "
          f"(iris x2 batched {_cell(stats['mediapipe_iris_landmark x2 batched|ort'])})")
    print(f"- ort, pose landmarks without the segmentation mask (the outputs the pose stage reads): per person "
          f"{_cell(stats['mediapipe_pose_landmark_full without mask|ort'])}")
    return stats


# --- profiling ----------------------------------------------------------------------------------
def profile_ops(name: str, x: np.ndarray, threads: int, runs: int = 50) -> list[tuple[str, float, int]]:
    """onnxruntime's profiler on ``runs`` calls: (op type, mean ms per call, nodes), slowest first."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with tempfile.TemporaryDirectory() as tmp:
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "prof")
        sess = ort.InferenceSession(str(onnx_file(name)), so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: np.ascontiguousarray(x[:1])}
        for _ in range(5):
            sess.run(None, feed)
        sess.end_profiling()  # drop the warm-up runs
        sess = ort.InferenceSession(str(onnx_file(name)), so, providers=["CPUExecutionProvider"])
        for _ in range(runs + 1):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    total: dict[str, float] = defaultdict(float)
    nodes: dict[str, set[str]] = defaultdict(set)
    for ev in events:
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            op = ev["args"].get("op_name", "?")
            total[op] += ev["dur"] / 1e3 / (runs + 1)
            nodes[op].add(ev["name"])
    return sorted(((op, ms, len(nodes[op])) for op, ms in total.items()), key=lambda t: -t[1])


# --- part 2: whole stages per VGA frame ----------------------------------------------------------
def vga(img: np.ndarray) -> np.ndarray:
    """Scale to cover 640x480, centre-crop."""
    h, w = img.shape[:2]
    s = max(640 / w, 480 / h)
    img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    y, x = (img.shape[0] - 480) // 2, (img.shape[1] - 640) // 2
    return np.ascontiguousarray(img[y:y + 480, x:x + 640])


def five_people() -> np.ndarray:
    """A 640x480 frame of the upper bodies of 5 real people: 3 cells of 213x240 on top, 2 of 320x240 below."""
    frame = np.full((480, 640, 3), 114, np.uint8)
    cells = [(0, 0, 213, 240), (213, 0, 426, 240), (426, 0, 640, 240), (0, 240, 320, 480), (320, 240, 640, 480)]
    for (photo, (x1, y1, x2, y2)), (cx1, cy1, cx2, cy2) in zip(PEOPLE, cells):
        person = rgb(photo)[y1:y2, x1:x2]
        cw, ch = cx2 - cx1, cy2 - cy1
        s = min(cw / person.shape[1], ch / person.shape[0])
        pw, ph = round(person.shape[1] * s), round(person.shape[0] * s)
        ox, oy = cx1 + (cw - pw) // 2, cy1 + (ch - ph)
        frame[oy:oy + ph, ox:ox + pw] = cv2.resize(person, (pw, ph), interpolation=cv2.INTER_AREA)
    return frame


def build_chain(names: list[str], threads: int, overrides: dict[str, dict[str, str]] | None = None) -> list[Any] | str:
    """The stages, set up, or why they cannot be: a name the registry does not know, a failed setup.
    ``overrides``: stage -> {option: value} over the defaults here (``--set pose.tiles=2``)."""
    from sensorium.stages.base import build_config, get_stage_class

    chain = []
    for name in names:
        try:
            cls = get_stage_class(name)
        except ValueError as exc:
            return f"stage {name!r} is not registered here yet ({exc}); run this part after it lands"
        fields = {f.name for f in dataclasses.fields(cls.Config)} if dataclasses.is_dataclass(cls.Config) else set()
        options = {k: v for k, v in {"threads": threads, "recognizer": "none", "keep_chips": False}.items() if k in fields}
        options.update((overrides or {}).get(name, {}))
        stage = cls(build_config(name, options))
        try:
            stage.setup()
        except Exception as exc:  # noqa: BLE001 - report and go on with the other parts
            return f"stage {name!r} did not set up: {type(exc).__name__}: {exc}"
        chain.append(stage)
    return chain


def run_chain(chain: list[Any], image: np.ndarray, seq: int) -> Any:
    from sensorium.stages.frame import Frame

    frames = [Frame("bench", seq, image=image)]
    for stage in chain:
        frames = stage(frames)
    return frames[0]


def part2(threads: int, rounds: int, overrides: dict[str, dict[str, str]] | None = None) -> None:
    images = {"1 person": vga(rgb("faces/lin-manuel-miranda.png")), "5 people": five_people()}
    print(f"\n## stages per VGA frame, {threads} thread(s), ms median (p10..p90) over {rounds} interleaved rounds")
    for names in (["pose"], ["face", "gaze"]):
        chain = build_chain(names, threads, overrides)
        label = ",".join(names) + "".join(f" {n}.{k}={v}" for n in names for k, v in (overrides or {}).get(n, {}).items())
        if isinstance(chain, str):
            print(f"- {label}: skipped: {chain}")
            continue
        for what, image in images.items():
            frame = run_chain(chain, image, 0)
            found = {n: len(r) for n, r in frame.results.items() if hasattr(r, "__len__")}
            print(f"- {label}, {what}: results {found}, errors {frame.errors or 'none'}")
        seq = iter(range(1, 1_000_000))
        ms = timed({what: (lambda image=image: run_chain(chain, image, next(seq))) for what, image in images.items()}, rounds)
        for what, v in ms.items():
            s = summary(v)
            print(f"- {label}, {what}: {s['median']:.1f} ms ({s['p10']:.1f}..{s['p90']:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=60, help="interleaved rounds per model and engine (0: skip part 1)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--stage-rounds", type=int, default=8, help="rounds of part 2 (0: skip it)")
    ap.add_argument("--profile", default="", help="registered weights names to profile on onnxruntime, comma-separated")
    ap.add_argument("--previous", type=Path, default=None,
                    help="also time the first converter's graphs (PReLU as Min/Mul/Add) cached in this folder, as ort-prev")
    ap.add_argument("--set", action="append", default=[], metavar="STAGE.OPTION=VALUE",
                    help="a stage option for part 2 (repeatable), e.g. --set pose.tiles=2")
    args = ap.parse_args()
    overrides: dict[str, dict[str, str]] = defaultdict(dict)
    for item in args.set:
        key, eq, value = item.partition("=")
        stage, dot, option = key.partition(".")
        if not (eq and dot and stage and option):
            raise SystemExit(f"--set: expected STAGE.OPTION=VALUE, got {item!r}")
        overrides[stage][option] = value
    threads = [int(t) for t in args.threads.split(",")]
    print(f"# gaze_pose benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    import onnxruntime as ort

    print(f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, onnxruntime "
          f"{ort.__version__}, ai-edge-litert {version('ai-edge-litert')}, load average {os.getloadavg()[0]:.1f}")
    inputs = real_inputs()
    print("parity on these inputs, max abs difference per output (ORT vs LiteRT):")
    for name, diffs in parity(inputs).items():
        print(f"- {name}: " + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items()))
    for n in threads if args.rounds else ():
        cv2.setNumThreads(n)
        part1(inputs, n, args.rounds, args.previous)
    for name in filter(None, args.profile.split(",")):
        for n in threads:
            print(f"\n## onnxruntime profile of {name}, {n} thread(s): op type, ms per call, nodes")
            for op, ms, count in profile_ops(name, inputs[name], n)[:8]:
                print(f"- {op}: {ms:.2f} ms ({count} nodes)")
    if args.stage_rounds:
        for n in threads:
            part2(n, args.stage_rounds, overrides)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
