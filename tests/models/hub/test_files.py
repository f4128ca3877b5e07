"""sha256_file: the cache keyed by path, size and mtime, and the fresh read a tamper check needs."""

from __future__ import annotations

import hashlib
import os

import pytest

from sensorium.models.hub.files import sha256_file


def test_hash_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "w.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read chunk
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == sha256_file(path, fresh=True) == hashlib.sha256(data).hexdigest()


def test_a_rewritten_file_is_hashed_again(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"first")
    assert sha256_file(path) == hashlib.sha256(b"first").hexdigest()
    path.write_bytes(b"second, longer")
    assert sha256_file(path) == hashlib.sha256(b"second, longer").hexdigest()


def test_fresh_reads_what_same_size_and_mtime_would_hide(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"original")
    before = path.stat()
    assert sha256_file(path) == hashlib.sha256(b"original").hexdigest()
    path.write_bytes(b"tampered")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    assert sha256_file(path) == hashlib.sha256(b"original").hexdigest()  # the cache trusts the metadata
    assert sha256_file(path, fresh=True) == hashlib.sha256(b"tampered").hexdigest()
    assert sha256_file(path) == hashlib.sha256(b"tampered").hexdigest()  # and the fresh read updates it


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "missing.bin")
