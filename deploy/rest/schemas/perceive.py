"""Bodies of ``/v1/perceive`` (JSON) and ``/v1/perceive/upload`` (multipart): one image, a
stereo pair (``left`` is ``image``) or an RGB-D pair (colour ``image`` + 16-bit ``depth``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_FINITE = {"allow_inf_nan": False}


class PinholeIntrinsics(BaseModel):
    """The colour camera of an RGB-D pair, in pixels of the colour image."""

    model_config = ConfigDict(extra="forbid")
    fx: float = Field(..., gt=0, le=1e6, **_FINITE)
    fy: float = Field(..., gt=0, le=1e6, **_FINITE)
    cx: float = Field(..., ge=0, le=1e6, **_FINITE)
    cy: float = Field(..., ge=0, le=1e6, **_FINITE)


_Row = list[float]


class StereoCalibrationBody(BaseModel):
    """A stereo calibration as ``sensorium run --calib`` reads it (OpenCV's convention:
    ``X_right = R @ X_left + T``, T in metres), made at the pair's image size."""

    model_config = ConfigDict(extra="forbid")
    K1: list[_Row] = Field(..., min_length=3, max_length=3)
    D1: list[float] = Field(default_factory=list, max_length=14)
    K2: list[_Row] = Field(..., min_length=3, max_length=3)
    D2: list[float] = Field(default_factory=list, max_length=14)
    R: list[_Row] = Field(..., min_length=3, max_length=3)
    T: list[float] = Field(..., min_length=3, max_length=3)

    @model_validator(mode="after")
    def _finite_3x3(self) -> "StereoCalibrationBody":
        import math

        for name in ("K1", "K2", "R"):
            rows = getattr(self, name)
            if any(len(r) != 3 for r in rows):
                raise ValueError(f"{name}: expected a 3x3 matrix")
        values = [v for n in ("K1", "K2", "R") for r in getattr(self, n) for v in r] + self.D1 + self.D2 + self.T
        if not all(math.isfinite(v) for v in values):
            raise ValueError("calibration values must be finite")
        return self


class PerceiveRequest(BaseModel):
    image: str = Field(..., description="Base64 PNG, JPEG or WebP (a data: URL prefix is allowed); the left image of a stereo pair, "
                                         "the colour image of an RGB-D pair.")
    stages: list[str] = Field(..., min_length=1, max_length=16, description="Stage names, run in this order (e.g. detect, face, embed, depth).")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per stage, its options as in `--set STAGE.OPTION=VALUE`.")
    right: str | None = Field(None, description="Base64 right image of a stereo pair (same size as image).")
    calib: StereoCalibrationBody | None = Field(None, description="Stereo calibration of the pair; none: the pair is taken as rectified.")
    depth: str | None = Field(None, description="Base64 16-bit single-channel PNG registered to image (raw units; 0 unknown).")
    depth_scale: float = Field(1000.0, gt=0, le=1e6, allow_inf_nan=False, description="Raw depth units per metre (1000: millimetres).")
    intrinsics: PinholeIntrinsics | None = Field(None, description="The colour camera of an RGB-D pair.")

    @model_validator(mode="after")
    def _pairs(self) -> "PerceiveRequest":
        if self.calib is not None and self.right is None:
            raise ValueError("calib belongs to a stereo pair: give right as well")
        if self.intrinsics is not None and self.depth is None:
            raise ValueError("intrinsics belong to an RGB-D pair: give depth as well")
        return self


class PerceiveResponse(BaseModel):
    """The frame as the JSONL sink writes it: every stage's result (or error), timings, and
    each depth map as its summary."""

    source_id: str
    seq: int
    timestamp: float
    image_shape: list[int] | None
    results: dict[str, Any]
    errors: dict[str, str]
    timings: dict[str, float]
    meta: dict[str, Any]
    depth: dict[str, Any] | None = None
    calib: dict[str, Any] | None = None
    request_id: str
