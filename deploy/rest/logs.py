"""One log line per request, as text or JSON, and the request id it carries.

The id is the client's ``x-request-id`` only when it is short and plain (a header is free text:
a newline or 10 kB in it would forge or flood log lines), else a new one.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

#: the logger of the per-request lines
ACCESS = logging.getLogger("sensorium.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: the fields of an access line, in order
FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms", "client", "error")


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def request_id_from(header: str | None) -> str:
    """The client's id when it is at most 64 characters of ``A-Za-z0-9._-``, else a new one."""
    return header if header is not None and _SAFE_ID.match(header) else new_request_id()


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, the access fields it carries
    and the traceback (one line: JSON escapes the newlines)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z", "level": record.levelname,
               "logger": record.name, "message": record.getMessage()}
        out.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(log_format: str, level: int = logging.WARNING) -> None:
    """Root logging in ``log_format`` (text or json) at ``level`` (the CLI's edge)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)


def configure_access_log(log_format: str) -> None:
    """The access lines on stderr in ``log_format``, at INFO whatever the root level, on a handler
    of their own (under Ray Serve each replica builds the app, and this is its only edge)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    for old in list(ACCESS.handlers):
        ACCESS.removeHandler(old)
    ACCESS.addHandler(handler)
    ACCESS.setLevel(logging.INFO)
    ACCESS.propagate = False


def log_request(fields: dict) -> None:
    """One access line: the fields as record attributes (the JSON formatter writes them as keys)
    and a readable message for the text format."""
    message = " ".join(f"{k}={fields[k]}" for k in FIELDS if fields.get(k) is not None)
    ACCESS.info(message, extra=fields)
