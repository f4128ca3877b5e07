"""``sensorium models list`` and ``sensorium export`` agree on one name per model, and export
says what it takes and refuses a model without trained weights unless told."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sensorium.pipeline.cli.models import app, exportable_models

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def _text(result) -> str:
    return " ".join(result.output.split())


def test_the_shipped_detector_has_one_name_in_the_list_the_export_and_the_stage_option(tmp_path):
    from sensorium.stages.detect.stage import DetectConfig

    assert ("detr_spp_shapes", True) in exportable_models()
    assert DetectConfig().weights == "detr_spp_shapes"  # --set detect.weights= says the same name
    rows = {r["name"]: r for r in json.loads(runner.invoke(app, ["models", "list", "--json", "--cache-dir", str(tmp_path)]).stdout)}
    assert rows["detr_spp_shapes"]["export"] is True and rows["yunet_s"]["export"] is False
    listed = runner.invoke(app, ["models", "list", "--cache-dir", str(tmp_path)], env=WIDE)
    assert "sensorium export detr_spp_shapes" in listed.output


def test_export_help_lists_what_it_can_export():
    result = runner.invoke(app, ["export", "--help"], env=WIDE)
    assert result.exit_code == 0
    text = _text(result)
    assert "Exportable models:" in text and "detr_spp_shapes (trained weights)" in text
    assert "cnn-small (no trained weights: needs --untrained)" in text


def test_a_model_without_trained_weights_is_refused_unless_untrained(tmp_path):
    result = runner.invoke(app, ["export", "vit-tiny", "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2
    assert "error: model 'vit-tiny' has no trained weights: its export would hold random parameters. Pass --untrained" in _text(result)
    assert not list(tmp_path.iterdir())  # nothing written


def test_names_export_does_not_take_are_explained(tmp_path):
    result = runner.invoke(app, ["export", "detr-spp-shapes", "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2 and "unknown model 'detr-spp-shapes' (did you mean 'detr_spp_shapes'?)" in _text(result)
    result = runner.invoke(app, ["export", "yunet_s", "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2
    assert "'yunet_s' are registered weights (onnx, yunet_s_640_640.onnx) with no model to export: use the file as it is" in _text(result)
