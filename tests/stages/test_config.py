"""Stage configuration: values coerced by annotation, errors naming option, value and type."""

from __future__ import annotations

import enum
from contextlib import nullcontext as does_not_raise
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from sensorium.stages.base import build_config, get_stage_class
from sensorium.stages.config import ConfigError, StageConfig, config_from_dict, config_options


def test_comma_strings_become_tuples_in_every_stage_config():
    """One rule in StageConfig for CLI/YAML strings in tuple fields, whichever way the config is built."""
    from sensorium.stages.detect.stage import DetectConfig
    from sensorium.stages.embed.stage import EmbedConfig
    from sensorium.stages.face.stage import FaceConfig
    from sensorium.stages.gui.icons import IconConfig

    assert DetectConfig(providers="cuda, cpu").providers == ("cuda", "cpu")
    assert FaceConfig(providers="cpu").providers == ("cpu",)
    assert EmbedConfig(weights="clip.pt", labels="cat,dog,").labels == ("cat", "dog")
    assert IconConfig(vocabulary="gear,heart").vocabulary == ("gear", "heart")
    assert get_stage_class("detect")({"providers": "tensorrt,cuda,cpu"}).config.providers == ("tensorrt", "cuda", "cpu")


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass(frozen=True)
class Inner:
    size: float = 1.0


@dataclass(frozen=True)
class KindsConfig(StageConfig):
    """One field per kind the coercion knows."""

    flag: bool = False
    count: int = 1
    ratio: float = 0.5
    name: str = "a"
    limit: float | None = None
    precision: Literal["fp32", "fp16", "int8"] = "fp32"
    side: Literal["left", "right"] = "left"
    colour: Colour = Colour.RED
    names: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    size: tuple[int, int] = (1, 1)
    extra: dict[str, Any] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None


def _raises(message: str) -> Any:
    return pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("?", r"\?") + "$")


@pytest.mark.parametrize("options, expected, expectation", [
    # bool: the words either way, any case; nothing else
    ({"flag": "true"}, {"flag": True}, does_not_raise()),
    ({"flag": "OFF"}, {"flag": False}, does_not_raise()),
    ({"flag": "Yes"}, {"flag": True}, does_not_raise()),
    ({"flag": "0"}, {"flag": False}, does_not_raise()),
    ({"flag": 1}, {"flag": True}, does_not_raise()),
    ({"flag": "ture"}, None, _raises("kinds.flag: expected true or false, got 'ture'")),
    ({"flag": 2}, None, _raises("kinds.flag: expected true or false, got 2")),
    # int: an integral number; not a fraction, not a bool
    ({"count": "500"}, {"count": 500}, does_not_raise()),
    ({"count": " 7 "}, {"count": 7}, does_not_raise()),
    ({"count": 12.0}, {"count": 12}, does_not_raise()),
    ({"count": "2.5"}, None, _raises("kinds.count: expected an integer, got '2.5'")),
    ({"count": 12.5}, None, _raises("kinds.count: expected an integer, got 12.5")),
    ({"count": True}, None, _raises("kinds.count: expected an integer, got True")),
    # float: any number, text included
    ({"ratio": "500"}, {"ratio": 500.0}, does_not_raise()),
    ({"ratio": 3}, {"ratio": 3.0}, does_not_raise()),
    ({"ratio": "1e-3"}, {"ratio": 0.001}, does_not_raise()),
    ({"ratio": "0.4x"}, None, _raises("kinds.ratio: expected a number, got '0.4x'")),
    ({"ratio": [1]}, None, _raises("kinds.ratio: expected a number, got [1]")),
    # str: text; a YAML number is its text
    ({"name": 1.5}, {"name": "1.5"}, does_not_raise()),
    ({"name": ["a"]}, None, _raises("kinds.name: expected a string, got ['a']")),
    # Optional: none/null (any case) or the inner kind
    ({"limit": "none"}, {"limit": None}, does_not_raise()),
    ({"limit": "NULL"}, {"limit": None}, does_not_raise()),
    ({"limit": None}, {"limit": None}, does_not_raise()),
    ({"limit": "2"}, {"limit": 2.0}, does_not_raise()),
    ({"limit": "big"}, None, _raises("kinds.limit: expected a number or none, got 'big'")),
    # Literal and Enum: by value, case-insensitive for text
    ({"precision": "FP16"}, {"precision": "fp16"}, does_not_raise()),
    ({"precision": "int4"}, None, _raises("kinds.precision: expected one of fp32, fp16, int8, got 'int4'")),
    ({"side": "up"}, None, _raises("kinds.side: expected left or right, got 'up'")),
    ({"colour": "Green"}, {"colour": Colour.GREEN}, does_not_raise()),
    ({"colour": Colour.GREEN}, {"colour": Colour.GREEN}, does_not_raise()),
    ({"colour": "blue"}, None, _raises("kinds.colour: expected red or green, got 'blue'")),
    # tuples: comma text or a list, each element coerced; fixed lengths counted
    ({"names": "cuda, cpu,"}, {"names": ("cuda", "cpu")}, does_not_raise()),
    ({"names": ["x"]}, {"names": ("x",)}, does_not_raise()),
    ({"weights": "0.5,2"}, {"weights": (0.5, 2.0)}, does_not_raise()),
    ({"weights": [1, "2"]}, {"weights": (1.0, 2.0)}, does_not_raise()),
    ({"weights": "1,x"}, None, _raises("kinds.weights: expected a comma-separated list of numbers, got '1,x'")),
    ({"size": "640,480"}, {"size": (640, 480)}, does_not_raise()),
    ({"size": "640"}, None, _raises("kinds.size: expected 2 comma-separated integers, got '640'")),
    ({"size": [1.5, 2]}, None, _raises("kinds.size: expected 2 comma-separated integers, got [1.5, 2]")),
    ({"names": 3}, None, _raises("kinds.names: expected a comma-separated list of strings, got 3")),
    # mappings and nested configs
    ({"extra": {"a": 1}}, {"extra": {"a": 1}}, does_not_raise()),
    ({"extra": "a=1"}, None, pytest.raises(ConfigError, match="^kinds.extra: expected a mapping .*, got 'a=1'$")),
    ({"inner": {"size": "3"}}, {"inner": Inner(3.0)}, does_not_raise()),
    ({"inner": {"size": "huge"}}, None, _raises("kinds.inner.size: expected a number, got 'huge'")),
    ({"inner": {"colour": 1}}, None, _raises("kinds.inner: unknown option(s) colour; known: size")),
    ({"maybe": {"size": 2}}, {"maybe": Inner(2.0)}, does_not_raise()),
    ({"maybe": {"size": "x"}}, None, _raises("kinds.maybe.size: expected a number, got 'x'")),
    ({"maybe": "none"}, {"maybe": None}, does_not_raise()),
    # unknown keys
    ({"bogus": 1, "flag": True}, None, pytest.raises(ConfigError, match="^kinds: unknown option\\(s\\) bogus; known: colour, count, extra, ")),
])
def test_config_values_are_coerced_by_annotation(options, expected, expectation):
    with expectation:
        cfg = config_from_dict(KindsConfig, options, where="kinds")
    if expected is not None:
        for key, value in expected.items():
            got = getattr(cfg, key)
            assert got == value and type(got) is type(value), (key, got)


def test_values_of_the_right_type_pass_through_unchanged():
    inner, names = Inner(2.0), ("a", "b")
    cfg = KindsConfig(flag=True, count=3, inner=inner, names=names, colour=Colour.GREEN)
    assert cfg.inner is inner and cfg.names is names and cfg.colour is Colour.GREEN
    with pytest.raises(ConfigError, match="^count: expected an integer, got 'three'$"):  # built in Python: the field's own name
        KindsConfig(count="three")


def test_the_config_s_own_validation_names_the_stage():
    with pytest.raises(ConfigError, match="^depth: downscale: expected 1, 2 or 4, got 3$"):
        build_config("depth", {"downscale": "3"})
    with pytest.raises(ConfigError, match="^depth: expected a DepthConfig or a mapping of its options, got DetectConfig$"):
        build_config("depth", get_stage_class("detect").Config())


def test_config_options_rebuild_an_equal_config():
    cfg = config_from_dict(KindsConfig, {"flag": "on", "names": "a,b", "colour": "green", "inner": {"size": 4}, "maybe": {}})
    opts = config_options(cfg)
    assert opts == {"flag": True, "names": ["a", "b"], "colour": "green", "inner": {"size": 4.0}, "maybe": {}}
    assert config_from_dict(KindsConfig, opts) == cfg
    assert config_options(KindsConfig()) == {}


def test_stage_configs_use_closed_choices():
    with pytest.raises(ConfigError, match="^detect.precision: expected fp32 or int8, got 'fp16'$"):
        build_config("detect", {"precision": "fp16"})
    with pytest.raises(ConfigError, match="^face.recognizer: expected one of dlib, onnx, none, got 'arcface'$"):
        build_config("face", {"recognizer": "arcface"})
    assert build_config("face", {"recognizer": "NONE", "threshold": "0.4"}).threshold == 0.4
    with pytest.raises(ConfigError, match="^embed.family: expected clip or siglip, got 'dino'$"):
        build_config("embed", {"family": "dino", "weights": "x.pt"})
