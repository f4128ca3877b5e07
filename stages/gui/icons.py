"""Icon grounding for the local GUI backend: the element an instruction names by what it
looks like ("click the gear icon"), when no text on the screen matches.

Candidates are the screenshot's text-free elements: rectangles from
:func:`~sensorium.stages.gui.local.element_boxes` that hold no OCR text (icon buttons) and
small square-ish edge blobs (bare glyphs the rectangle finder misses because they are not
rectangles). A blob inside a button belongs to that button: the button is what gets clicked,
its best crop is its score. Each crop is embedded by the embed stage's image tower (a square
around the candidate with some margin, as the icon would sit in its own tile), the target by
its text tower through a few prompts ("an icon of a gear", ...), averaged. The best element
wins if its cosine similarity clears ``threshold``, leads the runner-up element by ``margin``
and, on its own crop, beats every other known icon name (``labels``): a name the model never
learnt ("unicorn") has an embedding no icon is closest to, and is refused instead of
clicking whatever scored highest. Several elements alike for the name (near in score, or the
same glyph) are refused unless the label names which by an order or the framework's place
(:mod:`~sensorium.stages.gui.conventions`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Literal, Protocol, Sequence

import cv2
import numpy as np
from scipy.sparse.csgraph import connected_components

from sensorium.stages.config import StageConfig
from sensorium.stages.gui.boxes import inside
from sensorium.stages.gui.conventions import APP_BAR, app_bar_slot, named_order
from sensorium.stages.gui.non_targets import entry_boxes, in_entry_middle, on_plain_surface, outside_status_bar, status_bar

log = logging.getLogger(__name__)

#: how the target is phrased for the text tower; the vectors are averaged (prompt ensembling)
PROMPTS = ("an icon of a {}", "a {} icon", "the {} button")
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class IconConfig(StageConfig):
    """weights: ``clip_icons`` (the small model sensorium ships, trained on generated icons
    only) or another registered name or a local open_clip checkpoint, with ``model`` (an
    open_clip architecture name) or ``config_json`` (a custom config) for the latter.
    threshold: cosine floor for the chosen element; margin: its lead over the runner-up
    element; labels: other icon names the target must beat on the chosen crop (default: the
    weights' labels, else :data:`~sensorium.models.data.icons.CLASSES`); vocabulary: the
    only names the model knows, for a closed-vocabulary model such as ``clip_icons`` (filled
    in for it; empty, the default for other weights, means any name); max_candidates: crops
    embedded per request at most; synonym: labels whose prompt vector is at least this close
    to the target's are its synonyms, not rivals (for a name outside every class); pool: what the
    text tower is asked for a name of a known class: ``name`` (that name alone; rivals are the
    other classes by their label), ``mean`` (the mean of the prompt vectors of all the class's
    names, "bin", "trash", "delete"; rivals pooled alike) or ``max`` (the best of them); measured
    on Rico and the toolbars, ``name`` is the sharpest (docs/benchmarks.md); twin: image
    similarity above which another element above the threshold is the same glyph (then the
    name cannot say which is meant: refused, unless the label names an order or the app bar's
    place, :mod:`~sensorium.stages.gui.conventions`); weak: the similarity floor, below
    ``threshold``, for the best element when it sits where the framework name places the
    target (the app bar's end)."""

    weights: str = "clip_icons"
    model: str | None = None
    config_json: str | None = None
    family: Literal["clip", "siglip"] = "clip"
    threshold: float = 0.5
    margin: float = 0.05
    labels: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()
    max_candidates: int = 64
    synonym: float = 0.7
    pool: Literal["name", "mean", "max"] = "name"
    twin: float = 0.95
    weak: float = 0.4
    threads: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not -1 <= self.threshold <= 1 or not 0 <= self.margin <= 2:
            raise ValueError(f"icons: expected threshold in [-1, 1] and margin in [0, 2], got {self.threshold}, {self.margin}")
        if not -1 <= self.weak <= self.threshold:
            raise ValueError(f"icons: expected weak in [-1, threshold={self.threshold}], got {self.weak}")


@dataclass(frozen=True)
class IconMatch:
    """The chosen element (xyxy screenshot pixels), its similarity, the runner-up's, and why
    it was refused (empty when it was not)."""

    box: Box | None
    score: float
    runner_up: float
    refused: str = ""
    how: str = ""  # how it was told from look-alikes (an order, the app bar), when not by its look alone
    alike: bool = False  # refused because several icons fit the name equally (not because none does)


def _overlaps(a: Sequence[float], b: Sequence[float], frac: float = 0.2) -> bool:
    """Whether the intersection covers more than ``frac`` of ``a``'s area."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    return iw > 0 and ih > 0 and iw * ih > frac * (a[2] - a[0]) * (a[3] - a[1])


def part_groups(parts: Sequence[Box], *, max_side: int = 128, max_parts: int = 4) -> list[Box]:
    """Union boxes of 2-``max_parts`` parts of similar size in one row or column, each at most
    1.2 times its thinner side from the next: one glyph drawn as separate pieces (the three
    dots of "more options", a pause sign's bars) that closing the edges does not join when
    they are far apart for their size. Only small (<= 16 px) or bar-like (3:1) parts count:
    whole icons side by side in a toolbar are not one glyph."""
    if len(parts) < 2:
        return []
    b = np.asarray(parts, np.float64)  # (N, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    similar = (np.maximum(w[:, None], w) <= 1.5 * np.minimum(w[:, None], w)) & (np.maximum(h[:, None], h) <= 1.5 * np.minimum(h[:, None], h))
    gap_x = np.maximum(b[:, None, 0], b[:, 0]) - np.minimum(b[:, None, 2], b[:, 2])
    gap_y = np.maximum(b[:, None, 1], b[:, 1]) - np.minimum(b[:, None, 3], b[:, 3])
    thin = np.minimum(np.minimum(w[:, None], w), np.minimum(h[:, None], h))
    part = (np.maximum(w, h) <= 16) | (np.maximum(w, h) >= 3 * np.minimum(w, h))
    row = (np.abs(cy[:, None] - cy) <= 0.3 * h[:, None]) & (gap_x > 0) & (gap_x <= 1.2 * thin)
    col = (np.abs(cx[:, None] - cx) <= 0.3 * w[:, None]) & (gap_y > 0) & (gap_y <= 1.2 * thin)
    _, label = connected_components((similar & (row | col) & part[:, None] & part).astype(np.int8), directed=False)
    out = []
    for g in np.unique(label):
        members = b[label == g]
        if 2 <= len(members) <= max_parts:
            x1, y1 = members[:, :2].min(0)
            x2, y2 = members[:, 2:].max(0)
            if max(x2 - x1, y2 - y1) <= max_side:
                out.append((int(x1), int(y1), int(x2), int(y2)))
    return out


def icon_blobs(image: np.ndarray, *, min_side: int = 8, max_side: int = 128) -> list[Box]:
    """Boxes (x1, y1, x2, y2) of small square-ish edge blobs in an (H, W, 3) uint8 RGB image:
    bare glyphs and icon buttons. Edges are closed over 5 px so a glyph drawn in separate
    strokes (a menu's three bars, a lock's shackle and body) is one blob; pieces further
    apart but alike and in line are joined by :func:`part_groups`."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.dilate(cv2.Canny(grey, 30, 90), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = [(x, y, x + w, y + h) for x, y, w, h in map(cv2.boundingRect, contours) if 3 <= max(w, h) <= max_side // 3]
    edges = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out = set()
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if min_side <= max(w, h) <= max_side and min(w, h) >= 0.3 * max(w, h):
            out.add((x, y, x + w, y + h))
    out.update(g for g in part_groups(parts, max_side=max_side) if max(g[2] - g[0], g[3] - g[1]) >= min_side)
    return sorted(out)


def icon_candidates(image: np.ndarray, text_boxes: Sequence[Sequence[float]], elements: Sequence[Box],
                    *, max_side: int = 128, top: int | None = None) -> list[tuple[Box, list[Box]]]:
    """Text-free candidate icons as (element to click, boxes to crop), largest first.

    text_boxes: OCR lines (xyxy) whose text is a word, not a lone glyph OCR read off an icon.
    elements: rectangles from the element finder. A candidate touching a text line or
    holding one is text, not an icon; one inside another candidate joins it (a glyph on its
    button) when it spans at least 60 % of its side and is square-ish, and is dropped
    otherwise (a gear's hole, one stroke of an X: their crops look like anything, a trash
    can's inner lines like a pause sign). A lone short bar (a stepper's minus, at least
    0.15 as tall as wide) is a candidate of its own.
    Candidates in the status bar (ending at row ``top``; found when None), in a photo or in a
    text field's middle are dropped (:mod:`~sensorium.stages.gui.non_targets`)."""
    buttons = {b for b in elements if max(b[2] - b[0], b[3] - b[1]) <= max_side and
               min(b[2] - b[0], b[3] - b[1]) >= 0.3 * max(b[2] - b[0], b[3] - b[1])}
    # a lone short bar is a glyph (a stepper's minus); thinner ones (a caret, a rule) join a button at most
    bars = {b for b in elements if max(b[2] - b[0], b[3] - b[1]) <= max_side} - buttons
    dashes = {b for b in bars if min(b[2] - b[0], b[3] - b[1]) >= 0.15 * max(b[2] - b[0], b[3] - b[1])}
    boxes = sorted(buttons | bars | set(icon_blobs(image, max_side=max_side)), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    groups: list[tuple[Box, list[Box]]] = []
    for b in boxes:
        if any(_overlaps(b, t) or inside(t, b, 0) for t in text_boxes):
            continue
        root = next((g for g in groups if inside(b, g[0], 3)), None)
        side = max(b[2] - b[0], b[3] - b[1])
        if root is None:
            if b not in bars or b in dashes:
                groups.append((b, [b]))
            continue
        if side >= 0.6 * max(root[0][2] - root[0][0], root[0][3] - root[0][1]) and min(b[2] - b[0], b[3] - b[1]) >= 0.5 * side:
            root[1].append(b)  # smaller pieces are strokes of the glyph, whose crops look like anything
    # no app element is in the status bar, in a photo or inside a text field's text (non_targets.py)
    entries = entry_boxes(elements, text_boxes)
    return [groups[i] for i in outside_status_bar([g[0] for g in groups], status_bar(image) if top is None else top)
            if on_plain_surface(image, groups[i][0]) and not in_entry_middle(groups[i][0], entries)]


def square_crop(image: np.ndarray, box: Sequence[float], pad: float = 1.25) -> np.ndarray:
    """The square of side ``pad`` x the box's longer side around its centre, clipped to the
    image, edge pixels repeated where it leaves the image: the icon in its own tile."""
    h, w = image.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(1, int(round(max(box[2] - box[0], box[3] - box[1]) * pad)))
    x1, y1 = int(np.floor(cx - side / 2 + 0.5)), int(np.floor(cy - side / 2 + 0.5))
    x2, y2 = x1 + side, y1 + side
    crop = image[max(0, y1): min(h, y2), max(0, x1): min(w, x2)]
    return cv2.copyMakeBorder(crop, max(0, -y1), max(0, y2 - h), max(0, -x1), max(0, x2 - w), cv2.BORDER_REPLICATE)


def _resolve(cfg: IconConfig) -> tuple[dict[str, Any], dict[str, tuple[str, ...]], tuple[str, ...]]:
    """The embed stage's options, the icon classes with their names (label -> names; for
    ``clip_icons`` the synonyms it was trained on, else each label alone) and the closed
    vocabulary for ``cfg``."""
    from sensorium.models.zoo import clip_icons
    from sensorium.models.data.icons import CLASSES, ICONS
    from sensorium.models.hub.weights import UnknownWeightsError, get_weights, resolve

    try:
        entry = get_weights(cfg.weights)
    except UnknownWeightsError:
        entry = None
    path = str(resolve(cfg.weights)) if entry is not None else cfg.weights
    config_json = cfg.config_json or (str(clip_icons.CONFIG_FILE) if cfg.weights == clip_icons.WEIGHTS_NAME else None)
    if cfg.model is None and config_json is None:
        raise ValueError(f"icons: weights {cfg.weights!r} need their architecture: an open_clip model name (model=) or config_json=")
    labels = cfg.labels or (entry.labels if entry is not None and entry.labels else CLASSES)
    vocabulary = cfg.vocabulary or (clip_icons.VOCABULARY if cfg.weights == clip_icons.WEIGHTS_NAME else ())
    ours = cfg.weights == clip_icons.WEIGHTS_NAME
    classes = {label: tuple(ICONS.get(label, (label,))) if ours else (label,) for label in labels}
    return {"model": None if config_json else cfg.model, "family": cfg.family, "weights": path, "config_json": config_json,
            "crops": False, "threads": cfg.threads}, classes, tuple(vocabulary)


def known_name(target: str, vocabulary: Sequence[str]) -> str | None:
    """The name in ``vocabulary`` that ``target`` asks for ("Increase hour" → "increase",
    "Search Word" → "search"): the one it matches best (rapidfuzz, >= 85), the longer name
    on a tie; None if it matches none. ``target`` itself (normalised) for an empty
    (open) vocabulary. A closed model's text tower has seen only its names, so it is asked
    with the name, not the sentence around it."""
    from rapidfuzz import fuzz

    t = " ".join(target.lower().replace(",", " ").split())
    if not vocabulary:
        return t
    best = max((max(fuzz.ratio(t, n), fuzz.token_set_ratio(t, n)), fuzz.ratio(t, n), len(n), n) for n in vocabulary)
    return best[3] if best[0] >= 85 else None


class Embedder(Protocol):
    """What icon grounding needs of an image-text embedding model (the embed stage is one)."""

    def setup(self) -> None: ...

    def embed_text(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


class IconGrounder:
    """``find(target, image, text_boxes, elements) -> IconMatch``; the embed model loads on first use.

    ``embedder`` builds the embedding model from its options (``EmbedStage`` is the one the
    pipeline passes in): stage families do not import each other, the composition root
    (``pipeline/agent/build.py``) joins them."""

    def __init__(self, config: IconConfig, *, embedder: Callable[[dict[str, Any]], Embedder] | None = None) -> None:
        if not isinstance(config, IconConfig):
            raise TypeError(f"IconGrounder: expected an IconConfig (build it at the edge), got {type(config).__name__}")
        self.config = config
        self._make_embedder = embedder
        self._embed: Any = None
        self._classes: dict[str, tuple[str, ...]] = {}
        self._vocabulary: tuple[str, ...] = ()
        self._text_cache: Any = None  # target → prompt vector, built in setup around the loaded model
        self._lock = threading.Lock()

    def setup(self) -> None:
        with self._lock:
            if self._embed is not None:
                return
            options, self._classes, self._vocabulary = _resolve(self.config)
            if self._make_embedder is None:
                raise ValueError("icon grounding needs an embedding model: pass embedder= (the embed stage class), "
                                 "as sensorium.pipeline.agent.build.build_gui_agent does")
            embed = self._make_embedder(options)
            embed.setup()
            self._text_cache = lru_cache(maxsize=256)(lambda t: self._prompt_vector(embed, t))
            self._embed = embed

    def knows(self, target: str) -> bool:
        """Whether ``target`` is one of the vocabulary's names, up to spelling ("notification",
        "trash" for "trash bin"); always True for an open-vocabulary model."""
        self.setup()
        return self.known_name(target) is not None

    def known_name(self, target: str) -> str | None:
        """The vocabulary name ``target`` asks for (:func:`known_name`)."""
        return known_name(target, self._vocabulary)

    def query(self, target: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """The names to ask the text tower for ``target`` (the name, or with ``pool`` mean/max
        its class's whole synonym set) and the rival classes' name sets; the target's own class
        is never a rival, so "bin" does not lose to "trash"."""
        name = self.known_name(target) or target
        own = next((names for names in self._classes.values() if name in names), None)
        if own is not None and self.config.pool == "name":
            return (name,), [(label,) for label, names in self._classes.items() if names is not own]
        if own is not None:
            return own, [names for names in self._classes.values() if names is not own]
        q = self._text_cache(name)
        return (name,), [names for names in self._classes.values() if self._pooled(q[None], names)[0] < self.config.synonym]

    def _pooled(self, vectors: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """(M,) similarity of (M, D) unit vectors to a set of names, pooled by ``config.pool``."""
        q = np.stack([self._text_cache(n) for n in names])  # (S, D)
        if self.config.pool == "max":
            return (vectors @ q.T).max(1)
        m = q.mean(0)
        return vectors @ (m / np.linalg.norm(m))

    @staticmethod
    def _prompt_vector(embed: Any, target: str) -> np.ndarray:
        v = embed.embed_text([p.format(target) for p in PROMPTS]).mean(0)
        return v / np.linalg.norm(v)

    def find(self, target: str, image: np.ndarray, text_boxes: Sequence[Sequence[float]], elements: Sequence[Box]) -> IconMatch:
        """The text-free element that looks most like ``target`` in an (H, W, 3) uint8 RGB
        screenshot (xyxy pixels), or a refusal saying why none does."""
        self.setup()
        c = self.config
        name = self.known_name(target)
        if name is None:
            return IconMatch(None, 0.0, 0.0, f"the icon model knows only {len(self._vocabulary)} icon names "
                                             f"({', '.join(self._vocabulary[:6])}, ...), not '{target}'")
        bar_bottom = status_bar(image)
        groups = icon_candidates(image, text_boxes, elements, top=bar_bottom)
        crops, owner = [], []
        for g, (_, members) in enumerate(groups):
            for b in members:
                if len(crops) < c.max_candidates:
                    crops.append(square_crop(image, b))
                    owner.append(g)
        if not crops:
            return IconMatch(None, 0.0, 0.0, "there is no text-free element (icon) on the screen")
        names, rival_sets = self.query(target)
        vectors = self._embed.embed_images(crops)  # (M, D) unit vectors
        sims = self._pooled(vectors, names)
        owner_a = np.asarray(owner)
        scores = np.array([sims[owner_a == g].max() for g in range(owner_a.max() + 1)])
        order = np.argsort(-scores)
        best, second = float(scores[order[0]]), float(scores[order[1]]) if len(order) > 1 else -1.0
        top = np.array([np.flatnonzero(owner_a == g)[np.argmax(sims[owner_a == g])] for g in range(len(scores))])  # best crop of each
        log.debug("icon %r: best %.3f at %s, runner-up %.3f, %d crops", target, best, groups[int(order[0])][0], second, len(crops))
        h, w = image.shape[:2]
        slot = app_bar_slot(name, [g[0] for g in groups], w, h, bar_bottom)
        chosen, how = self._choose(target, name, groups, scores, order, vectors[top], slot)
        if isinstance(chosen, IconMatch):
            return chosen
        box, score = groups[chosen][0], float(scores[chosen])
        # the chosen crop must be better described by the target's class than by any other
        v = vectors[top[chosen]][None]
        own = float(self._pooled(v, names)[0])
        for rival in rival_sets:
            other = float(self._pooled(v, rival)[0])
            if other > own:
                return IconMatch(box, score, second, f"the icon most like '{target}' looks more like a {rival[0]} "
                                 f"(similarity {other:.2f} vs {own:.2f})")
        return IconMatch(box, score, second, how=how)

    def _choose(self, target: str, name: str, groups: Sequence[tuple[Box, list[Box]]], scores: np.ndarray, order: np.ndarray,
                vectors: np.ndarray, slot: int | None) -> tuple[int | IconMatch, str]:
        """The element to click (an index into ``groups``) and how it was told apart ("" when it
        stood out alone), or the refusal. ``vectors``: (G, D) each element's best crop;
        ``slot``: the element at the app-bar end the framework name places the target at."""
        c = self.config
        best, second = float(scores[order[0]]), float(scores[order[1]]) if len(order) > 1 else -1.0
        box = groups[int(order[0])][0]
        if best < c.threshold:
            if slot is not None and slot == int(order[0]) and best >= c.weak:
                return slot, f"by its place at the app bar's {APP_BAR[name]} end, where '{name}' is by convention"
            return IconMatch(box, best, second, f"no icon looks like '{target}' (best similarity {best:.2f} < {c.threshold:.2f})"), ""
        # the contenders: every element close to the best in score, and every other element
        # above the threshold that is the same glyph ("Decrease hour" beside "Decrease minute")
        v = vectors[order[0]]
        alike = [int(g) for g in order[1:] if scores[g] >= c.threshold and (best - scores[g] < c.margin or float(vectors[g] @ v) >= c.twin)]
        if not alike:
            return int(order[0]), ""
        contenders = [int(order[0]), *alike]
        place = named_order(target, [groups[g][0] for g in contenders], skip=name)
        if place is not None:
            return contenders[place], "by the order its label names"
        if slot in contenders:
            return slot, f"by its place at the app bar's {APP_BAR[name]} end, where '{name}' is by convention"
        if best - second < c.margin:
            return IconMatch(box, best, second, f"two icons look alike for '{target}' (similarity {best:.2f} vs {second:.2f})",
                             alike=True), ""
        twin = next(g for g in alike if float(vectors[g] @ v) >= c.twin)
        return IconMatch(box, best, second, f"{len(alike) + 1} icons look the same for '{target}' "
                                            f"(at {box} and {groups[twin][0]})", alike=True), ""
