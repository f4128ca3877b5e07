"""``sensorium data fetch`` and ``sensorium data check``: the real test data in ``SENSORIUM_DATA``,
downloaded and verified from the public sources ``data/manifest.toml`` names (``make data``)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from sensorium.pipeline.cli.common import console, fail

data_app = typer.Typer(help="The real test data (SENSORIUM_DATA): fetch it, check it.", no_args_is_help=True)

_DATA = typer.Option(None, "--data", help="The data folder (default: $SENSORIUM_DATA, else ../shared/data beside the repository).")
_MANIFEST = typer.Option(None, "--manifest", help="The manifest (default: data/manifest.toml in the repository).")


def _load(manifest: Optional[Path], data: Optional[Path]):
    from sensorium.models.hub.weights import data_dir
    from sensorium.pipeline.tools.data_manifest import DEFAULT_MANIFEST, load_manifest

    try:
        return load_manifest(manifest or DEFAULT_MANIFEST), (data or data_dir())
    except ValueError as exc:
        raise fail(str(exc)) from None


@data_app.command("fetch")
def fetch(
    data: Optional[Path] = _DATA,
    manifest: Optional[Path] = _MANIFEST,
    only: List[str] = typer.Option([], "--only", help="Fetch only files under this path prefix, e.g. gui/ (repeatable)."),
) -> None:
    """Download every file the manifest lists that is missing or wrong in the data folder, each
    checked by size and sha256 before it is put in place; files already right are kept, so a
    rerun finishes an interrupted fetch. Set SENSORIUM_DATA_MIRROR to try a mirror (MIRROR/PATH)
    first. Exits 1 when a file could not be fetched, naming it, its URL and where to put it."""
    from sensorium.pipeline.tools.data_manifest import fetch as fetch_files

    m, root = _load(manifest, data)
    console.print(f"test data: {len(m.files)} files in {root}")
    result = fetch_files(m, root, only=only,
                         report=lambda path, what: console.print(f"  {escape(path)}: {escape(what)}", soft_wrap=True))
    console.print(f"{len(result.fetched)} fetched, {len(result.present)} already here, {len(result.failed)} failed")
    if result.failed:
        for path, why in result.failed.items():
            console.print(f"[red]not fetched:[/red] {escape(path)}: {escape(why)}", soft_wrap=True)
        raise typer.Exit(1)


@data_app.command("check")
def check(
    data: Optional[Path] = _DATA,
    manifest: Optional[Path] = _MANIFEST,
    hashes: bool = typer.Option(False, "--hashes", help="Also compare every file's sha256 (reads all the bytes)."),
) -> None:
    """Whether the data folder holds every listed file (size; sha256 with --hashes), offline.
    Exits 2 with one line saying what is missing and to run ``make data`` (``make test`` runs
    this first)."""
    from sensorium.pipeline.tools.data_manifest import problems

    m, root = _load(manifest, data)
    bad = problems(m, root, hashes=hashes)
    if bad:
        raise fail(f"test data: {len(bad)} of {len(m.files)} files missing or wrong in {root} (first: {bad[0]}); "
                   "run `make data` (sensorium data fetch), or set SENSORIUM_DATA to a folder that has them")
    console.print(f"test data: all {len(m.files)} files in {root}" + (" (sha256 verified)" if hashes else ""))
