"""Pre-activation ResNet: equal to pytorchcv preresnet18..152 in params, MACs and outputs (weights copied in order)."""

from __future__ import annotations

import pytest
from equivalence import assert_equivalent, copy_in_order, global_pool, on_meta, seed_params
from pytorchcv.model_provider import get_model

from zoobench.complexity import count_macs, count_params
from zoobench.registry import get_spec, list_models

DEPTHS = [18, 34, 50, 101, 152]
SMALLEST = 32  # stride 32 overall; our adaptive pool takes the 1x1 map


def test_family_registered() -> None:
    assert list_models(family="preact_resnet") == [f"preact_resnet{d}" for d in DEPTHS]
    for d in DEPTHS:
        assert get_spec(f"PreActResNet{d}").name == f"preact_resnet{d}"
        assert get_spec(f"preact_resnet{d}").resolution == 224


@pytest.mark.parametrize("depth", DEPTHS)
def test_params_macs_and_layout_equal_pytorchcv(depth: int) -> None:
    ours = on_meta(get_spec(f"preact_resnet{depth}").build)
    ref = on_meta(lambda: get_model(f"preresnet{depth}", pretrained=False))  # unmodified reference, at 224
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    copy_in_order(ref, ours)  # on meta: proves the one-to-one layout without allocating weights


@pytest.mark.parametrize("depth", [18, 50])  # one per unit type: basic, bottleneck
def test_outputs_equal_pytorchcv(depth: int) -> None:
    ref = global_pool(get_model(f"preresnet{depth}", pretrained=False))
    assert_equivalent(ref, get_spec(f"preact_resnet{depth}").build, SMALLEST, by_key=False, calibrate=False)


def test_stride_in_3x3_option_equals_pytorchcv_b_variant() -> None:
    ours = on_meta(lambda: get_spec("preact_resnet50").build(stride_in_1x1=False))
    ref = on_meta(lambda: get_model("preresnet50b", pretrained=False))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    assert count_macs(ours, 224) != count_macs(on_meta(get_spec("preact_resnet50").build), 224)


@pytest.mark.parametrize("depth", DEPTHS)
def test_seed_arithmetic(depth: int) -> None:
    """Seed = canonical - stem BN(64) - final BN(C) [+ a 64->64 1x1 projection in layer1's first basic unit]."""
    spec = get_spec(f"preact_resnet{depth}")
    model = on_meta(spec.build)
    final_ch = model.final_bn.num_features
    extra_projection = 64 * 64 if depth in (18, 34) else 0
    explained = count_params(model) - 2 * 64 - 2 * final_ch + extra_projection
    assert explained == seed_params(spec.seed)
