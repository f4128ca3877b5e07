"""docs/architecture.md "Add a stage", followed literally: its files are written into a copy of
``stages/``, its registry line added, and its commands run (``run``, ``batch``, REST) against
the real engines, which are the repository's own files, untouched. The same image must give
the same tiles and scores in all three."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"
CLI = [sys.executable, "-c", "from sensorium.deploy.cli import app; app()"]
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def _walkthrough() -> str:
    text = DOC.read_text()
    start = text.index("## Add a stage")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def _info(info: str) -> dict[str, str]:
    """``file=PATH`` or ``edit=PATH after=ANCHOR`` (the anchor runs to the end of the line)."""
    out = {}
    if "after=" in info:
        info, _, anchor = info.partition("after=")
        out["after"] = anchor.strip()
    for word in info.split():
        key, _, value = word.partition("=")
        out[key] = value
    return out


def _site(tmp: Path) -> Path:
    """An importable ``sensorium`` whose engines are the repository's files (links) and whose
    ``stages/`` is a copy the walkthrough writes into; on PYTHONPATH it comes before the editable install."""
    site = tmp / "site"
    pkg = site / "sensorium"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for part in ("pipeline", "models", "deploy"):
        (pkg / part).symlink_to(REPO / part, target_is_directory=True)
    shutil.copytree(REPO / "stages", pkg / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    for lang, info, body in FENCE.findall(_walkthrough()):
        opts = _info(info)
        if "file" in opts:
            path = pkg / opts["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        elif "edit" in opts:
            path = pkg / opts["edit"]
            lines = path.read_text().splitlines(keepends=True)
            hits = [i for i, line in enumerate(lines) if line.rstrip() == opts["after"]]
            assert len(hits) == 1, f"{opts['edit']}: the anchor {opts['after']!r} must occur once, found {len(hits)}"
            lines.insert(hits[0] + 1, body)
            path.write_text("".join(lines))
    return site


def _commands() -> list[str]:
    blocks = [body for lang, info, body in FENCE.findall(_walkthrough()) if lang == "bash" and "walkthrough" in info]
    assert len(blocks) == 1, "the walkthrough has one bash block of commands"
    return [line for line in blocks[0].splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """``sensorium ARGS`` in a process of its own, its output into ``log`` (read when it fails)."""
    with open(log, "w") as out:
        return subprocess.Popen([*CLI, *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _perceive(server: subprocess.Popen, log: Path, port: int, command: str, image: Path) -> dict:
    """Send the walkthrough's request (its JSON, with a real image) once ``serve --local`` is healthy."""
    import httpx

    body = json.loads(re.search(r"-d '(.*)'", command).group(1))
    body["image"] = base64.b64encode(image.read_bytes()).decode()
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "serve --local did not come up"
        time.sleep(0.5)
    response = httpx.post(f"http://127.0.0.1:{port}/v1/perceive", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def _scores(result: dict) -> tuple[np.ndarray, np.ndarray]:
    from sensorium.stages.arrays import decode_array

    assert result["kind"] == "sharpness"
    return decode_array(result["boxes"]), decode_array(result["scores"])


@pytest.mark.slow
def test_the_walkthrough_adds_a_stage_usable_in_run_batch_and_rest(tmp_path, data_dir):
    site = _site(tmp_path)
    work = tmp_path / "work"
    (work / "photos").mkdir(parents=True)
    for name in ("bus.jpg", "zidane.jpg"):
        shutil.copy(data_dir / "photos" / name, work / "photos" / name)
    env = {**os.environ, "PYTHONPATH": str(site), "RAY_ADDRESS": ""}
    run_cmd, batch_cmd, rest_cmd = _commands()

    # the three are independent (run and batch each start a local Ray of their own): started
    # together, the walkthrough waits for its slowest command instead of the sum of the three
    port = _free_port()
    procs = {"serve": _start(["serve", "--local", "--port", str(port)], env, work, tmp_path / "serve.log")}
    try:
        for command in (run_cmd, batch_cmd):
            argv = shlex.split(command)
            assert argv[0] == "sensorium"
            procs[command] = _start(argv[1:], env, work, tmp_path / f"{argv[1]}.log")
        rest = _perceive(procs["serve"], tmp_path / "serve.log", port, rest_cmd, work / "photos" / "bus.jpg")
        for command in (run_cmd, batch_cmd):
            assert procs[command].wait(600) == 0, (command, (tmp_path / f"{shlex.split(command)[1]}.log").read_text()[-3000:])
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)

    frames = {Path(f["meta"]["path"]).name: f for f in map(json.loads, (work / "out" / "run" / "frames.jsonl").read_text().splitlines())}
    import pyarrow.parquet as pq

    rows = [r for part in sorted((work / "out" / "batch" / "parts").glob("*.parquet")) for r in pq.read_table(part).to_pylist()]
    assert sorted(Path(r["path"]).name for r in rows) == ["bus.jpg", "zidane.jpg"]

    assert sorted(frames) == ["bus.jpg", "zidane.jpg"]
    run_bus = frames["bus.jpg"]
    assert not run_bus["errors"]
    boxes, scores = _scores(run_bus["results"]["sharpness"])
    assert boxes.shape == (64, 4) and scores.shape == (64,)  # --set sharpness.grid=8 reached the stage
    assert scores.std() > 0  # real tiles of a real photo differ in focus
    batch_bus = json.loads(next(r for r in rows if r["path"].endswith("bus.jpg"))["results"])
    rest_boxes, rest_scores = _scores(rest["results"]["sharpness"])
    for other_boxes, other_scores in (_scores(batch_bus["sharpness"]), (rest_boxes, rest_scores)):
        np.testing.assert_array_equal(other_boxes, boxes)
        np.testing.assert_allclose(other_scores, scores, rtol=1e-5)
    # the engines ran from the repository's own files: the walkthrough touched only stages/
    for part in ("pipeline", "deploy", "models"):
        assert (site / "sensorium" / part).resolve() == REPO / part
