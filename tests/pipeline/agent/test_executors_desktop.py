"""The desktop executor for real: an Xvfb screen, a Tk window in its own process, pyautogui
driving it through XTEST, and the local backend (the code path of the CLI and the REST
service) grounding each instruction on a screenshot of that screen. The Tk app writes what
it saw to a JSON file; the tests assert on that, not on what the executor says it did."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensorium.pipeline.agent.executors import DesktopExecutor, load_pyautogui
from sensorium.stages.gui.coords import Screen
from sensorium.stages.results import GuiAction

XVFB = shutil.which("Xvfb")
APP = Path(__file__).parent / "desktop_app.py"
needs_xvfb = pytest.mark.skipif(XVFB is None, reason="Xvfb not found (Debian package xvfb; scripts/install-system-deps.sh installs it)")

#: (instruction, what the app's state must show once it is done)
TASKS = [
    ("type Ada into Name", lambda s: s["name"] == "Ada" and s["city"] == ""),
    ("fill City with Paris and press enter", lambda s: s["city"] == "Paris" and s["enter"] and s["name"] == ""),
    ("click Submit", lambda s: s["submitted"] and not s["reset"]),
    ("click the Reset button", lambda s: s["reset"] and not s["submitted"]),
    ("double click Details", lambda s: s["double"] and not s["right"]),
    ("right click Details", lambda s: s["right"] and not s["double"]),
    ("press ctrl s", lambda s: s["saved"] == 1),
    ("scroll down", lambda s: s["scroll_top"] > 0),
]


@pytest.fixture(scope="module")
def display(tmp_path_factory):
    """An Xvfb screen (1024x768) for this module, set as DISPLAY while it runs: pyautogui opens
    the display once, when it is imported, so there is one screen for all the tests. python3-xlib wants an Xauthority file; Xvfb runs without -auth, so an empty
    one does."""
    xauth = tmp_path_factory.mktemp("x11") / "Xauthority"
    xauth.touch()
    read, write = os.pipe()
    proc = subprocess.Popen([XVFB, "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):  # Xvfb writes its display number once it accepts clients
        if not select.select([read], [], [], 60)[0] or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"Xvfb did not start: {proc.stderr.read().decode()[-2000:]}")
        number += os.read(read, 16)
    os.close(read)
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "XAUTHORITY")}
    os.environ.update(DISPLAY=f":{number.decode().strip()}", XAUTHORITY=str(xauth))
    yield os.environ["DISPLAY"]
    for k, v in saved.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    proc.terminate()
    proc.wait(timeout=30)


class App:
    """The Tk window's process and the file it writes its state to."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.proc = subprocess.Popen([sys.executable, str(APP), str(state_file)], stderr=subprocess.PIPE)

    def state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def wait_for(self, done, timeout: float = 30.0) -> dict:
        """The app's state once ``done(state)`` holds; fails with the last state after timeout
        (a generous bound on a loaded machine, not a speed check)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.state()
            if s and done(s):
                return s
            if self.proc.poll() is not None:
                pytest.fail(f"the Tk app exited: {self.proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the app's state never showed it done: {s}")
            time.sleep(0.1)


@pytest.fixture
def app(display, tmp_path):
    a = App(tmp_path / "state.json")
    a.wait_for(lambda s: s["ready"])
    yield a
    a.proc.terminate()
    a.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def desktop(display):
    return DesktopExecutor(wait_s=0.1)


@needs_xvfb
@pytest.mark.slow
@pytest.mark.parametrize("instruction, done", TASKS, ids=[t[0] for t in TASKS])
def test_instruction_done_on_a_real_desktop(app, desktop, local_agent, instruction, done):
    image = desktop.screenshot()
    h, w = image.shape[:2]
    assert (w, h) == desktop.size() == (1024, 768)
    step = local_agent.act(image, instruction, Screen(w, h, *desktop.size()))
    assert desktop.run(step.actions) is None, step.raw  # no call_user, no early finish
    app.wait_for(done)


@needs_xvfb
def test_drag_moves_from_start_to_end(app, desktop):
    """The pad (x 520-822, y 30-232) records where the button went down and came up."""
    desktop.run([GuiAction("drag", x=560, y=60, x2=760.4, y2=199.6)])
    assert app.wait_for(lambda s: s["drag"] is not None)["drag"] == [560, 60, 760, 200]


@needs_xvfb
@pytest.mark.parametrize("action, message", [
    (GuiAction("long_press", x=10, y=10), "phone action"),
    (GuiAction("open_app", params={"app_name": "Maps"}), "phone action"),
    (GuiAction("press_home"), "phone action"),
    (GuiAction("navigate", params={"url": "https://example.org"}), "browser action"),
    (GuiAction("click", x=1024, y=10), r"off the 1024x768 screen"),
    (GuiAction("drag", x=10, y=10, x2=10, y2=-3), r"off the 1024x768 screen"),
    (GuiAction("click"), "needs a point"),
    (GuiAction("hotkey", params={"key": "ctrl nosuchkey"}), "no key named 'nosuchkey'"),
    (GuiAction("type", params={"content": "Zoë\n"}), "cannot type 'ë'"),
    (GuiAction("scroll", params={"direction": "sideways"}), "direction 'sideways'"),
])
def test_actions_it_cannot_run_are_refused_with_a_reason(app, desktop, action, message):
    before = app.state()
    with pytest.raises(ValueError, match=message):
        desktop.run([action])
    assert app.state() == before  # refused before anything reached the screen


@needs_xvfb
def test_a_step_is_checked_whole_before_any_of_it_runs(app, desktop):
    with pytest.raises(ValueError, match="cannot type 'ë'"):
        desktop.run([GuiAction("hotkey", params={"key": "ctrl s"}), GuiAction("type", params={"content": "Zoë"})])
    desktop.run([GuiAction("hotkey", params={"key": "ctrl s"})])
    # X delivers events in order: had the refused step pressed Ctrl+S, this one would count 2
    assert app.wait_for(lambda s: s["saved"] >= 1)["saved"] == 1


@needs_xvfb
def test_terminal_actions_end_the_run(app, desktop):
    assert desktop.run([GuiAction("call_user"), GuiAction("hotkey", params={"key": "ctrl s"})]) == "call_user"
    assert desktop.run([GuiAction("wait"), GuiAction("finished", params={"content": "done"})]) == "finished"
    desktop.run([GuiAction("hotkey", params={"key": "ctrl s"})])
    assert app.wait_for(lambda s: s["saved"] >= 1)["saved"] == 1  # only this one: nothing ran after call_user


def test_no_display_is_a_clear_error(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("DISPLAY only matters on X11")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="DISPLAY is not set"):
        load_pyautogui()


@needs_xvfb
@pytest.mark.slow
def test_agent_act_execute_desktop_from_the_command_line(app, desktop, tmp_path):
    """``sensorium agent act --execute desktop`` takes the screenshot itself, grounds, clicks;
    given a screenshot at twice the screen's resolution (a HiDPI screen), it still clicks in
    the desktop's own pixels. In-process (the command, not an interpreter's start, is the
    subject), on the module's display."""
    import cv2
    from typer.testing import CliRunner

    from sensorium.deploy.cli import app as cli

    act = lambda *args: CliRunner().invoke(cli, ["agent", "act", *args])  # noqa: E731
    out = act("-i", "click Submit", "--execute", "desktop")
    assert out.exit_code == 0, (out.stderr, out.exception)
    assert json.loads(out.stdout)["actions"][0]["type"] == "click"
    app.wait_for(lambda s: s["submitted"] and not s["reset"])
    big = tmp_path / "hidpi.png"
    cv2.imwrite(str(big), cv2.resize(desktop.screenshot()[..., ::-1], (2048, 1536), interpolation=cv2.INTER_CUBIC))
    out = act("--screenshot", str(big), "-i", "click Reset", "--execute", "desktop")
    assert out.exit_code == 0, (out.stderr, out.exception)
    [click] = json.loads(out.stdout)["actions"]
    assert click["x"] < 1024 and click["y"] < 768
    app.wait_for(lambda s: s["reset"])
    bad = act("-i", "click Submit", "--execute", "robot")
    assert bad.exit_code == 2 and "robot" in bad.stderr
