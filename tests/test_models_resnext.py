"""ResNeXt: torchvision ResNet(Bottleneck, layers, groups, width_per_group) loads strict and agrees; seed exact."""

from __future__ import annotations

import pytest
import torch
import torchvision
from pytorchcv.model_provider import get_model
from torch import nn
from torchvision.models.resnet import Bottleneck as TvBottleneck
from torchvision.models.resnet import ResNet as TvResNet

from zoobench.complexity import count_macs, count_params, measure
from zoobench.models.resnet import ResNet
from zoobench.registry import get_spec, list_models

LAYERS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}
ROWS = [(d, c, w) for d in (50, 101) for c, w in ((2, 40), (4, 24), (8, 14), (32, 4))]
IDS = [f"resnext{d}_{c}x{w}d" for d, c, w in ROWS]
SMALLEST = 32


def _meta(build) -> nn.Module:
    with torch.device("meta"):
        return build().eval()


def _tv_reference(depth: int, cardinality: int, width: int) -> nn.Module:
    return TvResNet(TvBottleneck, LAYERS[depth], groups=cardinality, width_per_group=width)


def _randomise_bn(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def test_family_registered_and_reuses_resnet() -> None:
    assert set(list_models(family="resnext")) == set(IDS)
    for name in IDS:
        assert isinstance(_meta(get_spec(name).build), ResNet)
    assert get_spec("resnext50_32x4d").torchvision == "resnext50_32x4d"


@pytest.mark.parametrize(("depth", "cardinality", "width"), ROWS, ids=IDS)
def test_equals_torchvision_generic_resnet_and_seed(depth: int, cardinality: int, width: int) -> None:
    spec = get_spec(f"resnext{depth}_{cardinality}x{width}d")
    ours = _meta(spec.build)
    ref = _meta(lambda: _tv_reference(depth, cardinality, width))
    assert count_params(ours) == count_params(ref) == round(spec.seed_figures.params_m * 1e6)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)


def test_resnext50_32x4d_loads_torchvision_model() -> None:
    ours = _meta(get_spec("resnext50_32x4d").build)
    ours.load_state_dict(_meta(lambda: torchvision.models.resnext50_32x4d()).state_dict(), strict=True)


@pytest.mark.parametrize(("depth", "cardinality", "width"), [(50, 32, 4), (50, 2, 40)], ids=["32x4d", "2x40d"])
def test_outputs_equal_torchvision(depth: int, cardinality: int, width: int) -> None:
    if (cardinality, width) == (32, 4):
        ref = torchvision.models.resnext50_32x4d()
    else:
        ref = _tv_reference(depth, cardinality, width)
    ref.eval()
    _randomise_bn(ref)
    ours = _meta(get_spec(f"resnext{depth}_{cardinality}x{width}d").build)
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, SMALLEST, SMALLEST)
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 1e-3
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_resnext101_32x4d_equals_pytorchcv() -> None:
    ours = _meta(get_spec("resnext101_32x4d").build)
    ref = _meta(lambda: get_model("resnext101_32x4d", pretrained=False))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)


@pytest.mark.parametrize("name", IDS)
def test_runs_on_meta_at_224_and_native(name: str) -> None:
    spec = get_spec(name)
    at_224, native = measure(spec, 224), measure(spec, None)
    assert native.resolution == 224
    assert at_224.params == native.params > 0
    assert at_224.macs == native.macs > 0
