"""The service object behind the routes: decoded screenshot in, GuiStep out, no HTTP."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.deploy.rest.service import AgentService, BackendFailed
from sensorium.deploy.settings import ServiceSettings
from sensorium.pipeline.agent.build import AgentSettings
from sensorium.stages.gui.coords import CoordinateError
from sensorium.stages.results import CoordinateSpace, ScreenGeometry
from tests.deploy.conftest import screen_with_button


def test_act_answers_in_logical_pixels_with_its_space_and_screen(local_agent):
    service = AgentService(ServiceSettings(), local_agent)
    step = service.act(screen_with_button(), "click Submit", dpr=2.0)
    (click,) = step.actions
    assert click.type == "click" and 100 <= click.x <= 180 and 100 <= click.y <= 125  # the button's centre (280, 225) at DPR 2
    assert step.space is CoordinateSpace.PHYSICAL_PX and step.backend == service.backend_name == "local"
    assert step.screen == ScreenGeometry(width=320.0, height=240.0, dpr=2.0, image_width=640, image_height=480)


def test_errors_are_the_agents_not_http(local_agent):
    with pytest.raises(CoordinateError, match="give both screen width and height"):
        AgentService(ServiceSettings(), local_agent).act(screen_with_button(), "click Submit", width=100.0)
    dead = AgentService(ServiceSettings(agent=AgentSettings(backend="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="m", retries=0)))
    with pytest.raises(BackendFailed, match="127.0.0.1:9"):
        dead.act(np.zeros((20, 20, 3), np.uint8), "click OK")


def test_the_service_loads_the_ocr_models_when_it_starts():
    """Not in its first client's request: that one would wait seconds for the engine."""
    from sensorium.stages.gui.screen_ocr import ScreenReader

    assert not ScreenReader().loaded  # a reader builds its sessions on first use...
    service = AgentService(ServiceSettings())
    assert service.agent.backend.reader.loaded  # ...and the service uses it before any request
