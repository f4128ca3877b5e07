"""A grounding benchmark beyond Android: web pages sensorium writes, rendered by headless
Chromium, every target's box read from the DOM.

A page is a pure function of (seed, index): one layout (a form, a toolbar, a menu, a table or
a dialog) under a toolbar of icon buttons (inline SVGs named by ``aria-label``, from
:mod:`~sensorium.pipeline.tools.web_icons`), in a light or dark theme, at one of several
viewport widths and device pixel ratios. Every element a user may name carries
``data-target`` (its name) and ``data-kind`` (``text`` or ``icon``); after rendering,
``getBoundingClientRect()`` x DPR is its box in screenshot pixels, so targets and boxes are
exact. Only elements wholly inside the viewport that a click at their centre reaches are
targets.
"""

from __future__ import annotations

import html
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sensorium.pipeline.tools.gui_targets import GuiTarget
from sensorium.pipeline.tools.web_icons import WEB_ICONS, svg

LAYOUTS = ("form", "toolbar", "menu", "table", "dialog")
#: (viewport width, height, device pixel ratio): a phone, a laptop at 1x and 2x, a desktop
VIEWPORTS = ((390, 844, 3.0), (390, 844, 2.0), (1280, 800, 1.0), (1280, 800, 2.0), (1920, 1080, 1.0), (1440, 900, 1.5))
THEMES = {"light": ("#ffffff", "#202124", "#f1f3f4"), "dark": ("#121212", "#e8eaed", "#202124")}  # (page, text, bar)
ACCENTS = ("#1a73e8", "#0b8043", "#c5221f", "#7b1fa2", "#e37400")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")

#: the text targets each layout draws from; none is an icon's label, so a name is never both
TEXTS = {
    "form": ("Full name", "Email address", "Remember me", "Sign up", "Reset form", "Privacy policy", "Already registered?"),
    "toolbar": ("Export CSV", "Import", "Print preview", "Zoom to fit", "Duplicate", "Archive"),
    "menu": ("File", "View", "Window", "Help", "New window", "Open recent", "Save as", "Page setup", "Quit"),
    "table": ("Customer", "Amount", "Due date", "INV-1042", "INV-1043", "INV-1044", "Next page"),
    "dialog": ("Keep editing", "Leave page", "Learn more", "Don't ask again"),
}


@dataclass(frozen=True)
class WebPage:
    """One generated page: its name, HTML, viewport (CSS px) and device pixel ratio."""

    name: str
    html: str
    width: int
    height: int
    dpr: float
    theme: str
    layout: str


def _target(tag: str, name: str, kind: str, inner: str, attrs: str = "") -> str:
    return f'<{tag} data-target="{html.escape(name)}" data-kind="{kind}" {attrs}>{inner}</{tag}>'


def _icon_bar(rng: np.random.Generator, n: int) -> str:
    labels = [list(WEB_ICONS)[i] for i in rng.permutation(len(WEB_ICONS))[:n]]
    size, stroke, filled = float(rng.choice([18, 20, 24, 28])), float(rng.choice([1.5, 2.0, 2.5])), bool(rng.random() < 0.4)
    buttons = [_target("button", label, "icon", svg(label, size, stroke, filled), f'class="icon" aria-label="{label}"') for label in labels]
    return f'<div class="bar">{"".join(buttons)}<span class="title">Workspace</span></div>'


def _body(layout: str, rng: np.random.Generator) -> str:
    texts = TEXTS[layout]
    pick = [texts[i] for i in sorted(rng.permutation(len(texts))[: max(3, len(texts) - 2)])]
    tags = {"Privacy policy": "a", "Learn more": "a", "Next page": "a", "Full name": "span", "Email address": "span"}
    t = {name: _target(tags.get(name, "button"), name, "text", html.escape(name)) for name in pick}
    if layout == "form":
        fields = "".join(f'<label>{t.get(n, html.escape(n))}<input type="text"></label>' for n in ("Full name", "Email address"))
        rest = "".join(v for k, v in t.items() if k not in ("Full name", "Email address"))
        return f'<main><h1>Create your account</h1><form>{fields}<div class="row">{rest}</div></form></main>'
    if layout == "menu":
        top = "".join(v for k, v in t.items() if k in ("File", "View", "Window", "Help"))
        items = "".join(f"<li>{v}</li>" for k, v in t.items() if k not in ("File", "View", "Window", "Help"))
        return f'<main><nav class="row">{top}</nav><ul class="dropdown">{items}</ul><p>Choose an action from the menu.</p></main>'
    if layout == "table":
        heads = "".join(f"<th>{t.get(n, n)}</th>" for n in ("Customer", "Amount", "Due date"))
        rows = "".join(f"<tr><td>{t.get(inv, inv)}</td><td>${amt:.2f}</td><td>2026-0{k + 1}-15</td></tr>"
                       for k, (inv, amt) in enumerate((("INV-1042", 15.0), ("INV-1043", 240.5), ("INV-1044", 99.99))))
        return f'<main><h1>Invoices</h1><table><tr>{heads}</tr>{rows}</table>{t.get("Next page", "")}</main>'
    if layout == "dialog":
        return (f'<main><h1>Draft</h1><p>Unsaved text of the draft goes here.</p></main><div class="scrim"></div>'
                f'<div class="dialog"><h2>Leave this page?</h2><p>Changes you made may not be saved.</p>'
                f'<div class="row">{"".join(t.values())}</div></div>')
    return f'<main><div class="row">{"".join(t.values())}</div><h1>Quarterly report</h1><p>Revenue grew in every region.</p></main>'


def _style(theme: str, accent: str, font: int) -> str:
    page, text, bar = THEMES[theme]
    return f"""<style>:root {{ --bg: {bar}; }} body {{ margin: 0; font: {font}px system-ui, sans-serif; background: {page}; color: {text}; }}
.bar {{ display: flex; align-items: center; gap: 6px; padding: 6px 12px; background: {bar}; }}
.bar .title {{ margin-left: 12px; font-weight: 600; }}
button {{ font: inherit; color: inherit; background: none; border: 1px solid {accent}; border-radius: 6px; padding: 6px 14px; margin: 4px; }}
button.icon {{ border: none; padding: 8px; border-radius: 50%; display: inline-flex; }}
a {{ color: {accent}; margin: 4px; }} main {{ padding: 8px 16px; }} .row {{ display: flex; flex-wrap: wrap; align-items: center; }}
label {{ display: block; margin: 8px 0; }} input {{ display: block; font: inherit; margin-top: 4px; width: min(320px, 80vw); }}
table {{ border-collapse: collapse; }} td, th {{ padding: 6px 12px; border-bottom: 1px solid #8886; text-align: left; }}
th button {{ border: none; padding: 0; font-weight: 600; }} td button {{ border: none; padding: 0; color: {accent}; }}
ul.dropdown {{ list-style: none; padding: 4px 0; margin: 0 0 0 8px; width: 200px; border: 1px solid #8888; }}
ul.dropdown button {{ border: none; }}
.scrim {{ position: fixed; inset: 0; background: #0008; }}
.dialog {{ position: fixed; left: 50%; top: 40%; transform: translate(-50%, -50%); background: {page}; padding: 16px 20px;
  border-radius: 10px; width: min(420px, 85vw); }}</style>"""


def page_look(rng: np.random.Generator) -> tuple[int, int, float, str, str]:
    """A page's viewport (width, height CSS px), DPR, theme and ``<style>``, drawn from ``rng``."""
    width, height, dpr = VIEWPORTS[int(rng.integers(len(VIEWPORTS)))]
    theme = "dark" if rng.random() < 0.5 else "light"
    accent = ACCENTS[int(rng.integers(len(ACCENTS)))]
    font = int(rng.choice([13, 14, 16, 18]))
    return width, height, dpr, theme, _style(theme, accent, font)


def web_page(seed: int, index: int) -> WebPage:
    """Page ``index`` of split ``seed``: a pure function of the two."""
    rng = np.random.default_rng([seed, index, 17])
    layout = LAYOUTS[index % len(LAYOUTS)]
    width, height, dpr, theme, style = page_look(rng)
    doc = (f'<!doctype html><html><head><meta charset="utf-8"><title>{layout}</title>{style}</head>'
           f'<body>{_icon_bar(rng, int(rng.integers(4, 8)))}{_body(layout, rng)}</body></html>')
    return WebPage(f"web-{seed}-{index}", doc, width, height, dpr, theme, layout)


#: every target's name, kind, viewport rectangle (CSS px) and whether a click at its centre
#: reaches it (a toolbar under a modal's scrim does not)
_BOXES_JS = """() => [...document.querySelectorAll('[data-target]')].map(e => {
  const r = e.getBoundingClientRect();
  const top = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  return [e.dataset.target, e.dataset.kind, r.left, r.top, r.right, r.bottom, !!top && e.contains(top)];
})"""


def render(browser: Any, page: WebPage, out_dir: Path) -> list[GuiTarget]:
    """Render ``page`` in ``browser`` (a Playwright Browser), save its screenshot as
    ``out_dir/<name>.png`` and return its targets, boxes in screenshot pixels (CSS px x DPR)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / f"{page.name}.png"
    context = browser.new_context(viewport={"width": page.width, "height": page.height}, device_scale_factor=page.dpr)
    try:
        tab = context.new_page()
        tab.set_content(page.html)
        tab.screenshot(path=str(shot))
        rects = tab.evaluate(_BOXES_JS)
    finally:
        context.close()
    out = []
    for name, kind, x1, y1, x2, y2, reachable in rects:
        if reachable and x1 >= 0 and y1 >= 0 and x2 <= page.width and y2 <= page.height and x2 > x1 and y2 > y1:
            box = (x1 * page.dpr, y1 * page.dpr, x2 * page.dpr, y2 * page.dpr)
            out.append(GuiTarget("web", kind, page.name, shot, name, (box,)))
    return out


@contextmanager
def chromium(executable: str | None = None) -> Iterator[Any]:
    """Headless Chromium (Debian's ``chromium`` unless told otherwise) driven by Playwright, offline."""
    exe = executable or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(exe).exists():
        raise FileNotFoundError(f"chromium not found at {exe}: install Debian's chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def web_targets(out_dir: Path, pages: int = 20, seed: int = 0) -> list[GuiTarget]:
    """The targets of ``pages`` generated pages of split ``seed``, screenshots under ``out_dir``."""
    with chromium() as browser:
        return [t for i in range(pages) for t in render(browser, web_page(seed, i), out_dir)]
