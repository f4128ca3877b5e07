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


# --- models pull, on a loopback HTTP server -----------------------------------------------------

def _serve(folder):
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _register(monkeypatch, name, url, sha256):
    from sensorium.models.hub import weights as w

    w._load_builtin_weights()
    monkeypatch.setattr(w, "_REGISTRY", dict(w._REGISTRY))
    w.register_weights(w.WeightsEntry(name=name, filename=f"{name}.bin", sha256=sha256, sources=(w.Url(url),),
                                      license="MIT", description="test weights"))


def test_models_pull_fetches_verifies_and_lists_it_as_present(tmp_path, monkeypatch):
    import hashlib

    (tmp_path / "www").mkdir()
    body = b"weights" * 10000
    (tmp_path / "www" / "w.bin").write_bytes(body)
    server = _serve(tmp_path / "www")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/w.bin"
        _register(monkeypatch, "pull-test", url, hashlib.sha256(body).hexdigest())
        result = runner.invoke(app, ["models", "pull", "pull-test", "--cache-dir", str(tmp_path / "cache")], env=WIDE)
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cache" / "pull-test.bin").read_bytes() == body and "sha256 pinned" in result.output
    rows = {r["name"]: r for r in json.loads(runner.invoke(app, ["models", "list", "--json", "--cache-dir", str(tmp_path / "cache")]).stdout)}
    assert rows["pull-test"]["present"] and rows["pull-test"]["sha256"] == "verified"


def test_models_pull_offline_names_the_file_the_url_and_the_cache_path_and_exits_2(tmp_path, monkeypatch):
    server = _serve(tmp_path)  # a port that was open and is closed: nothing answers there
    port = server.server_address[1]
    server.server_close()
    url = f"http://127.0.0.1:{port}/w.bin"
    _register(monkeypatch, "offline-test", url, "0" * 64)
    result = runner.invoke(app, ["models", "pull", "offline-test", "--cache-dir", str(tmp_path / "cache")], env=WIDE)
    text = _text(result)
    assert result.exit_code == 2
    for part in ("offline-test.bin", url, str(tmp_path / "cache" / "offline-test.bin"), "download failed"):
        assert part in text, text
    assert not (tmp_path / "cache" / "offline-test.bin").exists()


def test_models_list_says_how_each_public_file_is_checked_and_which_are_opt_in(tmp_path):
    rows = {r["name"]: r for r in json.loads(runner.invoke(app, ["models", "list", "--json", "--cache-dir", str(tmp_path)]).stdout)}
    assert rows["detr-r50-coco"]["sha256"].startswith("sha256 prefix e632da11")
    assert "trust on first use" in rows["clip-vit-b-32-laion2b"]["sha256"]
    assert rows["arcface-w600k-r50"]["commercial"] is False and rows["detr-r50-coco"]["commercial"] is True
    listed = _text(runner.invoke(app, ["models", "list", "--cache-dir", str(tmp_path)], env=WIDE))
    assert "non-commercial: opt-in" in listed and "trusted on its first pull" in listed
