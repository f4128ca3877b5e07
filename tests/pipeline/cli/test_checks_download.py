"""``run`` and ``batch`` fetch the registered weights a stage names only with ``--allow-download``,
verified, before Ray starts; without it they stop with exit 2, naming the file, its URL and the
cache path. The weights are a real registered entry (CLIP ViT-B/32, laion2b: no published hash,
so trust on first use), served by a mirror on loopback through ``SENSORIUM_MODELS_MIRROR``, the
setting users behind a proxy use. The commands stop at a source that does not exist, after the
weights check and before any model loads or Ray starts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sensorium.deploy.cli import app
from tests.conftest import MIRRORED_FILE as FILE, MIRRORED_NAME as NAME, MIRRORED_PUBLISHED as PUBLISHED

runner = CliRunner()


@pytest.fixture
def mirror(weights_mirror):
    return weights_mirror


def _command(which: str, tmp_path: Path, *extra: str) -> list[str]:
    missing = str(tmp_path / "no-such-input")
    common = ["--stages", "embed", "--set", f"embed.weights={NAME}", *extra]
    if which == "run":
        return ["run", "--source", missing, "--out", str(tmp_path / "out"), *common]
    return ["batch", "--input", missing, "--output", str(tmp_path / "out"), *common]


def _text(result) -> str:
    return " ".join((result.output or "").split())


@pytest.mark.parametrize("which", ["run", "batch"])
def test_without_allow_download_a_missing_model_is_named_with_its_url_and_cache_path(which, tmp_path, mirror):
    _, requested = mirror
    result = runner.invoke(app, _command(which, tmp_path), env={"COLUMNS": "400"})
    text = _text(result)
    assert result.exit_code == 2, text
    for part in (f"weights {NAME!r} ({FILE}) not found", PUBLISHED, str(tmp_path / "cache" / FILE), "--allow-download"):
        assert part in text, (part, text)
    assert requested == [] and not (tmp_path / "cache" / FILE).exists()


@pytest.mark.parametrize("which", ["run", "batch"])
def test_with_allow_download_the_model_is_fetched_verified_before_the_command_goes_on(which, tmp_path, mirror):
    body, requested = mirror
    result = runner.invoke(app, _command(which, tmp_path, "--allow-download"), env={"COLUMNS": "400"})
    text = _text(result)
    assert result.exit_code == 2 and "no-such-input" in text and "not found" not in text, text  # it got past the weights
    assert requested == [f"/{FILE}"]
    cached = tmp_path / "cache" / FILE
    assert cached.read_bytes() == body
    assert (tmp_path / "cache" / f"{FILE}.sha256").read_text().split()[0] == hashlib.sha256(body).hexdigest()


def test_a_cached_file_that_fails_its_hash_is_refused_and_fetched_again_only_when_allowed(tmp_path, mirror):
    body, requested = mirror
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / FILE).write_bytes(body[:1000])  # truncated, against the sha256 its first pull recorded
    (cache / f"{FILE}.sha256").write_text(f"{hashlib.sha256(body).hexdigest()}  {FILE}\n")
    refused = runner.invoke(app, _command("run", tmp_path), env={"COLUMNS": "400"})
    text = _text(refused)
    assert refused.exit_code == 2 and str(cache / FILE) in text, text
    assert f"expected {hashlib.sha256(body).hexdigest()}" in text and hashlib.sha256(body[:1000]).hexdigest() in text
    assert requested == []
    fetched = runner.invoke(app, _command("run", tmp_path, "--allow-download"), env={"COLUMNS": "400"})
    assert fetched.exit_code == 2 and "no-such-input" in _text(fetched), _text(fetched)
    assert requested == [f"/{FILE}"] and (cache / FILE).read_bytes() == body
