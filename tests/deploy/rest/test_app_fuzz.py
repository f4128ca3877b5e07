"""Schemathesis over the whole OpenAPI of the assembled app (uvicorn on loopback, the real local
agent): generated bodies, valid and not (multipart included), with a fixed seed and a bounded
number of examples per operation. No answer is a 5xx, every answer's status is documented and
its body matches the documented schema (the error envelope for every error). The operations
come from the served OpenAPI, so routes the other parts add are fuzzed too.

Each operation runs as its own Hypothesis test here (schemathesis' lazy pytest fixture loader
does not run under pytest 9)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.deploy.conftest import AUTH

#: examples per operation and mode: enough to reach every body shape, small enough for ~60 s on 2 cores
EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _fuzz(operation, mode: schemathesis.GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=True)
    def run(case):
        case.call_and_validate(headers=AUTH, timeout=120, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        if mode is schemathesis.GenerationMode.POSITIVE:
            raise  # a negative case cannot exist for an operation with no parameters and no body (GET /healthz)


@pytest.mark.slow
def test_no_5xx_and_every_answer_as_documented(service):
    schema = schemathesis.openapi.from_url(service + "/openapi.json", headers=AUTH, timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /v1/agent/act", "POST /v1/agent/act/upload", "POST /v1/perceive", "GET /readyz"} <= labels, labels
    for operation in operations:
        for mode in schemathesis.GenerationMode:  # valid bodies, then bodies that break the schema
            _fuzz(operation, mode)
