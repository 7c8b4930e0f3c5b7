"""ResNeXt: torchvision ResNet(Bottleneck, layers, groups, width_per_group) loads strict and agrees; seed exact."""

from __future__ import annotations

import pytest
import torchvision
from equivalence import assert_equivalent, on_meta, seed_params
from pytorchcv.model_provider import get_model
from torch import nn
from torchvision.models.resnet import Bottleneck as TvBottleneck
from torchvision.models.resnet import ResNet as TvResNet

from zoobench.complexity import count_macs, count_params
from zoobench.models.resnet import ResNet
from zoobench.registry import get_spec, list_models

LAYERS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}
ROWS = [(d, c, w) for d in (50, 101) for c, w in ((2, 40), (4, 24), (8, 14), (32, 4))]
IDS = [f"resnext{d}_{c}x{w}d" for d, c, w in ROWS]
SMALLEST = 32


def _tv_reference(depth: int, cardinality: int, width: int) -> nn.Module:
    return TvResNet(TvBottleneck, LAYERS[depth], groups=cardinality, width_per_group=width)


def test_family_registered_and_reuses_resnet() -> None:
    assert set(list_models(family="resnext")) == set(IDS)
    for name in IDS:
        assert isinstance(on_meta(get_spec(name).build), ResNet)
    assert get_spec("resnext50_32x4d").torchvision == "resnext50_32x4d"
    assert all(get_spec(name).resolution == 224 for name in IDS)


@pytest.mark.parametrize(("depth", "cardinality", "width"), ROWS, ids=IDS)
def test_equals_torchvision_generic_resnet_and_seed(depth: int, cardinality: int, width: int) -> None:
    spec = get_spec(f"resnext{depth}_{cardinality}x{width}d")
    ours = on_meta(spec.build)
    ref = on_meta(lambda: _tv_reference(depth, cardinality, width))
    assert count_params(ours) == count_params(ref) == seed_params(spec.seed)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)


def test_resnext50_32x4d_loads_torchvision_model() -> None:
    ours = on_meta(get_spec("resnext50_32x4d").build)
    ours.load_state_dict(on_meta(lambda: torchvision.models.resnext50_32x4d()).state_dict(), strict=True)


@pytest.mark.parametrize(("depth", "cardinality", "width"), [(50, 32, 4), (50, 2, 40)], ids=["32x4d", "2x40d"])
def test_outputs_equal_torchvision(depth: int, cardinality: int, width: int) -> None:
    if (cardinality, width) == (32, 4):
        ref = torchvision.models.resnext50_32x4d()
    else:
        ref = _tv_reference(depth, cardinality, width)
    ours = get_spec(f"resnext{depth}_{cardinality}x{width}d").build
    assert_equivalent(ref, ours, SMALLEST, by_key=True, calibrate=False)


def test_resnext101_32x4d_equals_pytorchcv() -> None:
    ours = on_meta(get_spec("resnext101_32x4d").build)
    ref = on_meta(lambda: get_model("resnext101_32x4d", pretrained=False))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)
