"""One import of the small random open_clip checkpoint per family for the session, its towers
exported once into a test cache: the importer's embedding test and the run/batch tests read the
same files instead of importing and exporting the same weights twice."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest


@dataclasses.dataclass(frozen=True)
class ImportedOpenClip:
    model: Any  #: open_clip's own model (the reference)
    pt: Path  #: the imported weights (``--set embed.weights=``)
    meta: dict[str, Any]  #: the import's JSON
    cache: Path  #: SENSORIUM_CACHE holding the exported towers
    stage: Any  #: an EmbedStage set up on ``pt`` in that cache


@pytest.fixture(scope="session")
def imported_open_clip(tmp_path_factory) -> Callable[[str], ImportedOpenClip]:
    """``get(family)``: the checkpoint written, imported by ``sensorium models import open_clip``
    and set up in the embed stage (towers exported) on first use of each family."""
    from typer.testing import CliRunner

    from sensorium.pipeline.cli.models import app
    from sensorium.stages.embed.stage import EmbedStage
    from tests.models.zoo.importers.test_open_clip import _open_clip_checkpoint

    made: dict[str, ImportedOpenClip] = {}

    def get(family: str) -> ImportedOpenClip:
        if family not in made:
            root = tmp_path_factory.mktemp(f"open-clip-{family}")
            model, path, cfg = _open_clip_checkpoint(root, family)
            out = root / f"imported-{family}.pt"
            res = CliRunner().invoke(app, ["models", "import", "open_clip", str(path), "--config-json", str(cfg), "--out", str(out),
                                           "--license", "MIT"])
            assert res.exit_code == 0, res.output
            before = os.environ.get("SENSORIUM_CACHE")
            os.environ["SENSORIUM_CACHE"] = str(root / "cache")  # the towers go to the test's cache, not the user's
            try:
                stage = EmbedStage({"model": None, "config_json": None, "weights": str(out)})
                stage.setup()
            finally:
                if before is None:
                    os.environ.pop("SENSORIUM_CACHE", None)
                else:
                    os.environ["SENSORIUM_CACHE"] = before
            made[family] = ImportedOpenClip(model, out, json.loads(out.with_suffix(".json").read_text()), root / "cache", stage)
        return made[family]

    return get
