"""Batch jobs over a bucket: a real S3 HTTP server (moto's standalone server, a separate
process on 127.0.0.1) and a real local Ray. Objects are uploaded with boto3 and read by the
job through pyarrow.fs: every good object gets exactly one row keyed by its URI, every corrupt
or missing one a failure line, and reruns add nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import cv2
import numpy as np
import pytest

from sensorium.models.data.shapes import ShapesConfig, make_image
from sensorium.pipeline.batch.job import FAILURES, iter_rows, list_inputs
from sensorium.pipeline.batch.storage import Storage, is_remote, resolve_options

N_GOOD = 36
BUCKET = "sensorium-test"
CREDS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
         "AWS_EC2_METADATA_DISABLED": "true"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on a free local port; yields its endpoint URL, stops it afterwards."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start on {url}")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


def _client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")


@pytest.fixture(scope="module")
def bucket(s3):
    """36 generated JPEGs under photos/ (three levels), 4 corrupt .jpg objects, and objects the
    glob must not pick up (a PNG, a text file, a JPEG outside photos/)."""
    c = _client(s3)
    c.create_bucket(Bucket=BUCKET)
    shapes = ShapesConfig(size=96, min_scale=10, max_scale=60)
    good = []
    for i in range(N_GOOD):
        img, _, _ = make_image(5, i, shapes)
        key = ["photos", "photos/a", "photos/a/b"][i % 3] + f"/img{i:03d}.jpg"
        c.put_object(Bucket=BUCKET, Key=key, Body=cv2.imencode(".jpg", img[..., ::-1])[1].tobytes())
        good.append(f"s3://{BUCKET}/{key}")
    jpeg = cv2.imencode(".jpg", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
    corrupt = {"photos/bad_text.jpg": b"this is not a jpeg", "photos/a/bad_empty.jpg": b"", "photos/bad_cut.jpg": jpeg[: len(jpeg) // 2],
               "photos/a/b/bad_header.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 40 + b"\xff\xd9"}
    for key, body in corrupt.items():
        c.put_object(Bucket=BUCKET, Key=key, Body=body)
    for key in ("photos/skip.png", "photos/notes.txt", "elsewhere/img.jpg"):
        c.put_object(Bucket=BUCKET, Key=key, Body=jpeg)
    return sorted(good), {f"s3://{BUCKET}/{k}" for k in corrupt}


#: credentials as storage options: the tests' shared Ray started its workers before this module set any AWS_* variable
KEYS = ("--storage-option", "access_key=test", "--storage-option", "secret_key=test")


def _batch(out, *args, endpoint: str | None):
    """``sensorium batch`` in this process on the tests' Ray; ``endpoint``: AWS_ENDPOINT_URL for this call (None: unset)."""
    from typer.testing import CliRunner

    from sensorium.deploy.cli import app

    env = {k: None for k in os.environ if k.startswith("AWS_")} | CREDS | {"AWS_ENDPOINT_URL": endpoint}
    r = CliRunner().invoke(app, ["batch", "--stages", "detect", "--output", str(out), "--batch-size", "8", "--set", "detect.threads=1",
                                 *KEYS, *args], env=env)
    assert r.exit_code == 0, r.output[-3000:] + repr(r.exception)
    return json.loads(r.stdout.strip().splitlines()[-1])


def _check(out, good: list[str], bad: set[str]):
    counts = Counter(r["path"] for r in iter_rows(out))
    assert max(counts.values()) == 1, f"duplicate rows: {[p for p, c in counts.items() if c > 1][:3]}"
    assert sorted(counts) == good
    fails = [json.loads(line) for line in (out / FAILURES).read_text().splitlines()]
    assert Counter(f["path"] for f in fails) == Counter({p: 1 for p in bad})
    return {f["path"]: f for f in fails}


def test_listing_and_reading_objects(s3, bucket, monkeypatch):
    good, bad = bucket
    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3)
    storage = Storage()
    assert list_inputs(f"s3://{BUCKET}/photos/**/*.jpg", storage) == sorted(good + list(bad))
    assert list_inputs(f"s3://{BUCKET}/photos/a/b/", storage) == sorted(u for u in good + list(bad) if "/photos/a/b/" in u)
    assert list_inputs(f"s3://{BUCKET}/photos/*.jpg", storage) == sorted(u for u in good + list(bad) if u.count("/") == 4)
    one = f"s3://{BUCKET}/photos/notes.txt"  # one named object is kept whatever its name; it fails in the job if not an image
    assert list_inputs(one, storage) == [one]
    assert list_inputs(f"s3://{BUCKET}/photos/**/*.webp", storage) == []
    with pytest.raises(FileNotFoundError, match="no-such-bucket/photos: no such bucket or prefix"):
        list_inputs("s3://no-such-bucket/photos/**/*.jpg", storage)
    with pytest.raises(OSError, match="connect"):  # not an empty listing: the server is not there
        list_inputs(f"s3://{BUCKET}/photos/**/*.jpg", Storage({"endpoint_override": f"http://127.0.0.1:{_free_port()}"}))
    assert cv2.imdecode(np.frombuffer(storage.read_bytes(good[0]), np.uint8), cv2.IMREAD_COLOR).shape == (96, 96, 3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        storage.read_bytes(f"s3://{BUCKET}/photos/missing.jpg")
    import pickle

    monkeypatch.delenv("AWS_ENDPOINT_URL")  # a worker without the variable still reaches the same server
    assert pickle.loads(pickle.dumps(storage)).read_bytes(good[1]) == storage.read_bytes(good[1])


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"endpoint_override": "127.0.0.1:9000", "scheme": "http", "region": "eu-west-1"}),
        ({"endpoint_override": "https://minio.local:9000", "region": "us-east-1"},
         {"endpoint_override": "minio.local:9000", "scheme": "https", "region": "us-east-1"}),
        ({"endpoint_override": "localhost:9000", "scheme": "http"}, {"endpoint_override": "localhost:9000", "scheme": "http", "region": "eu-west-1"}),
    ],
)
def test_s3_options_from_the_environment_and_overrides(monkeypatch, options, expected):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert resolve_options("s3", options) == expected


@pytest.mark.parametrize(
    ("path", "remote"),
    [("s3://b/k.jpg", True), ("gs://b/k", True), ("hdfs://nn:8020/x", True), ("file:///tmp/x.jpg", False), ("/tmp/a.jpg", False),
     ("C:/x.jpg", False), ("photos/**/*.jpg", False)],
)
def test_is_remote(path, remote):
    assert is_remote(path) is remote


def test_unknown_storage_option_is_named():
    with pytest.raises(ValueError, match="storage options"):
        Storage({"endpoint": "x"}).fs("s3://b/k")


@pytest.mark.slow
def test_batch_job_over_a_bucket_resumes_by_uri(ray_cluster, s3, bucket, tmp_path):
    good, bad = bucket
    out = tmp_path / "out"
    glob = f"s3://{BUCKET}/photos/**/*.jpg"
    first = _batch(out, "--input", glob, endpoint=s3)
    assert (first["images"], first["written"], first["failed"]) == (N_GOOD + len(bad), N_GOOD, len(bad))
    fails = _check(out, good, bad)
    assert all(f["stage"] == "source" and f["reason"] for f in fails.values())
    assert "empty" in fails[f"s3://{BUCKET}/photos/a/bad_empty.jpg"]["reason"]
    assert "truncated JPEG" in fails[f"s3://{BUCKET}/photos/bad_cut.jpg"]["reason"]
    rows = {r["path"]: r for r in iter_rows(out)}
    assert (rows[good[0]]["width"], rows[good[0]]["height"]) == (96, 96)
    assert json.loads(rows[good[0]]["results"])["detect"]["kind"] == "detections"

    again = _batch(out, "--input", glob, endpoint=s3)  # nothing left to do
    assert (again["already_done"], again["written"], again["failed"]) == (N_GOOD + len(bad), 0, 0)
    _check(out, good, bad)

    # a list naming a key that does not exist; the endpoint given as an option, not in the environment
    missing = f"s3://{BUCKET}/photos/missing.jpg"
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(good + sorted(bad) + [missing]) + "\n")
    third = _batch(out, "--input", str(listing), "--storage-option", f"endpoint_override={s3}", endpoint=None)
    assert (third["already_done"], third["written"], third["failed"]) == (N_GOOD + len(bad), 0, 1)
    fails = _check(out, good, bad | {missing})
    assert "does not exist" in fails[missing]["reason"]


def test_output_to_a_bucket_is_refused_with_the_reason(tmp_path):
    r = subprocess.run([sys.executable, "-c", "from sensorium.deploy.cli import app; app()", "batch", "--input", str(tmp_path),
                        "--stages", "detect", "--output", f"s3://{BUCKET}/out"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "RAY_ADDRESS": ""})
    assert r.returncode == 2 and "must be a local folder" in r.stderr, r.stderr[-2000:]
