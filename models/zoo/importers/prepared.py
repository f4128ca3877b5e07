"""Registered public weights as a stage uses them: the published file resolved (downloaded only
when allowed) and imported once into the cache, keyed by its sha256, so a stage's
``weights=detr-r50-coco`` works the same as a path to an imported ``.pt``."""

from __future__ import annotations

from pathlib import Path

from sensorium.models.hub import weights as registry
from sensorium.models.hub.files import sha256_file


def imported_path(name: str, source: Path, cache_dir: Path | None = None) -> Path:
    """Where the import of ``source`` (registered as ``name``) lives in the cache."""
    cache = cache_dir or registry.default_cache_dir()
    return cache / "imported" / f"{name}-{sha256_file(source)[:16]}.pt"


def prepare(weights: str, *, allow_download: bool = False, cache_dir: Path | None = None) -> str:
    """``weights`` unchanged when it is a path or a registered name used as it is; for a name
    with an importer, the path of its imported ``.pt`` (importing on first use)."""
    if Path(weights).suffix in (".pt", ".pth") or Path(weights).is_file():
        return weights
    entry = registry.get_weights(weights)
    if entry.importer is None:
        return weights
    source = registry.resolve(weights, cache_dir=cache_dir, allow_download=allow_download)
    out = imported_path(weights, source, cache_dir)
    if out.is_file() and out.with_suffix(".json").is_file():
        return str(out)
    if entry.importer.startswith("detr:"):
        from sensorium.models.zoo.importers.detr import import_detr

        import_detr(source, out, backbone=entry.importer.split(":", 1)[1], license=entry.license, labels=entry.labels)
    elif entry.importer.startswith("open_clip:"):
        from sensorium.models.zoo.importers.open_clip import import_open_clip

        import_open_clip(source, out, model=entry.importer.split(":", 1)[1], license=entry.license)
    else:
        raise ValueError(f"weights {weights!r}: unknown importer {entry.importer!r}")
    return str(out)
