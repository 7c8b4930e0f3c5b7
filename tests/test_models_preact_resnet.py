"""Pre-activation ResNet: equal to pytorchcv preresnet18..152 in params, MACs and outputs (weights copied in order)."""

from __future__ import annotations

import pytest
import torch
from pytorchcv.model_provider import get_model
from torch import nn

from zoobench.complexity import count_macs, count_params, measure
from zoobench.registry import get_spec, list_models

DEPTHS = [18, 34, 50, 101, 152]
SMALLEST = 32  # stride 32 overall; our adaptive pool takes the 1x1 map


def _meta(build) -> nn.Module:
    with torch.device("meta"):
        return build().eval()


def _reference(name: str) -> nn.Module:
    ref = get_model(name, pretrained=False)
    # pytorchcv pools with a fixed 7x7 window (224 input only); global pooling is the same thing at 224 and lets the
    # equivalence forward run at 32.
    ref.features.final_pool = nn.AdaptiveAvgPool2d(1)
    return ref.eval()


def _copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """Load src's tensors into dst pairing state_dict entries by position; every pair must agree in kind and shape."""
    src_items, dst_keys = list(src.state_dict().items()), list(dst.state_dict())
    dst_shapes = {k: v.shape for k, v in dst.state_dict().items()}
    assert len(src_items) == len(dst_keys)
    for (src_key, value), dst_key in zip(src_items, dst_keys, strict=True):
        assert src_key.rsplit(".", 1)[-1] == dst_key.rsplit(".", 1)[-1], (src_key, dst_key)
        assert value.shape == dst_shapes[dst_key], (src_key, dst_key)
    dst.load_state_dict({k: v for k, (_, v) in zip(dst_keys, src_items, strict=True)}, strict=True, assign=True)


def _randomise_bn(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def test_family_registered() -> None:
    assert list_models(family="preact_resnet") == [f"preact_resnet{d}" for d in DEPTHS]
    for d in DEPTHS:
        assert get_spec(f"PreActResNet{d}").name == f"preact_resnet{d}"


@pytest.mark.parametrize("depth", DEPTHS)
def test_params_macs_and_layout_equal_pytorchcv(depth: int) -> None:
    ours = _meta(get_spec(f"preact_resnet{depth}").build)
    ref = _meta(lambda: get_model(f"preresnet{depth}", pretrained=False))  # unmodified reference, at 224
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    _copy_in_order(ref, ours)  # on meta: proves the one-to-one layout without allocating weights


@pytest.mark.parametrize("depth", [18, 50])  # one per unit type: basic, bottleneck
def test_outputs_equal_pytorchcv(depth: int) -> None:
    ref = _reference(f"preresnet{depth}")
    _randomise_bn(ref)
    ours = _meta(get_spec(f"preact_resnet{depth}").build)
    _copy_in_order(ref, ours)
    x = torch.randn(2, 3, SMALLEST, SMALLEST)
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 1e-3
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_stride_in_3x3_option_equals_pytorchcv_b_variant() -> None:
    ours = _meta(lambda: get_spec("preact_resnet50").build(stride_in_1x1=False))
    ref = _meta(lambda: get_model("preresnet50b", pretrained=False))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    assert count_macs(ours, 224) != count_macs(_meta(get_spec("preact_resnet50").build), 224)


@pytest.mark.parametrize("depth", DEPTHS)
def test_seed_arithmetic(depth: int) -> None:
    """Seed = canonical - stem BN(64) - final BN(C) [+ a 64->64 1x1 projection in layer1's first basic unit]."""
    spec = get_spec(f"preact_resnet{depth}")
    model = _meta(spec.build)
    final_ch = model.final_bn.num_features
    extra_projection = 64 * 64 if depth in (18, 34) else 0
    explained = count_params(model) - 2 * 64 - 2 * final_ch + extra_projection
    assert explained == round(spec.seed_figures.params_m * 1e6)


@pytest.mark.parametrize("depth", DEPTHS)
def test_runs_on_meta_at_224_and_native(depth: int) -> None:
    spec = get_spec(f"preact_resnet{depth}")
    at_224, native = measure(spec, 224), measure(spec, None)
    assert native.resolution == 224
    assert at_224.params == native.params > 0
    assert at_224.macs == native.macs > 0
