"""VGG: torchvision's state_dicts load strict and outputs agree; the seed's BN + GAP variant reproduces its counts."""

from __future__ import annotations

import pytest
import torchvision
from equivalence import assert_equivalent, on_meta, seed_params
from torch import nn

from zoobench.complexity import count_macs, count_params
from zoobench.registry import get_spec, list_models

TORCHVISION = ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
GAP = ["vgg11_bn_gap", "vgg13_bn_gap", "vgg16_bn_gap", "vgg19_bn_gap"]
SMALLEST = 32  # five 2x2 max-pools


def _gap_reference(name: str) -> nn.Module:
    """The seed's variant built from torchvision's parts: vgg*_bn trunk, global pool, one 512x1000 linear."""
    ref = torchvision.models.get_model(name.removesuffix("_gap"))
    ref.avgpool = nn.AdaptiveAvgPool2d(1)
    ref.classifier = nn.Linear(512, 1000)
    return ref


def test_family_registered() -> None:
    assert set(list_models(family="vgg")) == set(TORCHVISION + GAP)
    for name in TORCHVISION:
        assert get_spec(name).torchvision == name
    assert all(get_spec(name).resolution == 224 for name in TORCHVISION + GAP)


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_params_macs_and_strict_load(name: str) -> None:
    ours = on_meta(get_spec(name).build)
    ref = on_meta(lambda: torchvision.models.get_model(name))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)  # key names and shapes, without allocating weights


@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn"])  # one per block type: conv-ReLU, conv-BN-ReLU
def test_torchvision_outputs_equal(name: str) -> None:
    assert_equivalent(torchvision.models.get_model(name), get_spec(name).build, SMALLEST, by_key=True, calibrate=False)


@pytest.mark.parametrize("name", GAP)
def test_gap_variant_equals_seed_count(name: str) -> None:
    spec = get_spec(name)
    seed = get_spec(name.removesuffix("_bn_gap")).seed  # Vgg11..Vgg19 rows, aliased to the canonical models
    assert spec.seed is None
    ours = on_meta(spec.build)
    assert count_params(ours) == seed_params(seed)
    ref = on_meta(lambda: _gap_reference(name))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)


def test_gap_variant_outputs_equal() -> None:
    ref = _gap_reference("vgg11_bn_gap")
    assert_equivalent(ref, get_spec("vgg11_bn_gap").build, SMALLEST, by_key=True, calibrate=False)


@pytest.mark.parametrize(
    ("name", "seed_count"),
    [("vgg11", 9_738_984), ("vgg13", 9_923_880), ("vgg16", 15_236_136), ("vgg19", 20_548_392)],
)
def test_seed_arithmetic(name: str, seed_count: int) -> None:
    """Seed = canonical - the three FC layers + BN after every conv + one 512x1000 linear."""
    spec = get_spec(name)
    assert seed_params(spec.seed) == seed_count
    canonical = count_params(on_meta(spec.build))
    fc = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    bn = 2 * sum(
        m.num_features for m in on_meta(get_spec(f"{name}_bn").build).modules() if isinstance(m, nn.BatchNorm2d)
    )
    assert canonical - fc + bn + (512 * 1000 + 1000) == seed_count
