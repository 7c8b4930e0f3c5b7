"""SqueezeNet 1.0 and its bypass variants: torchvision / pytorchcv equivalence, paper-derived complex bypass."""

from __future__ import annotations

import pytest
import torch
import torchvision
from equivalence import (
    assert_equivalent,
    assert_same_outputs,
    global_pool,
    on_meta,
    params_macs,
    randomize,
    seed_params,
)
from pytorchcv.model_provider import get_model as pytorchcv_model
from torch import nn

from zoobench.complexity import count_macs, count_params
from zoobench.registry import get_spec

RES = 32  # the smallest input is 21 (three ceil-mode max-pools after a stride-2 7x7 conv); 32 costs nothing more

# Paper Table 1, fire2..fire9: (input channels, output channels = expand1x1 + expand3x3, feature map side at 224).
PAPER_FIRES = [
    (96, 128, 54),
    (128, 128, 54),
    (128, 256, 54),
    (256, 256, 27),
    (256, 384, 27),
    (384, 384, 27),
    (384, 512, 27),
    (512, 512, 13),
]


def test_squeezenet1_0_loads_torchvision_strict_and_outputs_equal() -> None:
    assert_equivalent(torchvision.models.squeezenet1_0(), get_spec("squeezenet1_0").build, RES, by_key=True)
    assert get_spec("squeezenet1_0").torchvision == "squeezenet1_0"


def test_squeezenet1_0_params_and_macs_equal_torchvision() -> None:
    assert params_macs(get_spec("squeezenet1_0").build) == params_macs(torchvision.models.squeezenet1_0)


def test_simple_bypass_params_and_macs_equal_pytorchcv() -> None:
    reference = params_macs(lambda: pytorchcv_model("squeezeresnet_v1_0", pretrained=False))
    assert params_macs(get_spec("squeezenet1_0_simple_bypass").build) == reference


def test_simple_bypass_outputs_equal_pytorchcv() -> None:
    ref = global_pool(pytorchcv_model("squeezeresnet_v1_0", pretrained=False))
    ours = assert_equivalent(ref, get_spec("squeezenet1_0_simple_bypass").build, RES, by_key=False)
    # The bypasses matter: the plain model with the same weights gives other outputs.
    plain = get_spec("squeezenet1_0").build()
    plain.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(1, 3, RES, RES)
    with torch.no_grad():
        assert not torch.allclose(plain.eval()(x), ours.eval()(x), atol=1e-3)


def test_complex_bypass_params_derived_from_paper() -> None:
    # Complex bypass: a 1x1 conv (weights in*out + bias out) on each bypass whose channel counts differ.
    extra = sum(i * o + o for i, o, _ in PAPER_FIRES if i != o)
    assert extra == 341_248
    base = count_params(on_meta(torchvision.models.squeezenet1_0))
    assert count_params(on_meta(get_spec("squeezenet1_0_complex_bypass").build)) == base + extra == 1_589_672


def test_complex_bypass_macs_derived_from_paper() -> None:
    extra = sum(i * o * side * side for i, o, side in PAPER_FIRES if i != o)
    base = count_macs(on_meta(torchvision.models.squeezenet1_0), 224)
    assert count_macs(on_meta(get_spec("squeezenet1_0_complex_bypass").build), 224) == base + extra


def test_complex_bypass_with_zero_bypass_convs_is_simple_bypass() -> None:
    simple = randomize(get_spec("squeezenet1_0_simple_bypass").build(), RES)
    complex_ = get_spec("squeezenet1_0_complex_bypass").build()
    missing, unexpected = complex_.load_state_dict(simple.state_dict(), strict=False)
    assert unexpected == []
    assert sorted(missing) == sorted(f"features.{i}.bypass.{p}" for i in (3, 5, 8, 10) for p in ("weight", "bias"))
    with torch.no_grad():
        for i in (3, 5, 8, 10):
            complex_.features[i].bypass.weight.zero_()
            complex_.features[i].bypass.bias.zero_()
    assert_same_outputs(simple, complex_, RES)


@pytest.mark.parametrize(
    ("name", "seed"),
    [
        ("squeezenet1_0_bn", "SqueezeNet"),
        ("squeezenet1_0_simple_bypass_bn", "SqueezeNet + Simple Bypass"),
        ("squeezenet1_0_complex_bypass_bn", "SqueezeNet + Complex Bypass"),
    ],
)
def test_seed_variants_equal_seed(name: str, seed: str) -> None:
    assert count_params(on_meta(get_spec(name).build)) == seed_params(seed)


def test_seed_arithmetic() -> None:
    # Every conv's bias (one per output channel) becomes a BN (two per channel).
    conv_channels = 96 + sum(o + o // 8 for _, o, _ in PAPER_FIRES) + 1000  # conv1, squeeze + expands, conv10
    assert conv_channels == 3_976
    assert seed_params("SqueezeNet") == 1_248_424 - conv_channels + 2 * conv_channels
    bypass_channels = sum(o for i, o, _ in PAPER_FIRES if i != o)
    assert seed_params("SqueezeNet + Complex Bypass") == 1_589_672 + conv_channels + bypass_channels


def test_bn_variant_outputs_follow_the_bias_free_layout() -> None:
    model = get_spec("squeezenet1_0_complex_bypass_bn").build()
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        assert randomize(model, RES)(torch.randn(1, 3, RES, RES)).shape == (1, 1000)
