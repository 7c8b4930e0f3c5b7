"""MobileNet V1/V2: equal to timm, pytorchcv and torchvision; seed figures reconciled."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from equivalence import assert_equivalent, global_pool, on_meta, params_macs, seed_params
from pytorchcv.model_provider import get_model as pytorchcv_model
from torch import nn

from zoobench.complexity import count_params
from zoobench.registry import get_spec, list_models

V1_REFERENCES = {
    # reference -> (builder, kwargs for ours): timm ports TensorFlow's ReLU6, pytorchcv keeps the paper's ReLU.
    "timm:mobilenetv1_100": (lambda: timm.create_model("mobilenetv1_100", pretrained=False), {"activation": nn.ReLU6}),
    "pytorchcv:mobilenet_w1": (lambda: global_pool(pytorchcv_model("mobilenet_w1", pretrained=False)), {}),
}


@pytest.mark.parametrize("ref_name", list(V1_REFERENCES))
def test_mobilenet_v1_params_and_macs_equal_reference(ref_name: str) -> None:
    build_ref, kwargs = V1_REFERENCES[ref_name]
    assert params_macs(lambda: get_spec("mobilenet_v1").build(**kwargs)) == params_macs(build_ref)


@pytest.mark.parametrize("ref_name", list(V1_REFERENCES))
def test_mobilenet_v1_outputs_equal_reference(ref_name: str) -> None:
    build_ref, kwargs = V1_REFERENCES[ref_name]
    assert_equivalent(build_ref(), lambda: get_spec("mobilenet_v1").build(**kwargs), 32, by_key=False)


def test_mobilenet_v2_loads_torchvision_strict_and_outputs_equal() -> None:
    assert_equivalent(torchvision.models.mobilenet_v2(), get_spec("mobilenet_v2").build, 32, by_key=True)
    assert get_spec("mobilenet_v2").torchvision == "mobilenet_v2"


def test_mobilenet_v2_params_and_macs_equal_torchvision() -> None:
    assert params_macs(get_spec("mobilenet_v2").build) == params_macs(torchvision.models.mobilenet_v2)


@pytest.mark.parametrize("width_mult", [0.5, 1.4])
def test_mobilenet_v2_width_mult_state_dict_matches_torchvision(width_mult: float) -> None:
    ours = on_meta(lambda: get_spec("mobilenet_v2").build(width_mult=width_mult)).state_dict()
    ref = on_meta(lambda: torchvision.models.mobilenet_v2(width_mult=width_mult)).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in ref.items()}


def test_mobilenet_v1_equals_seed() -> None:
    assert count_params(on_meta(get_spec("mobilenet_v1").build)) == seed_params("MobileNet") == 4_231_976


def test_mobilenet_v2_seed_variant_equals_seed_and_arithmetic() -> None:
    canonical = count_params(on_meta(get_spec("mobilenet_v2").build))
    variant = count_params(on_meta(get_spec("mobilenet_v2_proj_shortcut").build))
    assert canonical == 3_504_872
    assert variant == seed_params("MobileNetV2") == 3_564_680
    # From paper Table 2: stride-1 blocks that change width are 32->16, 64->96 and 160->320; each gains a 1x1
    # conv (in*out) + BN (2*out). The t=1 block gains a 32->32 expand conv + BN.
    shortcuts = sum(i * o + 2 * o for i, o in [(32, 16), (64, 96), (160, 320)])
    assert shortcuts == 58_720
    assert variant - canonical == shortcuts + 32 * 32 + 2 * 32


def test_mobilenet_v2_seed_variant_runs() -> None:
    model = get_spec("mobilenet_v2_proj_shortcut").build().eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 1000)


def test_family_lists_every_model() -> None:
    assert list_models(family="mobilenet") == ["mobilenet_v1", "mobilenet_v2", "mobilenet_v2_proj_shortcut"]
