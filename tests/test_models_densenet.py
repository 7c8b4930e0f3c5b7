"""DenseNet: torchvision's state_dicts (current and legacy keys) load strict and outputs agree."""

from __future__ import annotations

import re

import pytest
import torchvision
from equivalence import assert_equivalent, on_meta, seed_params
from torch import nn

from zoobench.complexity import count_macs, count_params
from zoobench.models.densenet import convert_legacy_state_dict
from zoobench.registry import get_spec, list_models

CONFIGS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32), 264: (6, 12, 64, 48)}
SMALLEST = 32  # stem /4 and three 2x2 transitions


def _reference(depth: int) -> nn.Module:
    if depth == 264:  # torchvision has no densenet264; its generic class builds the paper's configuration
        return torchvision.models.DenseNet(32, CONFIGS[264], 64)
    return torchvision.models.get_model(f"densenet{depth}")


def test_family_registered() -> None:
    assert list_models(family="densenet") == [f"densenet{d}" for d in CONFIGS]
    for d in (121, 169, 201):
        assert get_spec(f"densenet{d}").torchvision == f"densenet{d}"
    assert get_spec("densenet264").torchvision is None
    assert all(get_spec(f"densenet{d}").resolution == 224 for d in CONFIGS)


@pytest.mark.parametrize("depth", list(CONFIGS))
def test_params_macs_and_strict_load(depth: int) -> None:
    ours = on_meta(get_spec(f"densenet{depth}").build)
    ref = on_meta(lambda: _reference(depth))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)


def test_outputs_equal_torchvision() -> None:
    assert_equivalent(_reference(121), get_spec("densenet121").build, SMALLEST, by_key=True, calibrate=False)


def test_legacy_keys_convert() -> None:
    current = on_meta(lambda: _reference(121)).state_dict()
    # The layout of torchvision's downloadable checkpoints: "denselayer1.norm1.weight" was "denselayer1.norm.1.weight".
    legacy = {re.sub(r"(denselayer\d+\.)(norm|conv)([12])\.", r"\1\2.\3.", k): v for k, v in current.items()}
    renamed = sum(k != j for k, j in zip(legacy, current, strict=True))
    assert renamed == sum(CONFIGS[121]) * (2 * 5 + 2)  # per layer: two BNs (5 entries each) and two convs
    assert convert_legacy_state_dict(legacy).keys() == current.keys()
    ours = on_meta(get_spec("densenet121").build)
    ours.load_state_dict(convert_legacy_state_dict(legacy), strict=True)


@pytest.mark.parametrize("depth", list(CONFIGS))
def test_seed_arithmetic(depth: int) -> None:
    """Seed = canonical - BN(64) after the stem conv + BN(3) on the input: 122 fewer, at every depth."""
    spec = get_spec(f"densenet{depth}")
    assert count_params(on_meta(spec.build)) - 2 * 64 + 2 * 3 == seed_params(spec.seed)
