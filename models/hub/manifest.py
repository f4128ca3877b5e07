"""Which .onnx file to load for a precision: the model path itself or what its export manifest names."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal, get_args

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"  # a folder's manifest when not NAME.manifest.json: {"model": "x.onnx", "model_fp16": ...}
Precision = Literal["fp32", "fp16", "int8"]  # the files an export can hold; see models/hub/export.py
PRECISIONS: tuple[str, ...] = get_args(Precision)


def _manifest_for(path: Path, precision: str) -> Path | None:
    """The export manifest that decides which file to load, or None to load ``path`` as given."""
    if path.suffix == ".json":
        return path
    if path.is_dir():
        found = sorted(path.glob("*.manifest.json")) or sorted(path.glob(MANIFEST_NAME))
        if len(found) != 1:
            raise ValueError(f"model folder {path}: expected one *.manifest.json (or {MANIFEST_NAME}), "
                             f"got {', '.join(f.name for f in found) or 'none'}")
        return found[0]
    if precision != "fp32":  # export.py writes out/NAME.onnx, out/NAME.<precision>.onnx and out/NAME.manifest.json
        stem = path.name.removesuffix(".onnx").removesuffix(".fp16").removesuffix(".int8")
        sibling = path.with_name(stem + ".manifest.json")
        return sibling if sibling.is_file() else None
    return None


def select_model_file(path: str | Path, precision: str = "fp32") -> Path:
    """The .onnx file to load: ``path`` itself, or the file an export manifest names.

    The manifest is ``path`` (a .json file), the one manifest in folder ``path``, or, with a
    ``precision`` other than fp32, the ``NAME.manifest.json`` beside ``NAME.onnx``. Its ``model``
    entry names the fp32 file, ``model_fp16``/``model_int8`` the others (relative to the
    manifest); ``precision`` picks one of those when the manifest lists it.
    """
    path = Path(path)
    manifest = _manifest_for(path, precision)
    if manifest is None:
        return path
    if not manifest.is_file():
        raise FileNotFoundError(f"model manifest not found: {manifest}")
    try:
        entries = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"model manifest {manifest}: expected JSON, got an unreadable file ({exc})") from None
    if not isinstance(entries, dict) or not isinstance(entries.get("model"), str):
        got = sorted(entries) if isinstance(entries, dict) else type(entries).__name__
        raise ValueError(f"model manifest {manifest}: expected a 'model' entry naming the .onnx file, got {got}")
    key = f"model_{precision}" if isinstance(entries.get(f"model_{precision}"), str) else "model"
    if precision != "fp32" and key == "model":
        log.info("model manifest %s lists no %s file; using %s", manifest, precision, entries["model"])
    return manifest.parent / entries[key]
