"""Generated web pages for the conventions that tell look-alike icons apart and for composite
labels (:mod:`~sensorium.stages.gui.conventions`, :mod:`~sensorium.stages.gui.composite`):
time pickers whose columns have identical + and - steppers ("Increase minute"), half of
them with an "Add alarm" + button below, app bars
with an up arrow at the left end and the same arrow elsewhere on the page, and composite
``aria-label`` values ("3,368 results, Navigate up", "Alice Martin, Account").

These cases were added after the Rico icon misses that motivated the rules (#17: a time
picker, a toolbar's subtitle joined to its up button, two arrows on one screen); the rules
are checked here, on pages the project writes, and Rico stays the evaluation. The pages are
kept apart from :mod:`~sensorium.pipeline.tools.gui_pages`'s general ones (which are
unchanged) and reported in their own table. Rendered and scored the same way
(:func:`~sensorium.pipeline.tools.gui_pages.render`).
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from sensorium.pipeline.tools.gui_pages import WebPage, _target, chromium, page_look, render
from sensorium.pipeline.tools.gui_targets import GuiTarget
from sensorium.pipeline.tools.web_icons import svg

RULE_LAYOUTS = ("picker", "appbar")
UNITS = ("hour", "minute", "second")
NAMES = ("Alice Martin", "Bo Chen", "Carla Diaz")

_RULE_STYLE = """<style>.appbar {{ display: flex; align-items: center; height: 56px; padding: 0 4px; background: var(--bg); }}
.appbar .grow {{ flex: 1; }} .appbar .sub {{ display: block; font-size: 80%; opacity: .8; }}
button.composite {{ border: none; display: inline-flex; align-items: center; gap: 12px; padding: 8px; }}
.picker {{ display: flex; align-items: center; gap: 24px; margin: 24px; }} .col {{ display: flex; flex-direction: column; align-items: center; }}
.col .value {{ font-size: 200%; margin: 4px 0; }} .pager {{ display: flex; align-items: center; gap: 16px; margin: 16px; }}
.chip {{ border: none; display: inline-flex; align-items: center; gap: 8px; padding: 4px 12px 4px 4px; }}</style>"""


def _icon(label: str, glyph: str, size: float, stroke: float, extra: str = "") -> str:
    return _target("button", label, "icon", svg(glyph, size, stroke, False) + extra, f'class="icon" aria-label="{html.escape(label)}"')


def _picker(rng: np.random.Generator, size: float, stroke: float) -> str:
    units = UNITS[: int(rng.integers(2, 4))]
    values = {"hour": int(rng.integers(0, 24)), "minute": int(rng.integers(0, 60)), "second": int(rng.integers(0, 60))}
    cols = [f'<div class="col">{_icon(f"Increase {u}", "Add", size, stroke)}<span class="value">{values[u]:02d}</span>'
            f'{_icon(f"Decrease {u}", "Remove", size, stroke)}</div>' for u in units]
    done = "".join(_target("button", name, "text", name) for name in ("Cancel", "Set time"))
    # half the pickers have an "add" button below them: the same + glyph, outside the picker's row
    fab = f'<div class="row" style="justify-content: flex-end; margin: 24px">{_icon("Add alarm", "Add", size, stroke)}</div>' \
        if rng.random() < 0.5 else ""
    return f'<main><h1>Wake-up time</h1><div class="picker">{"<span>:</span>".join(cols)}</div><div class="row">{done}</div>{fab}</main>'


def _appbar(rng: np.random.Generator, size: float, stroke: float) -> str:
    n = int(rng.integers(2, 9000))
    subtitle = f"{n:,} results"
    if rng.random() < 0.5:  # the up button and the subtitle as one control, named by both
        up = _target("button", f"{subtitle}, Navigate up", "icon", svg("Back", size, stroke, False) +
                     f'<span>Results<span class="sub">{subtitle}</span></span>', f'class="composite" aria-label="{subtitle}, Navigate up"')
        title = ""
    else:
        up = _icon("Navigate up", "Back", size, stroke)
        title = f'<span>Results<span class="sub">{subtitle}</span></span>'
    name = NAMES[int(rng.integers(len(NAMES)))]
    chip = _target("button", f"{name}, Account", "icon", svg("Account", size, stroke, False) + html.escape(name),
                   f'class="chip" aria-label="{html.escape(name)}, Account"')
    bar = (f'<div class="appbar">{up}{title}<span class="grow"></span>{_icon("Search", "Search", size, stroke)}'
           f'{_icon("More options", "More options", size, stroke)}</div>')
    pager = f'<div class="pager">{_icon("Previous page", "Back", size, stroke)}<span>Page 2</span>{_icon("Next page", "Forward", size, stroke)}</div>'
    rows = "".join(f"<p>Result {k + 1}: a line of text about it.</p>" for k in range(int(rng.integers(3, 7))))
    return f'{bar}<main>{chip}{rows}{pager}</main>'


def rule_page(seed: int, index: int) -> WebPage:
    """Rule page ``index`` of split ``seed``: a pure function of the two."""
    rng = np.random.default_rng([seed, index, 39])
    layout = RULE_LAYOUTS[index % len(RULE_LAYOUTS)]
    width, height, dpr, theme, style = page_look(rng)
    size, stroke = float(rng.choice([18, 20, 24, 28])), float(rng.choice([1.5, 2.0, 2.5]))
    body = _picker(rng, size, stroke) if layout == "picker" else _appbar(rng, size, stroke)
    doc = (f'<!doctype html><html><head><meta charset="utf-8"><title>{layout}</title>{style}'
           f'{_RULE_STYLE.format()}</head><body>{body}</body></html>')
    return WebPage(f"rules-{seed}-{index}", doc, width, height, dpr, theme, layout)


def rule_targets(out_dir: Path, pages: int = 12, seed: int = 0) -> list[GuiTarget]:
    """The targets of ``pages`` rule pages of split ``seed``, screenshots under ``out_dir``."""
    with chromium() as browser:
        return [t for i in range(pages) for t in render(browser, rule_page(seed, i), out_dir)]
