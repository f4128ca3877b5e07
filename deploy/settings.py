"""Service settings, built once at the edge (CLI or environment) and passed down as a value."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from sensorium.pipeline.agent.build import AgentSettings
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.stages.config import coerce_fields

TOKEN_ENV = "SENSORIUM_TOKEN"
TOKEN_FILE_ENV = "SENSORIUM_TOKEN_FILE"


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token: str | None = None, token_file: str | Path | None = None) -> str | None:
    """The bearer token: given, else ``$SENSORIUM_TOKEN``, else the file given or in
    ``$SENSORIUM_TOKEN_FILE`` (first line). None when there is none."""
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


@dataclass(frozen=True)
class ServiceSettings:
    """host/port: where to listen. token: bearer token (None: no auth, loopback only).
    max_body_bytes: larger requests get 413 before they are read. max_image_pixels: larger
    screenshots get 413 before they are decoded. rate_limit_*: per client (token or address).
    serialize_agent: one agent call at a time (the local OCR backend is not thread-safe
    across calls; HTTP backends may set False)."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_body_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    rate_limit_per_minute: float = 600.0
    rate_limit_burst: int = 60
    serialize_agent: bool = True
    agent: AgentSettings = field(default_factory=AgentSettings)
    streams: StreamPolicy = field(default_factory=StreamPolicy)  # what POST /v1/streams may open and write

    def __post_init__(self) -> None:
        coerce_fields(self)
        if not self.token and not is_loopback(self.host):
            raise ValueError(f"refusing to listen on {self.host} without a bearer token: set {TOKEN_ENV}, {TOKEN_FILE_ENV} or --token-file")
        if self.max_body_bytes < 1024 or self.max_image_pixels < 1 or self.rate_limit_per_minute <= 0 or self.rate_limit_burst < 1:
            raise ValueError("max_body_bytes >= 1024, max_image_pixels >= 1, rate_limit_per_minute > 0 and rate_limit_burst >= 1 are required")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: expected 0..65535, got {self.port}")
