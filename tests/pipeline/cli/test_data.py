"""``sensorium data check`` and ``sensorium data fetch`` as a user runs them (``make test`` runs the
check first; ``make data`` the fetch), on a manifest of the test's own served on loopback."""

from __future__ import annotations

import hashlib

import pytest
from typer.testing import CliRunner

from sensorium.deploy.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


@pytest.fixture
def served(tmp_path, loopback):
    """A manifest of two files, one of which the loopback server holds: (manifest path, data folder, base URL)."""
    base = loopback.base + "/"
    loopback.put("/one.jpg", b"one photo")

    def entry(path: str, data: bytes, origin: str) -> str:
        return f'{{ path = "{path}", from = "{origin}", size = {len(data)}, sha256 = "{hashlib.sha256(data).hexdigest()}" }}'

    manifest = tmp_path / "manifest.toml"
    manifest.write_text(f'[source.s]\nbase = "{base}"\nlicense = "MIT"\nchecked = "t"\nfiles = [\n'
                        f'  {entry("photos/one.jpg", b"one photo", "one.jpg")},\n  {entry("photos/two.jpg", b"two", "two.jpg")},\n]\n')
    return manifest, tmp_path / "data", base


def _text(result) -> str:
    return " ".join((result.output or "").split())


def test_check_says_in_one_line_what_is_missing_and_to_run_make_data(served):
    manifest, data, _ = served
    result = runner.invoke(app, ["data", "check", "--manifest", str(manifest), "--data", str(data)], env=WIDE)
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0, result.output
    assert _text(result) == (f"error: test data: 2 of 2 files missing or wrong in {data} (first: photos/one.jpg: missing); "
                             "run `make data` (sensorium data fetch), or set SENSORIUM_DATA to a folder that has them")


def test_fetch_gets_what_it_can_names_what_it_cannot_and_check_then_agrees(served):
    manifest, data, base = served
    args = ["--manifest", str(manifest), "--data", str(data)]
    result = runner.invoke(app, ["data", "fetch", *args], env=WIDE)
    text = _text(result)
    assert result.exit_code == 1, text
    assert "photos/one.jpg: fetched" in text and "1 fetched, 0 already here, 1 failed" in text
    assert f"not fetched: photos/two.jpg: {base}two.jpg: HTTP Error 404" in text and f"put it at {data / 'photos' / 'two.jpg'}" in text
    assert (data / "photos" / "one.jpg").read_bytes() == b"one photo"
    (data / "photos" / "two.jpg").write_bytes(b"two")  # the user follows the advice
    assert runner.invoke(app, ["data", "check", "--hashes", *args], env=WIDE).exit_code == 0
    again = runner.invoke(app, ["data", "fetch", *args], env=WIDE)
    assert again.exit_code == 0 and "0 fetched, 2 already here, 0 failed" in _text(again)


def test_check_refuses_a_broken_manifest_naming_it(tmp_path):
    bad = tmp_path / "manifest.toml"
    bad.write_text("[source.s]\nbase = 'https://x/'\n")
    result = runner.invoke(app, ["data", "check", "--manifest", str(bad), "--data", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2 and "source 's': expected 'license'" in _text(result)
