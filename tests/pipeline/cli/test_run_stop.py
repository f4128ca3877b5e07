"""`sensorium run` on a live MJPEG stream as an operator runs it: a real subprocess with its own
local Ray, stopped by SIGINT or SIGTERM; and ended or kept going by its reconnect policy (those
tests run the command in this process, on the tests' Ray: the policy is their subject)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensorium.pipeline.io.sources import source_name
from tests.pipeline.conftest import MJPEGServer

CLI = str(Path(sys.executable).parent / "sensorium")


class ScheduledMJPEG(MJPEGServer):
    """The loopback MJPEG camera whose n-th connection serves ``schedule[n-1]`` frames (the last
    entry for every later one) before it closes the socket."""

    def __init__(self, schedule: list[int], interval_s: float = 0.03) -> None:
        self.schedule = schedule
        super().__init__(per_connection=schedule[0], interval_s=interval_s)

    @property
    def per_connection(self) -> int:
        return self.schedule[min(max(self.connections, 1), len(self.schedule)) - 1]

    @per_connection.setter
    def per_connection(self, _value: int) -> None:
        pass


def _descendants(pid: int) -> dict[int, str]:
    """pid → command name of every process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        names[int(entry.name)] = name
        children.setdefault(int(rest[1]), []).append(int(entry.name))
    out, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out[child] = names[child]
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _start(out: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_ADDRESS": ""}  # a local Ray of its own, not the tests' cluster
    return subprocess.Popen([CLI, "run", "--out", str(out), "--sinks", "jsonl", "--stages", "detect", *args],
                            env=env, cwd=out.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_live_run_cleanly(tmp_path, sig):
    """After a few frames, one signal: exit 0, the summary and summary.json complete, a JSONL line
    for every frame the summary counts, and none of the run's Ray processes left."""
    server = ScheduledMJPEG([10**6])
    out = tmp_path / "out"
    proc = _start(out, "--source", server.url, "--drain-timeout", "60")
    try:
        ray_procs: dict[int, str] = {}
        deadline = time.monotonic() + 240
        while len(_lines(out / "frames.jsonl")) < 3:  # the sink writes as frames come: the run is live
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:] if proc.poll() is not None else "no frames in 240 s"
            ray_procs.update(_descendants(proc.pid))
            time.sleep(0.2)
        ray_procs.update(_descendants(proc.pid))
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    stop = summary["stop"]
    assert stop["reason"] == sig.name and stop["requested"] and not stop["forced"]
    assert stop["dropped_in_flight"] == 0 and stop["finished_in_flight"] == stop["in_flight_at_stop"]
    assert summary["exit_code"] == 0 and summary["source_states"] == {source_name(server.url): "ended"} and not summary["source_errors"]
    frames = _lines(out / "frames.jsonl")
    assert summary["frames"][source_name(server.url)] == len(frames) >= 3
    assert summary["stages"]["detect"]["calls"] >= 1 and summary["reconnects"] == {source_name(server.url): 0}
    assert [f["seq"] for f in frames] == sorted({f["seq"] for f in frames})
    assert f"stopped on {sig.name}" in " ".join(stdout.split()) and "Traceback" not in stderr
    assert {"raylet", "gcs_server"} <= set(ray_procs.values()), ray_procs  # the run did start its own Ray
    deadline = time.monotonic() + 30  # Ray's processes exit on their own shutdown path; give them a moment
    while (left := {p: n for p, n in ray_procs.items() if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"processes of the run left behind: {left}"



def _cmdlines(pids) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return out


@pytest.mark.slow
def test_sigterm_while_the_stages_set_up_still_ends_cleanly(tmp_path):
    """SIGTERM once Ray is up and the stage actor is starting (``ray.init`` has set its own
    SIGTERM handler by then, which used to exit with a stack dump): exit 0 and a summary."""
    server = ScheduledMJPEG([10**6])
    out = tmp_path / "out"
    proc = _start(out, "--source", server.url)
    try:
        deadline = time.monotonic() + 240
        while not any("StageWorker" in c for c in _cmdlines(_descendants(proc.pid))):
            assert proc.poll() is None and time.monotonic() < deadline, "no stage actor started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop"]["reason"] == "SIGTERM" and summary["exit_code"] == 0
    assert sum(summary["frames"].values()) == len(_lines(out / "frames.jsonl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_dead_stream_ends_the_run_by_its_policy_with_the_error_named(tmp_path, ray_cluster):
    """The give-up policy, not the process (exit codes and Ray's clean-up of a process of its own
    are the signal tests' subject): the command runs in this process on the tests' Ray."""
    from typer.testing import CliRunner

    from sensorium.pipeline.cli.run import app

    url = f"http://127.0.0.1:{_free_port()}/stream.mjpg"  # nothing listens: every connect is refused
    out = tmp_path / "out"
    started = time.monotonic()
    res = CliRunner().invoke(app, ["run", "--out", str(out), "--sinks", "jsonl", "--stages", "detect", "--source", url,
                                   "--reconnect-attempts", "2", "--reconnect-max-backoff", "0.2"])
    assert res.exit_code == 3, res.output[-3000:] + repr(res.exception)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 3 and summary["source_states"] == {source_name(url): "error"}
    assert "gave up after 2 retries" in summary["source_errors"][source_name(url)]
    assert "gave up after 2 retries" in " ".join(res.stderr.split())
    assert summary["stop"]["reason"] == "sources ended" and summary["frames"] == {}
    assert time.monotonic() - started < 240


@pytest.mark.slow
def test_a_stream_that_drops_once_is_reconnected_and_counted(tmp_path, ray_cluster):
    """The reconnect policy, not the process: the command runs in this process on the tests' Ray."""
    from typer.testing import CliRunner

    from sensorium.pipeline.cli.run import app

    server = ScheduledMJPEG([8, 10**6])  # the first connection closes after 8 frames, the next one stays
    out = tmp_path / "out"
    try:
        res = CliRunner().invoke(app, ["run", "--out", str(out), "--sinks", "jsonl", "--stages", "detect", "--source", server.url,
                                       "--max-frames", "20", "--reconnect-max-backoff", "0.2"])
    finally:
        server.close()
    assert res.exit_code == 0, res.output[-3000:] + repr(res.exception)
    summary = json.loads((out / "summary.json").read_text())
    assert server.connections == 2
    assert summary["reconnects"] == {source_name(server.url): 1} and summary["stop"]["reason"] == "max_frames"
    assert summary["frames"][source_name(server.url)] == len(_lines(out / "frames.jsonl")) == 20
    assert summary["source_states"] == {source_name(server.url): "ended"} and summary["exit_code"] == 0


@pytest.mark.parametrize("args, message", [
    (["--source-timeout", "-1"], "--source-timeout: expected seconds >= 0 (0: never give up), got -1"),
    (["--reconnect-attempts", "-2"], "--reconnect-attempts: expected a count >= 0, got -2"),
    (["--drain-timeout", "-1"], "--drain-timeout: expected seconds >= 0, got -1"),
])
def test_bad_stop_options_are_named_before_anything_runs(tmp_path, args, message):
    from typer.testing import CliRunner

    from sensorium.pipeline.cli.run import app

    res = CliRunner().invoke(app, ["run", "--source", "http://127.0.0.1:9/x", "--stages", "depth", "--out", str(tmp_path / "o"), *args])
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "o").exists()


def test_the_command_line_policy_goes_over_the_yaml_one_over_the_run_default():
    from sensorium.pipeline.cli.run import RUN_RECONNECT, _with_stop_policy
    from sensorium.pipeline.io.sources import ReconnectPolicy
    from sensorium.pipeline.stream.config import PipelineConfig

    plain = PipelineConfig.from_dict({"stages": ["depth"]})
    default = _with_stop_policy(plain, None, None, None, None)
    assert default.reconnect == ReconnectPolicy(**RUN_RECONNECT) and default.reconnect.give_up_after_s == 60.0  # a dead camera ends the run
    yaml = PipelineConfig.from_dict({"stages": ["depth"], "reconnect": {"max_attempts": 5, "max_delay_s": 4}, "drain_timeout_s": 3})
    merged = _with_stop_policy(yaml, None, 0.2, 0, None)
    assert merged.reconnect == ReconnectPolicy(initial_delay_s=0.2, max_delay_s=0.2, max_attempts=5, give_up_after_s=None)
    assert merged.drain_timeout_s == 3.0 and _with_stop_policy(yaml, 1, None, 9, 0).drain_timeout_s == 0.0
    assert _with_stop_policy(yaml, 1, None, 9, 0).reconnect.give_up_after_s == 9.0
