"""``sensorium doctor``, ``sensorium models list`` and ``sensorium export``, registered on the main app.

Heavy imports (onnxruntime, torch, ray) happen inside the commands, so ``sensorium --help``
stays fast.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from sensorium.pipeline.cli.common import setup_logging

_STYLE = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "bold red", "skip": "dim"}
app = typer.Typer(help="Check the install, list and export models.")
models_app = typer.Typer(help="Registered model weights.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.command("doctor")
def doctor(
    ray: bool = typer.Option(False, "--ray", help="Also start and stop a local Ray (takes seconds)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Check this machine: package versions, CPU, GPU, onnxruntime providers, Ray, triton, weights.

    Exits 1 when something required is broken, and says which."""
    setup_logging(verbose, logging.ERROR)  # provider failures are in the report; their log warnings would repeat them
    from sensorium.pipeline.tools.doctor import run_doctor

    report = run_doctor(ray=ray)
    out = Console()
    if as_json:
        typer.echo(report.to_json())
    else:
        table = Table(title="sensorium doctor")
        for col in ("check", "status", "value", "detail"):
            table.add_column(col, overflow="fold")
        section = None
        for c in report.checks:
            if section is not None and c.section != section:
                table.add_section()
            name = c.name.removesuffix("ExecutionProvider")  # the JSON keeps onnxruntime's full names
            label = f"{c.section}: {name}" if c.section != section else f"  {name}"
            section = c.section
            status = f"[{_STYLE[c.status]}]{c.status}{' (required)' if c.required and c.status == 'fail' else ''}[/]"
            table.add_row(escape(label), status, escape(c.value), escape(c.detail))  # details quote "[ONNXRuntimeError]"
        out.print(table)
    if report.broken:
        what = "; ".join(f"{c.section} {c.name}: {c.value} {c.detail}".strip() for c in report.broken)
        Console(stderr=True).print(f"[bold red]broken:[/] {escape(what)}")
        raise typer.Exit(1)
    if not as_json:
        out.print("[green]nothing required is broken[/]")


@models_app.command("list")
def models_list(
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir",
                                             help="Weights cache (default: $SENSORIUM_CACHE or ~/.cache/sensorium/weights)."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """Every registered set of weights: file, whether it is here, where from, sha256 check, licence,
    and whether ``sensorium export`` takes it (under the same name: one name per model)."""
    from sensorium.models.hub.weights import PackageFile, Url, default_cache_dir, hash_rule, list_weights, status

    try:
        exportable = {n for n, trained in exportable_models() if trained}
    except ImportError:  # no torch/onnxscript here: nothing exports
        exportable = set()
    rows = []
    for entry in list_weights():
        st = status(entry.name, cache_dir=cache_dir)
        get = next((f"pip install {s.pip or s.package}" if isinstance(s, PackageFile) else f"download {s.url}"
                    for s in entry.sources if isinstance(s, (PackageFile, Url))), "")
        sha = ("verified" if st.verified else "MISMATCH" if st.verified is False
               else "not pinned" if st.present else hash_rule(entry))
        rows.append({"name": entry.name, "file": entry.filename, "format": entry.format, "present": st.present,
                     "path": str(st.path) if st.path else None, "source": st.source, "detail": st.detail, "get": get,
                     "sha256": sha, "license": entry.license, "commercial": entry.commercial,
                     "export": entry.name in exportable})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="registered weights")
    for col in ("weights", "file", "present", "source", "sha256", "licence", "export"):
        table.add_column(col, overflow="fold")
    for r in rows:
        present = "[green]yes[/]" if r["present"] else "[bold red]bad file[/]" if r["sha256"] == "MISMATCH" else "[yellow]no[/]"
        source = r["source"] if r["present"] else f"missing: {r['get']}" if r["get"] else "missing"
        licence = r["license"] + ("" if r["commercial"] else " [bold]non-commercial: opt-in[/]")
        table.add_row(escape(r["name"]), escape(r["file"]), present, escape(source), escape(r["sha256"]), licence,
                      f"sensorium export {r['name']}" if r["export"] else "-")
    out = Console()
    out.print(table)
    if not all(r["present"] for r in rows):
        out.print(f"Missing weights: sensorium models pull NAME, do what 'source' says, or put the file in "
                  f"{cache_dir or default_cache_dir()}. A file with no published hash is trusted on its first pull: its "
                  "sha256 is recorded then and checked on every later use.")
    for r in rows:
        if r["sha256"] == "MISMATCH":
            out.print(f"[bold red]{escape(r['name'])}:[/] {escape(r['detail'])}")


@models_app.command("pull")
def models_pull(
    name: str = typer.Argument(..., help="Registered weights name (sensorium models list)."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Weights cache (default: $SENSORIUM_CACHE or ~/.cache/sensorium/weights)."),
    accept_license: bool = typer.Option(False, "--accept-license", help="Fetch weights whose licence forbids commercial use."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Fetch registered weights into the cache: verified by size and sha256 (full, the file
    name's prefix, or recorded on this first pull), renamed into place only when whole. A
    cached file that fails verification is fetched again. Exits 2 when it cannot."""
    setup_logging(verbose, logging.WARNING)
    from sensorium.models.hub import weights as registry

    try:
        entry, path = pull_weights(name, cache_dir=cache_dir, accept_license=accept_license)
    except (registry.UnknownWeightsError, registry.WeightsNotFoundError, registry.WeightsChecksumError,
            registry.LicenseNotAcceptedError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    Console().print(escape(f"{name}: {path} ({registry.hash_rule(entry)}; licence {entry.license})"))


def pull_weights(name: str, *, cache_dir: Optional[Path] = None, accept_license: bool = False) -> tuple[Any, Path]:
    """(entry, path) of registered weights ``name``, fetched into the cache with a progress bar on
    stderr when they are not here (verified, as :func:`~sensorium.models.hub.weights.resolve`
    does); its errors pass through. ``models pull`` and ``run/batch --allow-download`` use it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from sensorium.models.hub import weights as registry

    entry = registry.get_weights(name)
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(name, total=entry.size)
        path = registry.resolve(name, cache_dir=cache_dir, allow_download=True, accept_license=accept_license,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
    return entry, path


import_app = typer.Typer(help="Import checkpoints you already have into sensorium's weights format.", no_args_is_help=True)
models_app.add_typer(import_app, name="import")


def _import_target(path: Path, out: Optional[Path], suffix: str) -> Path:
    from sensorium.models.hub.weights import default_cache_dir

    return out or default_cache_dir() / "imported" / f"{path.stem if path.is_file() else path.name}{suffix}.pt"


def _run_import(what: str, fn: Any, target: Path, use: str) -> None:
    err = Console(stderr=True)
    try:
        written = fn()
    except (ValueError, FileNotFoundError, KeyError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    Console().print(escape(f"imported {what} to {written} (contract in {written.with_suffix('.json')}); use it: {use}{written}"))


@import_app.command("detr")
def import_detr_command(
    path: Path = typer.Argument(..., help="A facebookresearch DETR .pth, or a Hugging Face folder (config.json + model.safetensors)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The .pt to write (default: the cache's imported/ folder)."),
    backbone: str = typer.Option("resnet50", help="Backbone of a .pth (the Hugging Face folder records its own)."),
    license: str = typer.Option("Apache-2.0", "--license", help="Licence recorded with the weights."),
) -> None:
    """Import a public DETR checkpoint: every key must fit; the SPP block starts at zero, so the
    outputs are the original's. Writes the .pt and its JSON (config, COCO labels, mean/std)."""
    from sensorium.models.zoo.importers.detr import import_detr

    target = _import_target(path, out, "")
    _run_import("DETR", lambda: import_detr(path, target, backbone=backbone, license=license), target, "--set detect.weights=")


@import_app.command("open_clip")
def import_open_clip_command(
    path: Path = typer.Argument(..., help="An open_clip state dict (.bin, .pt, .pth or .safetensors)."),
    model: Optional[str] = typer.Option(None, "--model", help="open_clip architecture, e.g. ViT-B-32, ViT-B-16-SigLIP."),
    config_json: Optional[Path] = typer.Option(None, "--config-json", help="An open_clip model config instead of --model."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The .pt to write (default: the cache's imported/ folder)."),
    license: str = typer.Option("see the checkpoint's source", "--license", help="Licence recorded with the weights."),
) -> None:
    """Import an open_clip checkpoint of a named architecture: writes the .pt and its JSON
    (architecture, family, input size, mean/std, licence, source sha256)."""
    from sensorium.models.zoo.importers.open_clip import import_open_clip

    target = _import_target(path, out, "")
    _run_import("open_clip", lambda: import_open_clip(path, target, model=model, config_json=config_json, license=license),
                target, "--set embed.weights=")


class _ExportCommand(TyperCommand):
    """``export``'s command: its help lists what can be exported, read from the model registry
    when the help is shown (the registry imports torch, which ``sensorium --help`` must not)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        try:
            self.epilog = "Exportable models: " + "; ".join(
                f"{n} ({'trained weights' if w else 'no trained weights: needs --untrained'})" for n, w in exportable_models())
        except ImportError as exc:  # torch/onnxscript missing: say so instead of listing nothing
            self.epilog = f"Model export is not available here: {exc}"
        super().format_help(ctx, formatter)


def exportable_models() -> list[tuple[str, bool]]:
    """(name, has trained weights) of every registered model, the names ``export`` takes."""
    from sensorium.models.hub.registry import get_model, list_models

    return [(n, get_model(n).weights is not None) for n in list_models()]


@app.command("export", cls=_ExportCommand)
def export(
    name: str = typer.Argument(..., help="Registered model name: one name for a model and its weights, as `sensorium models list` "
                               "and `--set detect.weights=` say it (the list is at the end of this help)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for the .onnx file(s)."),
    opset: Optional[int] = typer.Option(None, help="ONNX opset (default: the model's)."),
    fp16: bool = typer.Option(False, "--fp16", help="Also write an fp16 copy (GPU)."),
    int8: bool = typer.Option(False, "--int8", help="Also write a dynamically quantised int8 copy (CPU speed)."),
    untrained: bool = typer.Option(False, "--untrained", help="Export a model that has no trained weights (random parameters: "
                                   "for testing a runtime or a deployment path, not for use)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Export a registered model to ONNX in OUT (with its trained weights; a model without any is
    refused unless --untrained, since an ONNX file of random parameters looks like a model)."""
    setup_logging(verbose, logging.ERROR)
    err = Console(stderr=True)
    try:
        from sensorium.models.hub.export import export_model  # torch + onnxscript: only when exporting
    except ImportError as exc:
        err.print(f"[red]error:[/red] model export is not available: {escape(str(exc))}")
        raise typer.Exit(2)
    try:
        clip = _open_clip_weights(name)
        if clip is not None:  # two towers, two graphs: open_clip has no ONNX export of its own
            from sensorium.models.zoo.importers.open_clip import export_imported

            trained, path = True, export_imported(clip, out)
        else:
            trained = _check_exportable(name, untrained)
            path = export_model(name, out, opset=opset, fp16=fp16, int8=int8)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)  # KeyError's str() adds quotes
        err.print(f"[red]error:[/red] {escape(str(message))}")
        raise typer.Exit(2)
    Console().print(escape(f"exported {name} to {path}"))
    if not trained:
        err.print(f"[bold yellow]note:[/] {escape(name)} has no trained weights: {escape(str(path))} computes nothing meaningful "
                  "(random parameters, exported because --untrained was given)")


def _open_clip_weights(name: str) -> str | None:
    """The imported ``.pt`` behind ``name`` when it is open_clip weights (a registered tag, imported
    on first use, or a ``.pt`` written by ``models import open_clip``), else None."""
    from sensorium.models.hub.weights import list_weights

    if Path(name).suffix == ".pt":
        meta = Path(name).with_suffix(".json")
        if meta.is_file() and json.loads(meta.read_text()).get("source", {}).get("layout") == "open_clip":
            return name
        return None
    entry = next((w for w in list_weights() if w.name == name), None)
    if entry is None or not (entry.importer or "").startswith("open_clip:"):
        return None
    from sensorium.models.zoo.importers.prepared import prepare

    return prepare(name)


def _check_exportable(name: str, untrained: bool) -> bool:
    """Whether ``name`` exports with trained weights; ValueError for a name ``export`` does not
    take (registered weights with no model to build, e.g. an ONNX or TFLite file) or for a model
    without trained weights unless ``untrained``."""
    from sensorium.models.hub.registry import get_model, list_models
    from sensorium.models.hub.weights import list_weights

    models = dict(exportable_models())
    if name not in models:
        entry = next((w for w in list_weights() if w.name == name), None)
        if entry is not None:
            raise ValueError(f"{name!r} are registered weights ({entry.format}, {entry.filename}) with no model to export: "
                             f"{'use the file as it is' if entry.format == 'onnx' else 'sensorium runs it through its own stage'}; "
                             f"export takes {', '.join(list_models())}")
        get_model(name)  # raises, naming the known ones (and a near spelling)
    if not models[name] and not untrained:
        raise ValueError(f"model {name!r} has no trained weights: its export would hold random parameters. Pass --untrained to "
                         "export the graph anyway (to test a runtime or a deployment path); models with trained weights: "
                         f"{', '.join(n for n, w in models.items() if w) or 'none'}")
    return models[name]
