"""VGG: torchvision's state_dicts load strict and outputs agree; the seed's BN + GAP variant reproduces its counts."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from zoobench.complexity import count_macs, count_params, measure
from zoobench.registry import get_spec, list_models

TORCHVISION = ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
GAP = ["vgg11_bn_gap", "vgg13_bn_gap", "vgg16_bn_gap", "vgg19_bn_gap"]
SMALLEST = 32  # five 2x2 max-pools


def _meta(build) -> nn.Module:
    with torch.device("meta"):
        return build().eval()


def _randomise_bn(model: nn.Module) -> None:
    """Random BN affine parameters and running statistics, so eval-mode BN is not the identity."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


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


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_params_macs_and_strict_load(name: str) -> None:
    ours = _meta(get_spec(name).build)
    ref = _meta(lambda: torchvision.models.get_model(name))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)  # key names and shapes, without allocating weights


@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn"])  # one per block type: conv-ReLU, conv-BN-ReLU
def test_torchvision_outputs_equal(name: str) -> None:
    ref = torchvision.models.get_model(name).eval()
    _randomise_bn(ref)
    ours = _meta(get_spec(name).build)  # built on meta, then given the reference's tensors: no second random init
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, SMALLEST, SMALLEST)
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 1e-3  # the comparison means something
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", GAP)
def test_gap_variant_equals_seed_count(name: str) -> None:
    spec = get_spec(name)
    seed = get_spec(name.removesuffix("_bn_gap")).seed_figures  # Vgg11..Vgg19 rows, aliased to the canonical models
    assert spec.seed is None
    ours = _meta(spec.build)
    assert count_params(ours) == round(seed.params_m * 1e6)
    ref = _meta(lambda: _gap_reference(name))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)


def test_gap_variant_outputs_equal() -> None:
    ref = _gap_reference("vgg11_bn_gap").eval()
    _randomise_bn(ref)
    ours = _meta(get_spec("vgg11_bn_gap").build)
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, SMALLEST, SMALLEST)
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 1e-3
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("name", "seed_params"),
    [("vgg11", 9_738_984), ("vgg13", 9_923_880), ("vgg16", 15_236_136), ("vgg19", 20_548_392)],
)
def test_seed_arithmetic(name: str, seed_params: int) -> None:
    """Seed = canonical - the three FC layers + BN after every conv + one 512x1000 linear."""
    spec = get_spec(name)
    assert round(spec.seed_figures.params_m * 1e6) == seed_params
    canonical = count_params(_meta(spec.build))
    fc = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    bn = 2 * sum(m.num_features for m in _meta(get_spec(f"{name}_bn").build).modules() if isinstance(m, nn.BatchNorm2d))
    assert canonical - fc + bn + (512 * 1000 + 1000) == seed_params


@pytest.mark.parametrize("name", TORCHVISION + GAP)
def test_runs_on_meta_at_224_and_native(name: str) -> None:
    spec = get_spec(name)
    at_224 = measure(spec, 224)
    native = measure(spec, None)
    assert native.resolution == spec.resolution == 224
    assert at_224.params == native.params > 0
    assert at_224.macs == native.macs > 0
