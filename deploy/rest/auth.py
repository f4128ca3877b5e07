"""Who is calling and what they may do, decided from the path and the headers alone, before
anything reads or parses the body: a client without a valid token never costs a body read,
a JSON parse or a validation.

The path prefix names the scope a token needs (:func:`required_scope`); 401 answers a missing
or wrong token, 403 a token without that scope, 429 an address that failed too often or a
client over its request rate. Routes do not authenticate themselves.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from sensorium.deploy.rest.middleware import RateLimiter, scope_state, send_error
from sensorium.deploy.settings import ServiceSettings
from sensorium.deploy.tokens import TokenTable

#: path prefix → the scope a token needs there
PREFIX_SCOPES = (("/v1/perceive", "perceive"), ("/v1/agent", "agent"), ("/v1/streams", "streams"))
#: the operator's pages: ``admin`` when tokens are set (unless ``public_ops``)
OPS_PATHS = ("/metrics", "/docs", "/redoc", "/openapi.json", "/static-offline-docs")
#: always open: a load balancer's probes carry no token
OPEN_PATHS = ("/healthz", "/readyz")
#: what :func:`required_scope` answers for an open path, and for any other path (any valid token)
OPEN, ANY = "open", "any"
_WORK = {scope for _, scope in PREFIX_SCOPES}


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def required_scope(path: str, public_ops: bool = False) -> str:
    """The scope ``path`` needs: a scope name, :data:`OPEN` or :data:`ANY`."""
    if path in OPEN_PATHS:
        return OPEN
    for prefix, scope in PREFIX_SCOPES:
        if path.startswith(prefix):  # /v1/perceive* as documented: /v1/perceive/upload too
            return scope
    if any(_under(path, p) for p in OPS_PATHS):
        return OPEN if public_ops else "admin"
    return ANY


class Authenticate:
    """ASGI middleware: the bearer token against ``settings``' tokens, the failed-auth limit per
    address and the request rate per client, all before the app is called. Puts the client
    (``token:<name>`` or the address) in ``request.state.client``."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings, tokens: TokenTable, limiter: RateLimiter) -> None:
        self.app, self.settings, self.tokens, self.limiter = app, settings, tokens, limiter
        per_minute = settings.auth_failures_per_minute
        self.failures = RateLimiter(per_minute, per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        need = required_scope(scope["path"], self.settings.public_ops)
        address = scope["client"][0] if scope.get("client") else "unknown"
        client = address
        if need != OPEN and self.tokens.configured:
            refusal, client = self._check(scope, need, address)
            if refusal is not None:
                await send_error(scope, send, *refusal)
                return
        scope_state(scope)["client"] = client
        if need in _WORK:
            wait = self.limiter.take(client)
            if wait > 0:
                await send_error(scope, send, 429, "rate_limited", f"rate limit of {self.settings.rate_limit_per_minute:g} requests per minute reached",
                                 {"Retry-After": str(max(1, round(wait)))})
                return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, need: str, address: str) -> tuple[tuple | None, str]:
        """(None, client) when the token may do ``need``, else (the refusal's send_error arguments, address)."""
        wait = self.failures.wait(address)
        if wait > 0:
            return (429, "too_many_auth_failures", "too many failed authentications from this address",
                    {"Retry-After": str(max(1, round(wait)))}), address
        bearer = {"WWW-Authenticate": "Bearer"}
        scheme, _, token = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            self.failures.take(address)
            return (401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)", bearer), address
        record = self.tokens.verify(token)
        if record is None:
            self.failures.take(address)
            return (401, "unauthorized", "wrong bearer token", bearer), address
        if need != ANY and need not in record.scopes:
            return (403, "forbidden", f"token {record.name!r} lacks the {need!r} scope (it has {', '.join(record.scopes)})",
                    {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{need}"'}), address
        return None, "token:" + record.name


def authorise(request: Request) -> str:
    """The client the middleware authenticated (``token:<name>`` or the address). Kept for routes
    written before the middleware: authentication and the rate limit already happened there."""
    return getattr(request.state, "client", None) or (request.client.host if request.client else "unknown")
