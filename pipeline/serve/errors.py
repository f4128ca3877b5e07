"""Why a perception backend could not answer, in words the REST layer maps to a status (both
503 with ``Retry-After``: the client did nothing wrong and may try again)."""

from __future__ import annotations


class Overloaded(RuntimeError):
    """A stage's queue is full (Ray Serve's ``max_queued_requests``): the request was refused
    rather than left to wait without bound. retry_after_s: when trying again makes sense."""

    def __init__(self, stage: str, detail: str, retry_after_s: float = 1.0) -> None:
        super().__init__(f"stage {stage!r} is at capacity ({detail}); retry later")
        self.stage, self.retry_after_s = stage, retry_after_s


class StageUnavailable(RuntimeError):
    """A stage's replica died while it held the request, and again on the one retry."""

    def __init__(self, stage: str, detail: str, retry_after_s: float = 2.0) -> None:
        super().__init__(f"stage {stage!r} is unavailable ({detail}); retry later")
        self.stage, self.retry_after_s = stage, retry_after_s
