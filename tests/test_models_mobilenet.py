"""MobileNet V1/V2: equal to timm, pytorchcv and torchvision; seed figures reconciled."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from _zoo2_equivalence import (
    assert_same_outputs,
    build_ours,
    copy_in_order,
    on_meta,
    params_and_macs,
    randomize,
    seed_params,
)
from pytorchcv.model_provider import get_model as pytorchcv_model
from torch import nn

from zoobench.complexity import count_params, measure
from zoobench.registry import get_spec, list_models


def _pytorchcv_v1() -> nn.Module:
    model = pytorchcv_model("mobilenet_w1", pretrained=False)
    # Its fixed 7x7 average pool only fits 224 inputs; global pooling is the same operation there.
    model.features.final_pool = nn.AdaptiveAvgPool2d(1)
    return model


V1_REFERENCES = {
    # reference -> (builder, kwargs for ours): timm ports TensorFlow's ReLU6, pytorchcv keeps the paper's ReLU.
    "timm:mobilenetv1_100": (lambda: timm.create_model("mobilenetv1_100", pretrained=False), {"activation": nn.ReLU6}),
    "pytorchcv:mobilenet_w1": (_pytorchcv_v1, {}),
}


@pytest.mark.parametrize("ref_name", list(V1_REFERENCES))
def test_mobilenet_v1_params_and_macs_equal_reference(ref_name: str) -> None:
    build_ref, kwargs = V1_REFERENCES[ref_name]
    assert params_and_macs(lambda: build_ours("mobilenet_v1", **kwargs)) == params_and_macs(build_ref)


@pytest.mark.parametrize("ref_name", list(V1_REFERENCES))
def test_mobilenet_v1_outputs_equal_reference(ref_name: str) -> None:
    build_ref, kwargs = V1_REFERENCES[ref_name]
    ref = randomize(build_ref(), 32)
    ours = build_ours("mobilenet_v1", **kwargs)
    copy_in_order(ref, ours)
    assert_same_outputs(ref, ours, resolution=32)


def test_mobilenet_v2_loads_torchvision_strict_and_outputs_equal() -> None:
    ref = randomize(torchvision.models.mobilenet_v2(), 32)
    ours = build_ours("mobilenet_v2")
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert_same_outputs(ref, ours, resolution=32)
    assert get_spec("mobilenet_v2").torchvision == "mobilenet_v2"


def test_mobilenet_v2_params_and_macs_equal_torchvision() -> None:
    assert params_and_macs(lambda: build_ours("mobilenet_v2")) == params_and_macs(torchvision.models.mobilenet_v2)


@pytest.mark.parametrize("width_mult", [0.5, 1.4])
def test_mobilenet_v2_width_mult_state_dict_matches_torchvision(width_mult: float) -> None:
    ours = on_meta(lambda: build_ours("mobilenet_v2", width_mult=width_mult)).state_dict()
    ref = on_meta(lambda: torchvision.models.mobilenet_v2(width_mult=width_mult)).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in ref.items()}


def test_mobilenet_v1_equals_seed() -> None:
    assert count_params(on_meta(lambda: build_ours("mobilenet_v1"))) == seed_params("MobileNet") == 4_231_976


def test_mobilenet_v2_seed_variant_equals_seed_and_arithmetic() -> None:
    canonical = count_params(on_meta(lambda: build_ours("mobilenet_v2")))
    variant = count_params(on_meta(lambda: build_ours("mobilenet_v2_proj_shortcut")))
    assert canonical == 3_504_872
    assert variant == seed_params("MobileNetV2") == 3_564_680
    # From paper Table 2: stride-1 blocks that change width are 32->16, 64->96 and 160->320; each gains a 1x1
    # conv (in*out) + BN (2*out). The t=1 block gains a 32->32 expand conv + BN.
    shortcuts = sum(i * o + 2 * o for i, o in [(32, 16), (64, 96), (160, 320)])
    assert shortcuts == 58_720
    assert variant - canonical == shortcuts + 32 * 32 + 2 * 32


def test_mobilenet_v2_seed_variant_runs() -> None:
    model = build_ours("mobilenet_v2_proj_shortcut").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 1000)


@pytest.mark.parametrize("name", list_models(family="mobilenet"))
@pytest.mark.parametrize("resolution", [224, None])
def test_measure(name: str, resolution: int | None) -> None:
    c = measure(get_spec(name), resolution)
    assert c.params > 0 and c.macs > 0


def test_family_lists_every_model() -> None:
    assert list_models(family="mobilenet") == ["mobilenet_v1", "mobilenet_v2", "mobilenet_v2_proj_shortcut"]
