"""The weights registry: each set of weights with its file, sha256, sources and input contract.

An entry says where the file may be found (the cache, an installed package, a local path
under ``SENSORIUM_DATA``, a public URL) and what the model expects (input size, mean/std,
channel order, labels, opset), so no stage guesses preprocessing from tensor shapes.
``resolve(name)`` finds the file and verifies its sha256; it downloads only when asked
(``allow_download=True``), and offline it says which file is missing, everywhere it looked,
and where to put it.

Registration stores values only: nothing touches the file system until ``resolve``/``status``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

from sensorium.models.hub.archive import extract_member
from sensorium.models.hub.download import MODELS_MIRROR_ENV, ChecksumError, Progress, download, mirrored
from sensorium.models.hub.files import sha256_file

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PackageFile:
    """A file inside an installed Python package, found without importing it.
    ``pip`` is the distribution to install when it is missing (default: ``package``)."""

    package: str
    path_in_package: str
    pip: str | None = None


@dataclass(frozen=True)
class LocalPath:
    """An absolute path, or a path relative to the data folder (``SENSORIUM_DATA``)."""

    path: str


@dataclass(frozen=True)
class Url:
    """A public download, fetched only with ``allow_download=True``. member: the file is that
    member of the zip at ``url`` (InsightFace publishes ArcFace inside ``buffalo_l.zip``),
    taken out after the zip's own ``archive_sha256`` (when published) is checked."""

    url: str
    member: str | None = None
    archive_sha256: str | None = None


Source = Union[PackageFile, LocalPath, Url]
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class WeightsEntry:
    """One set of weights and its contract.

    sha256: lowercase hex of the file; None means "not pinned": the file is used unverified.
    input_size: (height, width) the model takes; None if it takes any size.
    mean, std: per-channel normalisation of pixel values in [0, 255] (``(x - mean) / std``) in
        ``channel_order``; None when the runtime normalises inside (dlib).
    format: ``onnx``, ``dlib``, ``tflite`` or ``torch``: how to load the file.
    sha256_prefix: the start of the sha256 when only that is published: torch hub's rule for
        ``.pth`` names (the hex after the last ``-`` of ``detr-r50-e632da11.pth``).
    size: the file's bytes when published (a shorter download is refused as truncated).
    commercial: False for weights whose licence forbids commercial use; they are opt-in only
        (``pull(..., accept_license=True)``, ``sensorium models pull NAME --accept-license``).
    importer: how a stage turns this file into its own (``detr`` or ``open_clip:ARCH``);
        None when the file is used as it is.
    provenance: who published the file and where it is described.
    """

    name: str
    filename: str
    sha256: str | None
    sources: tuple[Source, ...]
    license: str
    description: str
    input_size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channel_order: str = "RGB"
    labels: tuple[str, ...] | None = None
    opset: int | None = None
    format: str = "onnx"
    sha256_prefix: str | None = None
    size: int | None = None
    commercial: bool = True
    importer: str | None = None
    provenance: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.filename or Path(self.filename).name != self.filename:
            raise ValueError(f"weights {self.name!r}: expected a name and a bare file name, got filename {self.filename!r}")
        if self.sha256 is not None and not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"weights {self.name!r}: expected sha256 as 64 lowercase hex digits or None, got {self.sha256!r}")
        object.__setattr__(self, "sources", tuple(self.sources))
        if not self.sources or not all(isinstance(s, (PackageFile, LocalPath, Url)) for s in self.sources):
            raise ValueError(f"weights {self.name!r}: expected sources of PackageFile/LocalPath/Url, got {self.sources!r}")
        if self.input_size is not None and (len(self.input_size) != 2 or min(self.input_size) <= 0):
            raise ValueError(f"weights {self.name!r}: expected input_size (height, width) > 0, got {self.input_size!r}")
        if (self.mean is None) != (self.std is None) or (self.mean is not None and len(self.mean) != len(self.std)):
            raise ValueError(f"weights {self.name!r}: expected mean and std of the same length, got {self.mean!r} and {self.std!r}")
        if self.std is not None and any(s == 0 for s in self.std):
            raise ValueError(f"weights {self.name!r}: expected non-zero std, got {self.std!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"weights {self.name!r}: expected channel_order 'RGB' or 'BGR', got {self.channel_order!r}")
        if self.sha256_prefix is not None and not re.fullmatch(r"[0-9a-f]{6,63}", self.sha256_prefix):
            raise ValueError(f"weights {self.name!r}: expected sha256_prefix as 6-63 lowercase hex digits, got {self.sha256_prefix!r}")
        if self.size is not None and self.size <= 0:
            raise ValueError(f"weights {self.name!r}: expected size > 0 bytes or None, got {self.size!r}")
        if self.format not in ("onnx", "dlib", "tflite", "torch"):
            raise ValueError(f"weights {self.name!r}: expected format onnx, dlib, tflite or torch, got {self.format!r}")


class WeightsNotFoundError(FileNotFoundError):
    """The weights file is in none of the places its entry lists (the message says which and how to fix it)."""


class WeightsChecksumError(ChecksumError):
    """A file with the right name but the wrong sha256: a partial download, another version, corruption."""


class UnknownWeightsError(KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


_REGISTRY: dict[str, WeightsEntry] = {}
#: Modules whose import registers weights that ship with the repository (beside their
#: architecture), listed once so lookups find them without a file-system scan.
WEIGHTS_MODULES: tuple[str, ...] = ("sensorium.models.zoo.detr_shapes_weights", "sensorium.models.zoo.clip_icons", "sensorium.models.zoo.pose_sigma",
                                     "sensorium.models.zoo.gaze_sigma", "sensorium.models.zoo.rle_study",
                                     "sensorium.models.zoo.public_weights")
_builtins_loaded = False


def _load_builtin_weights(until: str | None = None) -> None:
    """Import :data:`WEIGHTS_MODULES` in order, stopping once ``until`` is registered: a lookup
    imports only the modules before its entry (some import torch, which takes seconds)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    for module in WEIGHTS_MODULES:
        if until is not None and until in _REGISTRY:
            return
        importlib.import_module(module)  # registers through this module while importing
    _builtins_loaded = True


def register_weights(entry: WeightsEntry) -> WeightsEntry:
    """Add an entry; a second entry under the same name raises ValueError."""
    if entry.name in _REGISTRY:
        raise ValueError(f"weights {entry.name!r} are already registered ({_REGISTRY[entry.name].filename})")
    _REGISTRY[entry.name] = entry
    return entry


def get_weights(name: str) -> WeightsEntry:
    if name not in _REGISTRY:
        _load_builtin_weights(until=name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownWeightsError(f"unknown weights {name!r}: expected one of {', '.join(sorted(_REGISTRY)) or '(none)'}") from None


def list_weights() -> list[WeightsEntry]:
    """Every registered entry, in registration order."""
    _load_builtin_weights()
    return list(_REGISTRY.values())


def data_dir() -> Path:
    """The shared data folder: ``SENSORIUM_DATA``, default ``../shared/data`` beside the repository."""
    return Path(os.environ.get("SENSORIUM_DATA") or _REPO.parent / "shared" / "data")


def default_cache_dir() -> Path:
    """The weights cache: ``SENSORIUM_CACHE``, default ``~/.cache/sensorium/weights``."""
    return Path(os.environ.get("SENSORIUM_CACHE") or Path.home() / ".cache" / "sensorium" / "weights").expanduser()


#: a pull of weights with no published sha256 writes the hash it got beside the file
#: (trust on first use): later reads and pulls are checked against it
RECORDED_SUFFIX = ".sha256"


def recorded_sha256(path: Path) -> str | None:
    """The sha256 recorded beside ``path`` on its first pull, or None."""
    rec = path.with_name(path.name + RECORDED_SUFFIX)
    try:
        text = rec.read_text().split()[0] if rec.is_file() else ""
    except (OSError, IndexError):
        return None
    return text if _SHA256.fullmatch(text) else None


def _verify(entry: WeightsEntry, path: Path) -> None:
    """Raise WeightsChecksumError unless ``path`` has the entry's size and sha256 (full, prefix,
    or the one recorded on first pull); a file with none of those passes unverified."""
    if entry.size is not None and path.stat().st_size != entry.size:
        raise WeightsChecksumError(f"weights {entry.name!r}: {path} has {path.stat().st_size} bytes, expected {entry.size} "
                                   "(a truncated download or another version: delete it or run sensorium models pull "
                                   f"{entry.name})")
    expected = entry.sha256 or recorded_sha256(path)
    if expected is None and entry.sha256_prefix is None:
        return
    got = sha256_file(path)
    if (expected is not None and got != expected) or (entry.sha256_prefix is not None and not got.startswith(entry.sha256_prefix)):
        want = expected or f"{entry.sha256_prefix}... (the prefix in the published file name)"
        raise WeightsChecksumError(f"weights {entry.name!r}: {path} has sha256 {got}, expected {want} "
                                   f"(a partial download or another version: delete or replace the file, or run "
                                   f"sensorium models pull {entry.name})")


def hash_rule(entry: WeightsEntry) -> str:
    """How the file is checked, in words (``sensorium models list``)."""
    if entry.sha256:
        return "sha256 pinned"
    if entry.sha256_prefix:
        return f"sha256 prefix {entry.sha256_prefix} (from the file name)"
    return "no published hash: recorded on first pull (trust on first use)"


def _package_location(src: PackageFile) -> tuple[Path | None, str]:
    """(the file's path or None, why not) without importing the package (find_spec only locates it)."""
    try:
        spec = importlib.util.find_spec(src.package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None, f"not installed (pip install {src.pip or src.package})"
    roots = list(spec.submodule_search_locations or []) or ([str(Path(spec.origin).parent)] if spec.origin else [])
    for root in roots:
        candidate = Path(root) / src.path_in_package
        if candidate.is_file():
            return candidate, ""
    return None, f"installed, but {src.path_in_package} is not in it ({', '.join(roots)})"


def _places(entry: WeightsEntry, cache: Path) -> Iterator[tuple[str, Path | None, str]]:
    """(label, path or None, why unusable) for each place to look, in order: cache, packages, local paths."""
    yield "cache", cache / entry.filename, ""
    for src in entry.sources:
        if isinstance(src, PackageFile):
            path, why = _package_location(src)
            yield f"package {src.package}", path, why
        elif isinstance(src, LocalPath):
            p = Path(src.path).expanduser()
            yield ("local" if p.is_absolute() else "SENSORIUM_DATA"), p if p.is_absolute() else data_dir() / p, ""


def _locate(entry: WeightsEntry, cache: Path) -> tuple[Path, str] | list[str]:
    """The first existing file (verified) and where it was found, or the list of places looked."""
    looked = []
    for label, path, why in _places(entry, cache):
        if path is not None and path.is_file():
            _verify(entry, path)
            return path, label
        looked.append(f"{label}: {why}" if path is None else f"{label}: {path} ({why or 'no such file'})")
    return looked


def _download(entry: WeightsEntry, src: Url, dest: Path, progress: Progress | None = None) -> Path:
    """Fetch ``src`` into the cache (:func:`download`: whole and verified, or not at all); a
    zip member is taken out of the verified zip, which is not kept. Weights with no published
    hash get theirs recorded beside the file (trust on first use)."""
    log.info("downloading weights %s from %s to %s", entry.name, src.url, dest)

    def accept(tmp: Path) -> None:
        _verify(entry, tmp)
        if entry.sha256 is None:
            got = sha256_file(tmp, fresh=True)
            log.warning("weights %s: %s has no published sha256; recorded %s on this first pull", entry.name, src.url, got)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.with_name(dest.name + RECORDED_SUFFIX).write_text(f"{got}  {entry.filename}  {src.url}\n")

    if src.member is None:
        return download(src.url, dest, check=accept, size=entry.size, progress=progress)

    def take_member(zip_tmp: Path) -> None:
        member = extract_member(zip_tmp, src.member, dest.with_name(f".{dest.name}.member"), archive_sha256=src.archive_sha256)
        try:
            accept(member)
            os.replace(member, dest)
        finally:
            member.unlink(missing_ok=True)

    archive = download(src.url, dest.with_name(f".{dest.name}.zip"), check=take_member, progress=progress)
    archive.unlink()
    return dest


def _urls(entry: WeightsEntry) -> list[Url]:
    """Where to download from, in order: the mirror (``SENSORIUM_MODELS_MIRROR``/FILENAME, the
    file itself) when one is set, then the entry's published URLs. Every one is verified the same way."""
    return [Url(u) for u in mirrored(MODELS_MIRROR_ENV, entry.filename)] + [s for s in entry.sources if isinstance(s, Url)]


def _not_found(entry: WeightsEntry, cache: Path, looked: list[str], download_errors: list[str]) -> WeightsNotFoundError:
    fixes = [f"pip install {s.pip or s.package}" for s in entry.sources if isinstance(s, PackageFile)]
    urls = [s.url + (f", member {s.member}" if s.member else "") for s in entry.sources if isinstance(s, Url)]
    fixes.append(f"put the file at {cache / entry.filename}" + (f" (download it from {urls[0]})" if urls else ""))
    if urls and not download_errors:
        fixes.append(f"let sensorium fetch it: sensorium models pull {entry.name}")
    lines = [f"weights {entry.name!r} ({entry.filename}) not found. Looked in:", *(f"  - {x}" for x in looked)]
    lines += [f"  - download failed: {e}" for e in download_errors]
    lines.append("To fix: " + ", or ".join(fixes) + ".")
    return WeightsNotFoundError("\n".join(lines))


class LicenseNotAcceptedError(PermissionError):
    """Weights whose licence forbids commercial use, fetched without ``accept_license``."""


def resolve(name: str, *, cache_dir: str | Path | None = None, allow_download: bool = False,
            progress: Progress | None = None, accept_license: bool = False) -> Path:
    """Path of the weights file ``name``, its size and sha256 verified (when known).

    Looks in the cache dir, then package files, then local paths, in the entry's order; with
    ``allow_download`` it fetches the first working URL (the ``SENSORIUM_MODELS_MIRROR`` first,
    when set) into the cache, replacing a cached file that fails verification (without it, that
    file is refused: WeightsChecksumError).
    Non-commercial weights download only with ``accept_license``. Raises
    WeightsNotFoundError (missing everywhere), WeightsChecksumError, UnknownWeightsError,
    LicenseNotAcceptedError.
    """
    entry = get_weights(name)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    try:
        found = _locate(entry, cache)
    except WeightsChecksumError:
        if not allow_download or not _urls(entry):
            raise
        found = [f"cache: {cache / entry.filename} (failed verification: re-fetching)"]
    if isinstance(found, tuple):
        return found[0]
    errors: list[str] = []
    if allow_download:
        if not entry.commercial and not accept_license:
            raise LicenseNotAcceptedError(f"weights {entry.name!r} are licensed {entry.license}: not for commercial use, so "
                                          f"they download only when asked: sensorium models pull {entry.name} --accept-license")
        for src in _urls(entry):
            try:
                return _download(entry, src, cache / entry.filename, progress)
            except (OSError, ValueError) as exc:  # URLError, timeouts, disk, truncated, another version, not a zip: next URL
                errors.append(f"{src.url}: {exc}")
    raise _not_found(entry, cache, found, errors)


@dataclass(frozen=True)
class WeightsStatus:
    """Whether weights are usable here. Unpacks as ``present, path, detail``; ``present`` False
    with a path means a file was found but failed verification."""

    present: bool
    path: Path | None
    detail: str
    source: str = ""  # where it was found (cache, package X, SENSORIUM_DATA, local)
    verified: bool | None = None  # True: sha256 matched; None: not pinned or not found; False: mismatch

    def __iter__(self) -> Iterator[object]:
        return iter((self.present, self.path, self.detail))


def status(name: str, *, cache_dir: str | Path | None = None) -> WeightsStatus:
    """Present, path and a one-line detail, for listings; never downloads, never raises for a missing file."""
    entry = get_weights(name)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    try:
        found = _locate(entry, cache)
    except WeightsChecksumError as exc:
        bad = next(p for _, p, _ in _places(entry, cache) if p is not None and p.is_file())
        return WeightsStatus(False, bad, str(exc), verified=False)
    if isinstance(found, list):
        fix = str(_not_found(entry, cache, found, [])).splitlines()[-1].removeprefix("To fix: ")
        return WeightsStatus(False, None, f"not found; {fix}")
    path, label = found
    pinned = entry.sha256 is not None
    return WeightsStatus(True, path, f"found in {label}; " + ("sha256 verified" if pinned else "sha256 not pinned (not verified)"),
                         source=label, verified=True if pinned else None)


# Registered weights. Values only: resolve() looks for the files when asked.
_YUNET_MEANING = ("outputs cls/obj/bbox/kps at strides 8, 16, 32 → face boxes and 5 landmarks; input is raw BGR "
                  "pixel values 0-255 as float32 NCHW, no normalisation")
register_weights(WeightsEntry(
    name="yunet_s", filename="yunet_s_640_640.onnx",
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    sources=(LocalPath("weights/yunet_s_640_640.onnx"),
             Url("https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx"),
             Url("https://github.com/ShiqiYu/libfacedetection.train/raw/02246e79b1e976c83d1e135a85e0628120c93769/onnx/yunet_s_640_640.onnx")),
    license="Apache-2.0",
    description="YuNet face detector, s variant (= OpenCV Zoo face_detection_yunet_2023mar.onnx); " + _YUNET_MEANING,
    input_size=(640, 640), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), channel_order="BGR", labels=("face",), opset=11,
))
register_weights(WeightsEntry(
    name="yunet_n", filename="yunet_n_640_640.onnx",
    sha256="25a606a145a5b6d7271ae138fbd00eba91dad8b83222ae3f2c7ecd0f4a7b0e31",
    sources=(LocalPath("weights/yunet_n_640_640.onnx"),
             Url("https://github.com/ShiqiYu/libfacedetection.train/raw/master/onnx/yunet_n_640_640.onnx")),
    license="Apache-2.0",
    description="YuNet face detector, n (smaller) variant; " + _YUNET_MEANING,
    input_size=(640, 640), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), channel_order="BGR", labels=("face",), opset=11,
))
register_weights(WeightsEntry(
    name="dlib_face_recognition_resnet_v1", filename="dlib_face_recognition_resnet_model_v1.dat",
    # sha256 of the file in face-recognition-models 0.3.0 (the PyPI sdist)
    sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    sources=(PackageFile("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat",
                         pip="face-recognition-models"),),
    license="CC0-1.0",
    description="dlib's face recognition ResNet: a 150x150 RGB aligned face chip → 128-d embedding (99.38% on LFW); "
                "runs with dlib (dlib-bin), which normalises inside",
    input_size=(150, 150), channel_order="RGB", format="dlib",
))

# MediaPipe's landmark models, from the mediapipe 0.10.21 wheel (mediapipe/modules/); Apache-2.0.
# sensorium runs them on onnxruntime through models/hub/tflite.py (models/arch/mediapipe/files.py).
_MEDIAPIPE_WHEEL = "the mediapipe==0.10.21 wheel (pip download mediapipe==0.10.21), mediapipe/modules/"
_MEDIAPIPE_RAW = "https://storage.googleapis.com/mediapipe-assets/"


def _mediapipe(name: str, filename: str, sha256: str, size: int, unit: bool, what: str) -> WeightsEntry:
    """A MediaPipe .tflite entry: NHWC float32 RGB input, [0, 1] (``unit``) or [-1, 1]."""
    mean, std = ((0.0,) * 3, (255.0,) * 3) if unit else ((127.5,) * 3, (127.5,) * 3)
    return register_weights(WeightsEntry(
        name=name, filename=filename, sha256=sha256,
        sources=(LocalPath(f"weights/mediapipe/{filename}"), PackageFile("mediapipe", f"modules/{what.split(':')[0]}/{filename}"),
                 Url(_MEDIAPIPE_RAW + filename)),
        license="Apache-2.0", description=f"MediaPipe {what.split(':')[1]}; from {_MEDIAPIPE_WHEEL}",
        input_size=(size, size), mean=mean, std=std, channel_order="RGB", format="tflite",
    ))


_mediapipe("mediapipe_face_detection_short_range", "face_detection_short_range.tflite",
           "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", 128, False,
           "face_detection:short-range face detector (BlazeFace): 896 SSD anchors x (box + 6 keypoints), face logit")
_mediapipe("mediapipe_face_landmark", "face_landmark.tflite",
           "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", 192, True,
           "face_landmark:face mesh: 468 3-D landmarks in input pixels, face-presence logit")
_mediapipe("mediapipe_face_landmark_with_attention", "face_landmark_with_attention.tflite",
           "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4", 192, True,
           "face_landmark:face mesh with attention: 468 landmarks refined on lips, eyes and 10 iris points (478); "
           "uses MediaPipe custom ops, not converted yet")
_mediapipe("mediapipe_iris_landmark", "iris_landmark.tflite",
           "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f", 64, True,
           "iris_landmark:iris landmarks: 71 eye contour/brow points and 5 iris points of one eye crop")
_mediapipe("mediapipe_pose_detection", "pose_detection.tflite",
           "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", 224, False,
           "pose_detection:pose detector: 2254 SSD anchors x (box + 4 keypoints), person logit (38 sparse fp16 weight tensors)")
_mediapipe("mediapipe_pose_landmark_full", "pose_landmark_full.tflite",
           "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", 256, True,
           "pose_landmark:pose landmarks (full): 33 keypoints with visibility/presence, world landmarks, segmentation, heatmaps")
