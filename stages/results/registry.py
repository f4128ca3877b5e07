"""The registry of result kinds, so a frame can rebuild its results from JSON.

Each container module registers its class with :func:`register` when it is imported; the
package ``__init__`` imports them all, so the registry is complete once
``sensorium.stages.results`` is imported.
"""

from __future__ import annotations

from typing import Any

#: result kind (``cls.kind``) → container class
RESULT_KINDS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: add ``cls`` under ``cls.kind``; a kind registered twice is an error."""
    if cls.kind in RESULT_KINDS:
        raise ValueError(f"result kind {cls.kind!r} registered twice")
    RESULT_KINDS[cls.kind] = cls
    return cls


def result_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild any registered container from its ``to_dict()`` output."""
    try:
        cls = RESULT_KINDS[d["kind"]]
    except KeyError:
        raise ValueError(f"unknown result kind {d.get('kind')!r}; known: {sorted(RESULT_KINDS)}") from None
    return cls.from_dict(d)
