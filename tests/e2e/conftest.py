"""Scenario tests reuse the REST service fixture of the deploy tests."""

from tests.deploy.conftest import service  # noqa: F401 - a pytest fixture, registered by being here
