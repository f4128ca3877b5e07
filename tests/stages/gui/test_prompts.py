"""UI-TARS prompts: every action they offer is one the parser reads into the shared vocabulary."""

from __future__ import annotations

import re

import pytest

from sensorium.stages.gui.parse import ACTIONS
from sensorium.stages.gui.prompts import VERSION_SPACE, build_prompt
from sensorium.stages.results import ActionType, CoordinateSpace


@pytest.mark.parametrize("kind, version", [("computer", "1.0"), ("computer", "1.5"), ("mobile", "1.5")])
def test_every_offered_action_is_in_the_vocabulary(kind, version):
    text = build_prompt("open the File menu", kind=kind, version=version)
    space = text.split("## Action Space")[1].split("## Note")[0]
    names = re.findall(r"^(\w+)\(", space, re.MULTILINE)
    assert len(names) >= 9
    assert all(isinstance(ACTIONS[n][0], ActionType) for n in names)


def test_each_version_answers_in_a_known_space():
    assert VERSION_SPACE == {"1.0": CoordinateSpace.REL1000, "1.5": CoordinateSpace.SMART_RESIZED_ABS}


@pytest.mark.parametrize("kwargs, match", [
    (dict(version="2.0"), "unknown UI-TARS version '2.0'; expected one of 1.0, 1.5"),
    (dict(kind="watch"), "unknown prompt kind 'watch'"),
])
def test_bad_prompt_options_say_what_is_known(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_prompt("x", **kwargs)
