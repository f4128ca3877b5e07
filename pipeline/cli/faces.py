"""``sensorium faces enroll|list|remove|identify``: the face gallery from the command line.

Every command takes ``--gallery PATH`` (default: ``faces.sqlite`` in the user's data
directory, ``$XDG_DATA_HOME/sensorium`` or ``~/.local/share/sensorium``). Images are read with
the pipeline's own reader, so a corrupt, cut or oversized file (a decompression bomb) gets the
same clear error as in a run, naming the photo, and one bad photo never stops the others.
Exit codes: ``enroll`` 1 when no photo gave a usable face (nothing enrolled), 0 otherwise, the
skipped photos listed; ``identify`` 1 when any image could not be read, after every image has
had its line.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console

faces_app = typer.Typer(help="Enrol, list, remove and identify faces in a persistent gallery.", no_args_is_help=True)
console = Console(stderr=True)
log = logging.getLogger(__name__)


def default_gallery() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "sensorium" / "faces.sqlite"


_GALLERY = typer.Option(None, "--gallery", "-g", help="Gallery file (SQLite). Default: faces.sqlite in the user's data directory.")
_RECOGNIZER = typer.Option("dlib", "--recognizer", help="dlib (bundled weights) or onnx (an ArcFace-style model, --model).")
_MODEL = typer.Option(None, "--model", help="ArcFace-style .onnx for --recognizer onnx.")


def _stage(recognizer: str, model: Optional[Path], gallery: Optional[Path] = None, threshold: Optional[float] = None, max_side: int = 1280) -> Any:
    from sensorium.stages.face.stage import FaceStage

    try:
        stage = FaceStage({"recognizer": recognizer, "recognizer_path": str(model) if model else None, "threshold": threshold,
                           "gallery": str(gallery) if gallery else None, "keep_chips": False, "max_side": max_side})
        stage.setup()
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    return stage


def _expand(patterns: list[str]) -> list[str]:
    out = []
    for p in patterns:
        hits = sorted(glob.glob(p)) if any(ch in p for ch in "*?[") else [p]
        out += hits or [p]  # an unmatched pattern is reported as a missing file
    return out


def _read(path: str) -> Any:
    from sensorium.pipeline.io.sources import read_image

    return read_image(path)


def _why(exc: Exception) -> str:
    """What was wrong with a photo, without its path (the caller names it once)."""
    from sensorium.pipeline.io.sources import ImageError

    if isinstance(exc, ImageError):
        return exc.problem
    if isinstance(exc, OSError):
        return f"cannot read ({exc.strerror or exc})"
    return str(exc)


@faces_app.command("enroll")
def enroll(
    images: List[str] = typer.Argument(..., help="Photos of the person (files or globs); one face each, the largest is used."),
    name: str = typer.Option(..., "--name", "-n", help="Identity to enrol the photos under (created if new)."),
    gallery: Optional[Path] = _GALLERY,
    recognizer: str = _RECOGNIZER,
    model: Optional[Path] = _MODEL,
    allow_low_quality: bool = typer.Option(False, help="Enrol faces flagged low quality too."),
) -> None:
    """Add photos of one person to the gallery. Low-quality faces (small, blurred, turned) are skipped."""
    from sensorium.stages.face.gallery import FaceGallery

    stage = _stage(recognizer, model)
    path = gallery or default_gallery()
    vectors, sources, quality, skipped = [], [], [], []
    for file in _expand(images):
        try:
            faces = stage.analyze([_read(file)])[0]
        except (OSError, ValueError) as exc:
            skipped.append((file, _why(exc)))
            continue
        if len(faces) == 0:
            skipped.append((file, "no face found"))
            continue
        i = int(faces.data["size"].argmax())
        if faces.data["low_quality"][i] and not allow_low_quality:
            d = faces.data
            skipped.append((file, f"low quality face (size {d['size'][i]:.0f} px, blur {d['blur'][i]:.0f}, yaw {d['yaw'][i]:+.2f})"))
            continue
        vectors.append(faces.embeddings[i])
        sources.append(str(file))
        quality.append(float(faces.quality[i]))
    for file, why in skipped:
        console.print(f"[yellow]skipped[/yellow] {file}: {why}")
    if not vectors:
        console.print(f"[red]error:[/red] no usable face in {len(images)} input(s); nothing enrolled")
        raise typer.Exit(1)
    import numpy as np

    with FaceGallery(path) as g:
        total = g.enroll(name, np.stack(vectors), stage.backend_key, sources=sources, quality=quality)
    typer.echo(json.dumps({"name": name, "enrolled": len(vectors), "photos": total, "skipped": len(skipped), "gallery": str(path)}))


@faces_app.command("list")
def list_cmd(gallery: Optional[Path] = _GALLERY) -> None:
    """Identities in the gallery, with their photo counts (JSON lines)."""
    from sensorium.stages.face.gallery import FaceGallery

    path = gallery or default_gallery()
    try:
        with FaceGallery(path, read_only=True) as g:
            people = g.list()
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for p in people:
        typer.echo(json.dumps({"name": p.name, "photos": p.photos, "backends": list(p.backends)}))


@faces_app.command("remove")
def remove(name: str = typer.Argument(..., help="Identity to delete with all its photos."), gallery: Optional[Path] = _GALLERY) -> None:
    """Delete an identity from the gallery."""
    from sensorium.stages.face.gallery import FaceGallery

    path = gallery or default_gallery()
    if not path.is_file():
        console.print(f"[red]error:[/red] face gallery not found: {path}")
        raise typer.Exit(2)
    with FaceGallery(path) as g:
        if not g.remove(name):
            console.print(f"[red]error:[/red] no identity {name!r} in {path}")
            raise typer.Exit(1)
    typer.echo(json.dumps({"removed": name}))


def faces_json(faces: Any) -> list[dict[str, Any]]:
    """One JSON object per face: box, landmarks, score, quality, identity (null: unknown), similarity."""
    out = []
    ident = faces.data.get("identity")
    for i in range(len(faces)):
        out.append({
            "box": [round(float(v), 1) for v in faces.boxes[i]],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in faces.landmarks[i]],
            "score": round(float(faces.scores[i]), 4),
            "quality": None if faces.quality is None else round(float(faces.quality[i]), 3),
            "low_quality": bool(faces.data["low_quality"][i]),
            "identity": None if ident is None else ident[i],
            "similarity": None if faces.similarity is None else round(float(faces.similarity[i]), 4),
        })
    return out


@faces_app.command("identify")
def identify(
    images: List[str] = typer.Argument(..., help="Images (files or globs)."),
    gallery: Optional[Path] = _GALLERY,
    recognizer: str = _RECOGNIZER,
    model: Optional[Path] = _MODEL,
    threshold: Optional[float] = typer.Option(None, help="Similarity a match needs (default: the recogniser's calibrated value)."),
) -> None:
    """Print one JSON line per image: its faces with identity (null when unknown) and similarity,
    or the error that kept it from being read; exit code 1 when any image could not be read."""
    path = gallery or default_gallery()
    stage = _stage(recognizer, model, path, threshold)
    failed = 0
    for file in _expand(images):
        try:
            faces = stage.analyze([_read(file)])[0]
        except (OSError, ValueError) as exc:
            failed += 1
            typer.echo(json.dumps({"image": file, "error": _why(exc)}))
            continue
        typer.echo(json.dumps({"image": file, "faces": faces_json(faces)}))
    if failed:
        raise typer.Exit(1)
