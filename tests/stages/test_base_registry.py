"""The stage registry: built-ins by name, stage families of other distributions through the
``sensorium.stages`` entry-point group (a real dist-info on sys.path, read by importlib.metadata)."""

from __future__ import annotations

import sys

import pytest

from sensorium.stages.base import BUILTIN_STAGES, ENTRY_POINT_GROUP, get_stage_class, stage_names

PLUGIN = '''
from dataclasses import dataclass
from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig


@dataclass(frozen=True)
class BrightnessConfig(StageConfig):
    scale: float = 1.0


class BrightnessStage(Stage):
    name = "{name}"
    Config = BrightnessConfig

    def process(self, frames):
        return [float(f.image.mean()) * self.config.scale for f in frames]
'''


def _install(tmp_path, monkeypatch, entry_name: str, class_name: str = "brightness_probe") -> None:
    site = tmp_path / "site"
    (site / "sensorium_probe_plugin").mkdir(parents=True)
    (site / "sensorium_probe_plugin" / "__init__.py").write_text(PLUGIN.format(name=class_name))
    dist = site / "sensorium_probe_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sensorium-probe-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_name} = sensorium_probe_plugin:BrightnessStage\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "sensorium_probe_plugin", raising=False)


def test_an_installed_distribution_adds_a_stage_by_entry_point(tmp_path, monkeypatch):
    _install(tmp_path, monkeypatch, "brightness_probe")
    assert "brightness_probe" in stage_names()
    assert stage_names()[:len(BUILTIN_STAGES)] == list(BUILTIN_STAGES)  # built-ins first, in pipeline order
    assert stage_names()[:3] == ["depth", "detect", "face"]
    cls = get_stage_class("brightness_probe")
    assert cls.__module__ == "sensorium_probe_plugin"
    assert cls({"scale": "2"}).config.scale == 2.0


def test_an_entry_point_whose_class_has_another_name_is_refused(tmp_path, monkeypatch):
    _install(tmp_path, monkeypatch, "brightness_other", class_name="something_else")
    with pytest.raises(ValueError, match="registered as stage 'brightness_other' but its name is 'something_else'"):
        get_stage_class("brightness_other")


def test_an_unknown_stage_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown stage 'nope'; known: depth, detect, face, (\w+, )*embed"):
        get_stage_class("nope")
