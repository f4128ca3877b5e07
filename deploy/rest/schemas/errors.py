"""The error envelope every error answers with."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str
    raw: Optional[str] = None


class ErrorResponse(BaseModel):
    error: ErrorBody
