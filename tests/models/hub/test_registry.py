"""The model registry: explicit registration, duplicates and unknown names raise, specs validate."""

from __future__ import annotations

import dataclasses
import inspect
from contextlib import nullcontext as does_not_raise

import pytest
import torch
from torch import nn

from sensorium.models.hub.registry import (
    ModelMeta,
    ModelRegistry,
    ModelSpec,
    get_model,
    image_inputs,
    list_models,
    register_model,
)


def make_spec(name: str = "toy", **overrides) -> ModelSpec:
    fields = dict(
        name=name,
        build=lambda: nn.Identity(),
        example_inputs=image_inputs(8, 8),
        input_names=("images",),
        output_names=("logits",),
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        meta=ModelMeta(input_size=(8, 8)),
    )
    return ModelSpec(**{**fields, **overrides})


def test_builtin_models_are_listed():
    assert {"vit-tiny", "cnn-small"} <= set(list_models())
    assert list_models() == sorted(list_models())


def test_duplicate_name_raises_and_keeps_the_first():
    registry = ModelRegistry()
    first = registry.register(make_spec())
    with pytest.raises(ValueError, match="'toy' is already registered"):
        registry.register(make_spec())
    assert registry.get("toy") is first


def test_global_registry_rejects_a_builtin_name():
    original = get_model("vit-tiny")
    with pytest.raises(ValueError, match="already registered"):
        register_model(dataclasses.replace(original))
    assert get_model("vit-tiny") is original


def test_a_near_spelling_is_suggested():
    with pytest.raises(ValueError, match=r"unknown model 'detr-spp-shapes' \(did you mean 'detr_spp_shapes'\?\)"):
        get_model("detr-spp-shapes")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'resnet-9000'; known: .*cnn-small.*vit-tiny"):
        get_model("resnet-9000")


@pytest.mark.parametrize(
    ("overrides", "expectation"),
    [
        ({}, does_not_raise()),
        ({"name": "Toy Model"}, pytest.raises(ValueError, match="model name")),
        ({"name": "toy.v2"}, pytest.raises(ValueError, match="model name")),
        ({"output_names": ("images",)}, pytest.raises(ValueError, match="distinct")),
        ({"name": "toy", "weights": "toy"}, does_not_raise()),
        ({"name": "toy-net", "weights": "toy_net"}, pytest.raises(ValueError, match="model 'toy-net' carries weights 'toy_net'.* one name")),
        ({"dynamic_axes": {"images": {0: "batch"}}}, pytest.raises(ValueError, match="axis 0 .* 'logits' must be dynamic")),
        ({"dynamic_axes": {"images": {2: "h"}, "logits": {0: "batch"}}}, pytest.raises(ValueError, match="'images' must be dynamic")),
        ({"dynamic_axes": {"images": {0: "batch"}, "logits": {0: "batch"}, "boxes": {0: "batch"}}},
         pytest.raises(ValueError, match=r"\['boxes'\] are not inputs or outputs")),
        ({"meta": "224x224"}, pytest.raises(TypeError, match="ModelMeta")),
    ],
)
def test_spec_validation(overrides, expectation):
    with expectation:
        make_spec(**overrides)


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({"input_size": (224, 224)}, does_not_raise()),
        ({"input_size": (224,)}, pytest.raises(ValueError, match="input_size")),
        ({"input_size": (224, 224), "std": (1.0, 0.0, 1.0)}, pytest.raises(ValueError, match="positive std")),
        ({"input_size": (224, 224), "channel_order": "RGBA"}, pytest.raises(ValueError, match="channel_order")),
    ],
)
def test_meta_validation(kwargs, expectation):
    with expectation:
        ModelMeta(**kwargs)


def test_spec_is_immutable():
    spec = make_spec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.dynamic_axes["images"][1] = "channels"  # type: ignore[index]


@pytest.mark.parametrize("name", list_models())
def test_builtin_spec_contract(name):
    spec = get_model(name)
    keyword_only = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD)
    assert all(p.kind in keyword_only for p in inspect.signature(spec.build).parameters.values()), \
        f"{name}: builders take keywords only"
    a, b = spec.example_inputs(2, seed=7), spec.example_inputs(2, seed=7)
    c, d = spec.example_inputs(2), spec.example_inputs(2)
    assert len(a) == len(spec.input_names) and all(x.shape[0] == 2 for x in a), "one tensor per input, batch first"
    assert all(torch.equal(x, y) for x, y in zip(a, b)), "a seed makes inputs reproducible"
    assert not all(torch.equal(x, y) for x, y in zip(c, d)), "without a seed every call is fresh"


@pytest.mark.parametrize("name", ["vit-tiny", "cnn-small"])
def test_image_classifiers_take_normalised_images(name):
    spec = get_model(name)
    (x,) = spec.example_inputs(2, seed=0)
    assert x.shape == (2, 3, *spec.meta.input_size) and x.dtype == torch.float32
    with torch.inference_mode():
        logits = spec.build(num_classes=7).eval()(x)
    assert logits.shape == (2, 7) and logits.dtype == torch.float32
