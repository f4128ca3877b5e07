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
from sensorium.pipeline.tools.gui_rule_pages import rule_targets
from sensorium.pipeline.tools.gui_targets import Outcome, evaluate, table
from sensorium.pipeline.tools.rico_targets import gui_targets


def icon_agent() -> Any:
    """The local backend with the shipped icon model, as ``sensorium agent act`` builds it."""
    from sensorium.pipeline.agent.build import AgentSettings, build_gui_agent
    from sensorium.stages.gui.icons import IconConfig

    return build_gui_agent(AgentSettings(icons=IconConfig(weights="clip_icons")))


def run(gui_dir: Path, pages: int = 20, seed: int = 0, agent: Any = None, rules: int = 0) -> list[Outcome]:
    """Outcomes of every Rico icon target in ``gui_dir``, every target of ``pages`` web
    pages of split ``seed`` (0 pages: Rico only) and of ``rules`` rule pages
    (:mod:`~sensorium.pipeline.tools.gui_rule_pages`; their screen ids start ``rules-``)."""
    agent = agent or icon_agent()
    results = evaluate(agent, gui_targets(gui_dir, "icon"))
    with tempfile.TemporaryDirectory(prefix="sensorium-pages-") as tmp:
        if pages:
            results += evaluate(agent, web_targets(Path(tmp), pages, seed))
        if rules:
            results += evaluate(agent, rule_targets(Path(tmp), rules, seed))
    return results


def _listing(results: list[Outcome]) -> list[str]:
    return [f"{r.target.platform:6} {r.target.kind:4} {r.target.screen_id:>10} {r.outcome:11} {r.target.text!r} "
            f"at {r.point}: {r.thought.splitlines()[0] if r.thought else ''}" for r in results if r.outcome != "hit"]


def report(gui_dir: Path, pages: int = 20, seed: int = 0, verbose: bool = False, rules: int = 12) -> str:
    """The markdown tables of :func:`run` (the rule pages in a table of their own), with every
    non-hit listed when ``verbose``."""
    results = run(gui_dir, pages, seed, rules=rules)
    general = [r for r in results if not r.target.screen_id.startswith("rules-")]
    ruled = [r for r in results if r.target.screen_id.startswith("rules-")]
    lines = [f"icon targets on Rico (clickable, content-desc, no text) and {pages} generated web pages (seed {seed}):", "",
             table(general)]
    if verbose:
        lines += ["", *_listing(general)]
    if ruled:
        lines += ["", f"{rules} rule pages (seed {seed}): time pickers, app bars, composite labels "
                      "(pipeline/tools/gui_rule_pages.py):", "", table(ruled)]
        if verbose:
            lines += ["", *_listing(ruled)]
    return "\n".join(lines)
