"""What the command line checks before a model loads or Ray starts, so a run that cannot work
says why in well under a second instead of after Ray's start-up (seconds) and once per actor:
each stage can run here and under this command, and the sources give each stage what its
frames need."""

from __future__ import annotations

from typing import Any, Sequence

from sensorium.stages.base import get_stage_class, refuse_ordered

#: a Frame field a stage may need → (what it is, how ``sensorium run`` is given one)
HOW_TO_GIVE: dict[str, tuple[str, str]] = {
    "right": ("a stereo pair", "--left L --right R [--calib FILE], --side-by-side FILE, or --source FOLDER holding left/ and right/"),
    "sensor_depth": ("an RGB-D source", "--source rgbd:FOLDER (colour images + 16-bit depth PNGs)"),
}


def check_stages(stages: Sequence[tuple[str, Any]], *, command: str, allow_download: bool = False) -> None:
    """Raise ValueError naming the first stage of ``stages`` ((name, built config) in order) that
    cannot run under ``command`` (``run``, ``batch``, ``serve``): a stage that keeps state across
    a source's frames (``ordered``) outside ``run``, or one whose ``available()`` is false while
    it runs with its default options (other options, such as ``embed.weights=PATH``, may supply
    what the defaults lack: their own set-up says so if not). ``allow_download``: registered
    weights that are not here are fetched now (``--allow-download``), before Ray starts."""
    if command != "run":  # the library's own check (batch, /v1/perceive), so every way in says the same
        refuse_ordered({name: get_stage_class(name) for name, _ in stages},
                       f"'sensorium {command}' treats each image alone; run it with `sensorium run` over a video or camera")
    for name, config in stages:
        cls = get_stage_class(name)
        ok, why = cls.available()
        if not ok and _is_default(cls, config):
            raise ValueError(f"stage {name!r} cannot run here: {why}")
        _check_named_weights(name, config, allow_download)


def _check_named_weights(stage: str, config: Any, allow_download: bool = False) -> None:
    """A stage option ``weights`` that names registered weights (``detect.weights=detr-r50-coco``)
    must be here and verified: missing, it says which file, its URL and the cache path to put it
    in (``sensorium models pull NAME``), unless ``allow_download`` fetches it (verified) now."""
    from pathlib import Path

    from sensorium.models.hub.weights import LicenseNotAcceptedError, UnknownWeightsError, resolve

    name = getattr(config, "weights", None)
    if not isinstance(name, str) or Path(name).suffix or Path(name).exists():
        return
    try:
        resolve(name)
        return
    except UnknownWeightsError:
        return  # not a registered name: the stage's own set-up says what it expected
    except (FileNotFoundError, ValueError) as exc:  # missing, or a cached file that fails its sha256
        if not allow_download:
            raise ValueError(f"stage {stage!r}: {exc}\nOr let this command fetch it: --allow-download") from None
    from sensorium.pipeline.cli.models import pull_weights  # outside the handler: its logs carry no old traceback

    try:
        pull_weights(name)
    except (FileNotFoundError, ValueError, LicenseNotAcceptedError) as exc:
        raise ValueError(f"stage {stage!r}: {exc}") from None


def _is_default(cls: type, config: Any) -> bool:
    try:
        return config == cls.Config()
    except (ValueError, TypeError):  # the defaults cannot even be built: the options given are not them
        return False


def unfed_stage(name: str, sources: Sequence[Any]) -> str | None:
    """Why stage ``name`` cannot be fed by ``sources`` (it needs a stereo pair or RGB-D,
    ``Stage.frame_needs``, and a source gives single images, ``Source.extras``), saying how to
    give it; None when every source gives what it needs."""
    needs = get_stage_class(name).frame_needs
    for src in sources:
        if needs and not set(needs) & src.extras:
            what = " or ".join(HOW_TO_GIVE.get(n, (f"frames with {n}", ""))[0] for n in needs)
            how = "; ".join(f"{HOW_TO_GIVE[n][0]}: {HOW_TO_GIVE[n][1]}" for n in needs if n in HOW_TO_GIVE)
            return f"stage {name!r} needs {what}, and source {src.source_id!r} gives single images. Give {how}"
    return None


def check_sources(stages: Sequence[str], sources: Sequence[Any]) -> None:
    """Raise ValueError (:func:`unfed_stage`'s reason) for the first stage the sources cannot feed."""
    for name in stages:
        why = unfed_stage(name, sources)
        if why:
            raise ValueError(why)
