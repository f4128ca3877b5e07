"""Service settings, built once at the edge (CLI, environment or the Serve config's ``service``
block) and passed down as a value."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from sensorium.deploy.tokens import TokenTable, read_records
from sensorium.pipeline.agent.build import AgentSettings
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.stages.config import coerce_fields

TOKEN_ENV = "SENSORIUM_TOKEN"
TOKEN_FILE_ENV = "SENSORIUM_TOKEN_FILE"
TOKENS_FILE_ENV = "SENSORIUM_TOKENS_FILE"
LOG_FORMATS = ("text", "json")


def is_loopback(host: str) -> bool:
    """True only for ``localhost`` and loopback addresses (127.0.0.0/8, ::1). The empty host and
    ``0.0.0.0`` bind every interface, so they are not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token: str | None = None, token_file: str | Path | None = None) -> str | None:
    """The plain bearer token (all scopes): given, else ``$SENSORIUM_TOKEN``, else the file given
    or in ``$SENSORIUM_TOKEN_FILE`` (first line). None when there is none."""
    if token:
        return token.strip()
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    path = token_file or os.environ.get(TOKEN_FILE_ENV)
    if path:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"token file not found: {p}")
        value = p.read_text().strip().splitlines()[0].strip() if p.read_text().strip() else ""
        if not value:
            raise ValueError(f"token file {p} is empty")
        return value
    return None


def read_tokens_file(tokens_file: str | Path | None = None) -> str | None:
    """The hashed tokens file: given, else ``$SENSORIUM_TOKENS_FILE``; None when there is none."""
    path = tokens_file or os.environ.get(TOKENS_FILE_ENV)
    return str(path) if path else None


@dataclass(frozen=True)
class ServiceSettings:
    """host/port: where to listen. token: a plain bearer token with every scope (compatibility);
    tokens_file: hashed tokens with scopes (``sensorium token create``); with neither, no auth and
    loopback only. public_ops: leave /metrics and the API docs open although tokens are set (else
    they need the ``admin`` scope). max_body_bytes: larger requests get 413 before they are read.
    max_image_pixels / max_request_pixels: per image / per request (history included), judged
    from the headers before anything is decoded. max_json_depth: deeper JSON bodies get 400 before
    they are parsed. rate_limit_*: per client (token name or address); auth_failures_per_minute:
    failed authentications per address before 429. serialize_agent: one agent call at a time
    (the local OCR backend is not thread-safe across calls). log_format: text or json (one line
    per request on the ``sensorium.access`` logger)."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    tokens_file: str | None = None
    public_ops: bool = False
    max_body_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_request_pixels: int = 60_000_000
    max_json_depth: int = 64
    rate_limit_per_minute: float = 600.0
    rate_limit_burst: int = 60
    auth_failures_per_minute: int = 20
    serialize_agent: bool = True
    log_format: str = "text"
    agent: AgentSettings = field(default_factory=AgentSettings)
    streams: StreamPolicy = field(default_factory=StreamPolicy)  # what POST /v1/streams may open and write

    def __post_init__(self) -> None:
        coerce_fields(self)
        if not self.token and not self.tokens_file and not is_loopback(self.host):
            raise ValueError(f"refusing to listen on {self.host!r} without a bearer token (only 127.0.0.0/8, ::1 and localhost are "
                             f"loopback): set {TOKEN_ENV}, --token-file or --tokens-file")
        if self.max_body_bytes < 1024 or self.max_image_pixels < 1 or self.rate_limit_per_minute <= 0 or self.rate_limit_burst < 1:
            raise ValueError("max_body_bytes >= 1024, max_image_pixels >= 1, rate_limit_per_minute > 0 and rate_limit_burst >= 1 are required")
        if self.max_request_pixels < self.max_image_pixels:
            raise ValueError(f"max_request_pixels ({self.max_request_pixels}) must be >= max_image_pixels ({self.max_image_pixels})")
        if not 2 <= self.max_json_depth <= 512 or self.auth_failures_per_minute < 1:
            raise ValueError(f"max_json_depth: expected 2..512, got {self.max_json_depth}; auth_failures_per_minute >= 1")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: expected 0..65535, got {self.port}")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"log_format: expected text or json, got {self.log_format!r}")
        if self.tokens_file:
            read_records(self.tokens_file)  # a broken file fails here, at the edge, naming the entry

    @property
    def auth_on(self) -> bool:
        return bool(self.token or self.tokens_file)

    def token_table(self) -> TokenTable:
        """The tokens the service accepts (the file is reread when it changes)."""
        return TokenTable(self.token, self.tokens_file)
