"""Bodies of the operator routes."""

from __future__ import annotations

from pydantic import BaseModel


class ReadyResponse(BaseModel):
    """``/readyz``: ready when every check is; ``not_ready`` names the others (``perception.detect``)."""

    ready: bool
    not_ready: list[str]
    checks: dict[str, bool]
