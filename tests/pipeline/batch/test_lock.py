"""OutputLock between real processes: a second driver is refused naming the holder; a killed
holder's lock file blocks nobody."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from sensorium.pipeline.batch.lock import LOCK, OutputLock, OutputLocked

HOLD = """
import sys, time
from sensorium.pipeline.batch.lock import OutputLock
with OutputLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(300)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path/out``'s lock, until it is killed."""
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield out, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(30)


def test_a_second_holder_is_refused_naming_the_folder_and_the_process(holder):
    out, proc = holder
    with pytest.raises(OutputLocked, match=f"{out} is being written by another batch job \\(pid {proc.pid} on "):
        OutputLock(out).acquire()


def test_a_killed_holder_leaves_a_lock_file_that_blocks_nobody(holder):
    out, proc = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert str(proc.pid) in (out / LOCK).read_text()  # what the dead driver left behind
    with OutputLock(out) as lock:
        assert f'"pid": {os.getpid()}' in (out / LOCK).read_text()
        with pytest.raises(OutputLocked):  # not re-entrant: a second job in this very process is refused too
            OutputLock(out).acquire()
    assert lock._fd is None and (out / LOCK).read_text() == ""
    with OutputLock(out):  # released on exit
        pass


def test_the_batch_command_refuses_a_held_folder_before_starting_anything(holder, tmp_path):
    """The console command as users run it: exit 2, the folder and the holder's pid on stderr,
    nothing written (no job.json), no Ray started."""
    out, proc = holder
    (tmp_path / "in").mkdir()
    env = {**os.environ, "RAY_ADDRESS": ""}
    res = subprocess.run([sys.executable, "-c", "from sensorium.deploy.cli import app; app()", "batch", "--input", str(tmp_path / "in"),
                          "--stages", "detect", "--output", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    message = " ".join(res.stderr.split())
    assert f"{out} is being written by another batch job (pid {proc.pid} on" in message, res.stderr
    assert not (out / "job.json").exists()
