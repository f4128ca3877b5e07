"""Who is calling: the bearer token and the per-client rate limit, checked by every route that
does work before it touches the body's content."""

from __future__ import annotations

import hmac

from fastapi import Request

from sensorium.deploy.rest.errors import ApiError


def authorise(request: Request) -> str:
    """The client (token prefix or address) after the bearer token and the rate limit pass."""
    settings, limiter = request.app.state.settings, request.app.state.limiter
    if settings.token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(token.encode(), settings.token.encode()):
            raise ApiError(401, "unauthorized", "wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
        client = "token:" + token[:6]
    else:
        client = request.client.host if request.client else "unknown"
    wait = limiter.take(client)
    if wait > 0:
        raise ApiError(429, "rate_limited", f"rate limit of {settings.rate_limit_per_minute:g} requests per minute reached",
                       headers={"Retry-After": str(max(1, round(wait)))})
    return client
