"""Icon targets on real Android screens and text and icon targets on generated web pages,
asked of the local GUI backend with the shipped icon model: the part of
``benchmarks/gui_grounding.py`` beyond Rico's text labels.

Both sets report ScreenSpot-style (:func:`~sensorium.pipeline.tools.gui_targets.table`): by
platform (``mobile`` Rico, ``web``) and kind (``text``, ``icon``), with the wrong-click rate
apart from the refusal rate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sensorium.pipeline.tools.gui_pages import web_targets
from sensorium.pipeline.tools.gui_targets import Outcome, evaluate, table
from sensorium.pipeline.tools.rico_targets import gui_targets


def icon_agent() -> Any:
    """The local backend with the shipped icon model, as ``sensorium agent act`` builds it."""
    from sensorium.pipeline.agent.build import AgentSettings, build_gui_agent
    from sensorium.stages.gui.icons import IconConfig

    return build_gui_agent(AgentSettings(icons=IconConfig(weights="clip_icons")))


def run(gui_dir: Path, pages: int = 20, seed: int = 0, agent: Any = None) -> list[Outcome]:
    """Outcomes of every Rico icon target in ``gui_dir`` and every target of ``pages`` web
    pages of split ``seed`` (0 pages: Rico only)."""
    agent = agent or icon_agent()
    results = evaluate(agent, gui_targets(gui_dir, "icon"))
    if pages:
        with tempfile.TemporaryDirectory(prefix="sensorium-pages-") as tmp:
            results += evaluate(agent, web_targets(Path(tmp), pages, seed))
    return results


def report(gui_dir: Path, pages: int = 20, seed: int = 0, verbose: bool = False) -> str:
    """The markdown table of :func:`run`, with every non-hit listed when ``verbose``."""
    results = run(gui_dir, pages, seed)
    lines = [f"icon targets on Rico (clickable, content-desc, no text) and {pages} generated web pages (seed {seed}):", "",
             table(results)]
    if verbose:
        lines += ["", *(f"{r.target.platform:6} {r.target.kind:4} {r.target.screen_id:>10} {r.outcome:11} {r.target.text!r} "
                        f"at {r.point}: {r.thought.splitlines()[0] if r.thought else ''}" for r in results if r.outcome != "hit")]
    return "\n".join(lines)
