"""Inception v3 = torchvision's inception_v3 (state_dict strict, outputs equal) and Inception v4 = timm's inception_v4
(state_dict strict by key, outputs equal); both at their smallest input, 75x75 (unpadded stride-2 stems)."""

from __future__ import annotations

from functools import partial

import pytest
import timm
import torch
import torchvision
from equivalence import ATOL, assert_equivalent, on_meta, randomize, seed_params
from torch import nn

from zoobench.complexity import count_macs, count_params
from zoobench.errors import ZooError
from zoobench.registry import get_spec, list_models

MODELS = ["inception_v3", "inception_v4"]
SMALLEST = 75  # unpadded stride-2 stems: 75 -> 37 -> 35 -> 17 -> 15 -> 7, then 3 and 1 after the grid reductions


def _torchvision_v3(aux_logits: bool = False, transform_input: bool = False) -> nn.Module:
    return torchvision.models.inception_v3(
        weights=None, aux_logits=aux_logits, transform_input=transform_input, init_weights=False
    )


def _timm_v4() -> nn.Module:
    return timm.create_model("inception_v4", pretrained=False)


REFERENCES = {"inception_v3": _torchvision_v3, "inception_v4": _timm_v4}


def test_family_registered() -> None:
    assert list_models(family="inception") == MODELS
    assert get_spec("GoogleNet V3").name == "inception_v3"
    assert get_spec("GoogleNet V4").name == "inception_v4"
    assert get_spec("inception_v3").torchvision == "inception_v3"
    assert all(get_spec(name).resolution == 299 for name in MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_params_and_macs_equal_reference(name: str) -> None:
    ours, ref = on_meta(get_spec(name).build), on_meta(REFERENCES[name])
    assert count_params(ours) == count_params(ref)
    at_native, at_224 = count_macs(ours, 299), count_macs(ours, 224)
    assert at_native == count_macs(ref, 299) and at_224 == count_macs(ref, 224)
    assert 0 < at_224 < at_native


@pytest.mark.parametrize("name", MODELS)
def test_seed_params_equal_exactly(name: str) -> None:
    """Seed GoogleNet V3 23,834,568 = Inception v3 without its auxiliary classifier; GoogleNet V4 42,679,816."""
    spec = get_spec(name)
    assert count_params(on_meta(spec.build)) == seed_params(spec.seed)


@pytest.mark.parametrize("name", MODELS)
def test_reference_state_dict_loads_strict_and_outputs_agree(name: str) -> None:
    assert_equivalent(REFERENCES[name](), get_spec(name).build, SMALLEST, by_key=True)


def test_v3_transform_input_matches_torchvision() -> None:
    ours = partial(get_spec("inception_v3").build, transform_input=True)
    assert_equivalent(_torchvision_v3(transform_input=True), ours, SMALLEST, by_key=True)


@torch.no_grad()
def test_v3_aux_classifier_matches_torchvision() -> None:
    """aux_logits=True adds torchvision's AuxLogits (keys and count match: its pretrained checkpoint loads strict).
    The head needs the 17x17 grid of a ~299 input, so it is compared on such a grid directly; the whole model's
    train-mode contract (logits, aux) is checked on the meta device."""
    ref = _torchvision_v3(aux_logits=True)
    randomize(ref.AuxLogits, None)  # non-trivial BN so that a misplaced BN or ReLU shows
    ours = get_spec("inception_v3").build(aux_logits=True)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert count_params(ours) == count_params(ref) == 27_161_264
    grid = torch.randn(2, 768, 17, 17)
    torch.testing.assert_close(ours.AuxLogits.eval()(grid), ref.AuxLogits.eval()(grid), atol=ATOL, rtol=0)
    meta = on_meta(lambda: get_spec("inception_v3").build(aux_logits=True)).train()
    logits, aux = meta(torch.zeros(2, 3, 299, 299, device="meta"))
    assert logits.shape == aux.shape == (2, 1000)
    assert meta.eval()(torch.zeros(1, 3, 299, 299, device="meta")).shape == (1, 1000)


@pytest.mark.parametrize("name", MODELS)
def test_smallest_input_is_75(name: str) -> None:
    model = on_meta(get_spec(name).build)
    assert count_macs(model, SMALLEST) > 0
    with pytest.raises(ZooError):
        count_macs(model, SMALLEST - 1)
