"""The one download path (weights and test data): whole and checked, or nothing, from a real HTTP
server on loopback."""

from __future__ import annotations

import pytest

from sensorium.models.hub.download import ChecksumError, check_sha256, download, mirrored


@pytest.fixture
def server(loopback):
    return loopback.files, loopback.base


def _refuse(tmp):
    raise ChecksumError(f"{tmp}: not the bytes wanted")


@pytest.mark.parametrize("served, check, error", [
    ((b"whole", 5), _refuse, "not the bytes wanted"),
    ((b"half", 100), lambda tmp: None, "truncated"),
])
def test_a_refused_or_broken_download_leaves_the_old_file_and_nothing_else(tmp_path, server, served, check, error):
    files, base = server
    files["/f"] = served
    dest = tmp_path / "cache" / "f.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(ChecksumError, match=error):
        download(base + "/f", dest, check=check)
    assert [p.name for p in dest.parent.iterdir()] == ["f.bin"] and dest.read_bytes() == b"old"


def test_a_checked_download_replaces_the_file_and_reports_progress(tmp_path, server):
    files, base = server
    body = b"w" * (3 << 20)
    files["/f"] = (body, len(body))
    seen = []
    path = download(base + "/f", tmp_path / "f.bin", check=lambda tmp: check_sha256(tmp, sha256=None, size=len(body)),
                    progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == body and seen[-1] == (len(body), len(body))


def test_check_names_the_file_what_was_expected_and_what_was_found(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    with pytest.raises(ChecksumError, match=r"x.bin: 3 bytes, expected 4"):
        check_sha256(f, sha256=None, size=4)
    with pytest.raises(ChecksumError, match=r"sha256 ba7816bf[0-9a-f]+, expected 0{64}"):
        check_sha256(f, sha256="0" * 64)


def test_a_mirror_is_a_base_url_joined_to_the_name(monkeypatch):
    monkeypatch.delenv("SENSORIUM_MODELS_MIRROR", raising=False)
    assert mirrored("SENSORIUM_MODELS_MIRROR", "w.pth") == []
    monkeypatch.setenv("SENSORIUM_MODELS_MIRROR", "http://proxy.local/weights/")
    assert mirrored("SENSORIUM_MODELS_MIRROR", "w.pth") == ["http://proxy.local/weights/w.pth"]
