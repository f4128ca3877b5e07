"""The assembled app: the API's contract (paths, methods, status codes, body schemas) as
OpenAPI states it, which the split into schemas/errors/middleware/routes must not change."""

from __future__ import annotations

from sensorium.deploy.rest.app import create_app
from sensorium.deploy.settings import ServiceSettings
from sensorium.stages.gui.stage import GuiAgentStage


def test_openapi_states_the_api():
    spec = create_app(ServiceSettings(), GuiAgentStage()).openapi()  # the agent's backend is built lazily: nothing loads
    ops = {(path, method): op for path, item in spec["paths"].items() for method, op in item.items()}
    assert {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"), ("/v1/agent/act", "post"), ("/v1/agent/act/upload", "post"),
            ("/v1/perceive", "post"), ("/v1/perceive/upload", "post"), ("/v1/streams", "get"), ("/v1/streams", "post"), ("/v1/streams/{stream_id}", "delete"),
            ("/v1/streams/{stream_id}", "get"), ("/v1/streams/{stream_id}/preview.mjpg", "get"),
            ("/v1/streams/{stream_id}/results", "get")} <= set(ops)  # other parts add their routes
    for key in [("/v1/agent/act", "post"), ("/v1/agent/act/upload", "post")]:
        responses = ops[key]["responses"]
        assert sorted(responses) == ["200", "400", "401", "403", "413", "422", "429", "500"], key
        assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ActResponse"}
        assert responses["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert ops[("/v1/agent/act", "post")]["operationId"] == "act_json_v1_agent_act_post"
    schemas = spec["components"]["schemas"]
    assert list(schemas["ActResponse"]["properties"]) == ["thought", "actions", "raw", "space", "screen", "backend", "request_id"]
    assert list(schemas["ActRequest"]["properties"]) == ["screenshot", "instruction", "history", "screen"]
    assert list(schemas["ErrorBody"]["properties"]) == ["code", "message", "request_id", "raw"]
    assert list(schemas["Action"]["properties"]) == ["type", "x", "y", "x2", "y2", "params", "raw"]
    assert list(schemas["PerceiveRequest"]["properties"]) == ["image", "stages", "options", "right", "calib", "depth", "depth_scale", "intrinsics"]
    for key in [("/v1/perceive", "post"), ("/v1/perceive/upload", "post")]:
        assert sorted(ops[key]["responses"]) == ["200", "400", "401", "403", "413", "422", "429", "500", "503"], key  # 503: a stage at capacity
    form = ops[("/v1/agent/act/upload", "post")]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["screenshot", "instruction"] and form["properties"]["screenshot"]["format"] == "binary"
    assert form["properties"]["instruction"]["maxLength"] == 4000 and form["properties"]["dpr"]["minimum"] == 0.1
    assert not {"/docs", "/redoc"} & set(spec["paths"])  # served, not operations


def test_openapi_states_the_bearer_scheme_and_scopes_when_tokens_are_set():
    spec = create_app(ServiceSettings(token="t"), GuiAgentStage()).openapi()
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    act = spec["paths"]["/v1/agent/act"]["post"]
    assert act["security"] == [{"bearer": []}] and "`agent` scope" in act["description"]
    assert spec["paths"]["/healthz"]["get"]["security"] == [] and spec["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}]
    assert "securitySchemes" not in create_app(ServiceSettings(), GuiAgentStage()).openapi().get("components", {})
