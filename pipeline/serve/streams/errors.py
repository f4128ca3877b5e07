"""What the stream manager refuses, each with the HTTP status and stable code the REST layer answers."""

from __future__ import annotations


class StreamError(ValueError):
    """A refused stream request: ``status`` (HTTP), ``code`` (stable, for clients) and a message
    naming the rule or value that was wrong. Plain values, so it crosses a Serve handle as a dict."""

    status = 400
    code = "bad_stream"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or type(self).status
        self.code = code or type(self).code

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> "StreamError":
        return cls(str(d["message"]), status=int(d["status"]), code=str(d["code"]))  # type: ignore[arg-type]


class SourceRefused(StreamError):
    """The source breaks the operator's policy (403) or is not a source at all (400)."""

    status, code = 403, "source_refused"


class OptionRefused(StreamError):
    """A stage option naming a file outside the operator's file roots."""

    status, code = 403, "option_refused"


class SinkRefused(StreamError):
    status, code = 403, "sink_refused"


class InvalidStream(StreamError):
    """Stages or options that do not build (unknown stage, bad option value)."""

    status, code = 422, "invalid_stream"


class TooManyStreams(StreamError):
    status, code = 429, "too_many_streams"


class UnknownStream(StreamError):
    status, code = 404, "unknown_stream"
