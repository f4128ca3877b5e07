"""Bearer tokens at rest: a file of ``{name, sha256, scopes}`` entries (JSON or YAML), never the
tokens themselves, so a leaked file or backup grants nothing.

``sensorium token create`` writes an entry and prints the token once; the service reads the
file at start and again whenever it changes (a revoked token stops working without a restart).
A token is checked by hashing it and comparing with every entry in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

#: what a token may be allowed to do; ``admin`` is the operator's: metrics and the API docs
SCOPES = ("perceive", "agent", "streams", "admin")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def hash_token(token: str) -> str:
    """The sha256 hex digest stored for ``token`` (tokens are 256-bit random, so no salt or KDF is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A new random token (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def parse_scopes(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"perceive,agent"`` or a list → a sorted tuple of known scopes; ValueError naming an unknown one."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if str(s).strip()]
    unknown = [s for s in items if s not in SCOPES]
    if unknown or not items:
        raise ValueError(f"scopes: expected a comma-separated subset of {', '.join(SCOPES)}, got {','.join(map(str, items)) or 'nothing'}")
    return tuple(sorted(set(items), key=SCOPES.index))


@dataclass(frozen=True)
class TokenRecord:
    """One token as stored: who it is for, its hash, what it may do."""

    name: str
    sha256: str
    scopes: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _NAME.match(str(self.name)):
            raise ValueError(f"token name: expected 1-64 characters of A-Z a-z 0-9 . _ -, got {self.name!r}")
        if not _HEX.match(str(self.sha256)):
            raise ValueError(f"token {self.name}: sha256 must be 64 lowercase hex digits")
        object.__setattr__(self, "scopes", parse_scopes(list(self.scopes)))


def read_records(path: str | Path) -> list[TokenRecord]:
    """The entries of a tokens file (``{"tokens": [...]}`` or a bare list; JSON or YAML); a missing
    file is an empty table. ValueError naming the file and the entry that is wrong."""
    p = Path(path)
    if not p.exists():
        return []
    text = p.read_text()
    if not text.strip():
        return []
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"tokens file {p}: not JSON ({exc})") from None
    entries = data.get("tokens") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ValueError(f"tokens file {p}: expected a list of {{name, sha256, scopes}} under 'tokens'")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or set(e) != {"name", "sha256", "scopes"}:
            raise ValueError(f"tokens file {p}: entry {i}: expected keys name, sha256, scopes, got {e!r:.120}")
        try:
            out.append(TokenRecord(e["name"], e["sha256"], tuple(e["scopes"])))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"tokens file {p}: entry {i}: {exc}") from None
    if len({r.name for r in out}) != len(out):
        raise ValueError(f"tokens file {p}: duplicate token names")
    return out


def write_records(path: str | Path, records: list[TokenRecord]) -> None:
    """Replace the tokens file atomically, readable by its owner only."""
    p = Path(path)
    body = {"tokens": [{"name": r.name, "sha256": r.sha256, "scopes": list(r.scopes)} for r in records]}
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(body, sort_keys=False)
    else:
        text = json.dumps(body, indent=2) + "\n"
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, p)


class TokenTable:
    """What the service checks tokens against: the plain token of ``SENSORIUM_TOKEN`` /
    ``--token-file`` (all scopes, named ``default``) and the hashed entries of a tokens file,
    reread when its modification time changes."""

    def __init__(self, plain: str | None = None, path: str | Path | None = None) -> None:
        self._plain = TokenRecord("default", hash_token(plain), SCOPES) if plain else None
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._records: list[TokenRecord] = []
        self._reload()

    @property
    def configured(self) -> bool:
        """Whether authentication is on (a plain token or a tokens file is given, even an empty one)."""
        return self._plain is not None or self.path is not None

    def _reload(self) -> None:
        if self.path is None:
            return
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp != self._stamp:
            self._records, self._stamp = read_records(self.path), stamp

    def verify(self, token: str) -> TokenRecord | None:
        """The entry ``token`` belongs to, or None. Every entry is compared (constant time in
        the token), so the answer time says nothing about which prefix matched."""
        with self._lock:
            try:
                self._reload()
            except ValueError:  # a half-written file: keep the last good table
                pass
            records = ([self._plain] if self._plain else []) + self._records
        digest = hash_token(token).encode()
        found = None
        for r in records:
            if hmac.compare_digest(digest, r.sha256.encode()) and found is None:
                found = r
        return found
