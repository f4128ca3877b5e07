"""The Serve config file (Ray Serve's ``serve build`` format), parsed once into a typed value.

The same YAML deploys with ``sensorium serve --config serve.yaml`` and with ``serve deploy
serve.yaml`` on a cluster (KubeRay embeds it as ``serveConfigV2``): one application whose
``import_path`` is ``sensorium.deploy.application:build`` and whose ``args`` say which stages
run, their options, the service settings and each stage's batching; ``deployments`` overrides
each deployment's replicas, resources and queue limits. Unknown keys are errors naming the key
(a typo must not silently fall back to a default). docs/serving.md documents every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: the application builder the config names
IMPORT_PATH = "sensorium.deploy.application:build"
#: the ingress deployment's name (stage deployments are named after their stage)
INGRESS = "api"
#: the stream manager's deployment (``/v1/streams``)
STREAMS = "streams"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchingConfig(_Strict):
    """Per stage: at most max_batch_size frames per stage call, waiting at most batch_wait_timeout_s to fill it."""

    max_batch_size: int = Field(8, ge=1, le=256)
    batch_wait_timeout_s: float = Field(0.01, ge=0.0, le=10.0, allow_inf_nan=False)


class ActorOptions(_Strict):
    num_cpus: float | None = Field(None, ge=0.0, allow_inf_nan=False)
    num_gpus: float | None = Field(None, ge=0.0, allow_inf_nan=False)


class BackpressureOptions(_Strict):
    """What a full queue answers over HTTP (Ray Serve's BackpressureConfig)."""

    status_code: Literal[503, 429] = 503
    retry_after_s: float | None = Field(1.0, ge=0.0, allow_inf_nan=False)


class DeploymentConfig(_Strict):
    """One deployment's Serve options (None: the builder's default for that deployment)."""

    name: str
    num_replicas: int | None = Field(None, ge=1, le=1024)
    ray_actor_options: ActorOptions | None = None
    max_ongoing_requests: int | None = Field(None, ge=1)
    max_queued_requests: int | None = Field(None, ge=-1)
    backpressure_config: BackpressureOptions | None = None
    graceful_shutdown_timeout_s: float | None = Field(None, ge=0.0, allow_inf_nan=False)
    graceful_shutdown_wait_loop_s: float | None = Field(None, gt=0.0, allow_inf_nan=False)
    health_check_period_s: float | None = Field(None, gt=0.0, allow_inf_nan=False)
    health_check_timeout_s: float | None = Field(None, gt=0.0, allow_inf_nan=False)
    user_config: BatchingConfig | None = None

    def serve_options(self) -> dict[str, Any]:
        """The options Serve's ``Deployment.options`` takes, only those given."""
        out = self.model_dump(exclude_none=True, exclude={"name"})
        if self.ray_actor_options is not None:
            out["ray_actor_options"] = self.ray_actor_options.model_dump(exclude_none=True)
        return out


class AppArgs(_Strict):
    """The builder's ``args``: stages (deployed, in the order requests usually name them), their
    default options (what each replica loads at start), the REST service's settings (the
    fields of ``ServiceSettings``) and per-stage batching."""

    stages: list[str] = Field(default_factory=lambda: ["detect", "face"], min_length=1, max_length=16)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    service: dict[str, Any] = Field(default_factory=dict)
    batching: dict[str, BatchingConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> "AppArgs":
        if len(set(self.stages)) != len(self.stages):
            raise ValueError(f"stages: each stage once, got {self.stages}")
        for key in ("options", "batching"):
            stray = sorted(set(getattr(self, key)) - set(self.stages))
            if stray:
                raise ValueError(f"{key}: stage(s) {', '.join(stray)} not in stages ({', '.join(self.stages)})")
        return self


class HttpOptions(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    request_timeout_s: float | None = Field(None, gt=0.0, allow_inf_nan=False)
    keep_alive_timeout_s: float | None = Field(None, gt=0.0, allow_inf_nan=False)


class ApplicationConfig(_Strict):
    name: str = "sensorium"
    route_prefix: str = "/"
    import_path: str = IMPORT_PATH
    args: AppArgs = Field(default_factory=AppArgs)
    deployments: list[DeploymentConfig] = Field(default_factory=list)

    @field_validator("import_path")
    @classmethod
    def _ours(cls, value: str) -> str:
        if value != IMPORT_PATH:
            raise ValueError(f"expected {IMPORT_PATH!r}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _deployments_known(self) -> "ApplicationConfig":
        known = [INGRESS, STREAMS, *self.args.stages]
        names = [d.name for d in self.deployments]
        stray = sorted(set(names) - set(known))
        if stray:
            raise ValueError(f"deployments: {', '.join(stray)} is not a deployment of this application (expected one of {', '.join(known)})")
        if len(set(names)) != len(names):
            raise ValueError(f"deployments: each name once, got {names}")
        return self

    def deployment(self, name: str) -> DeploymentConfig:
        return next((d for d in self.deployments if d.name == name), DeploymentConfig(name=name))


class ServeConfig(_Strict):
    proxy_location: Literal["EveryNode", "HeadOnly", "Disabled"] = "EveryNode"
    http_options: HttpOptions = Field(default_factory=HttpOptions)
    applications: list[ApplicationConfig] = Field(default_factory=lambda: [ApplicationConfig()], min_length=1, max_length=1)

    @property
    def app(self) -> ApplicationConfig:
        return self.applications[0]


class ServeConfigError(ValueError):
    """A Serve config that does not parse; the message names each bad key by its path."""


def parse_serve_config(data: Any, source: str = "serve config") -> ServeConfig:
    """The typed config of a parsed YAML/JSON mapping; :class:`ServeConfigError` naming each bad key."""
    try:
        return ServeConfig.model_validate(data)
    except ValidationError as exc:
        raise ServeConfigError(f"{source}: " + "; ".join(_where(e) for e in exc.errors())) from None


def parse_app_args(data: Any) -> AppArgs:
    """The builder's ``args`` (what ``serve deploy`` passes it), typed; errors name the key."""
    try:
        return AppArgs.model_validate(data or {})
    except ValidationError as exc:
        raise ServeConfigError("args: " + "; ".join(_where(e) for e in exc.errors())) from None


def read_serve_config(path: str | Path) -> ServeConfig:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"serve config not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ServeConfigError(f"{p}: not valid YAML: {exc}") from None
    return parse_serve_config(data, str(p))


def _where(error: Any) -> str:
    loc = ".".join(str(x) for x in error.get("loc", ()))
    msg = error.get("msg", "invalid")
    if error.get("type") == "extra_forbidden":
        msg = "unknown key"
    return f"{loc}: {msg}" if loc else msg
