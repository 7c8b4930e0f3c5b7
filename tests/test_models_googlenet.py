"""GoogLeNet v1 (paper, +LRN, torchvision's BN variant, the seed's BN variant) and v2 (BN-Inception).

- googlenet_v1_bn: torchvision's googlenet state_dict loads with strict=True (with and without aux classifiers) and
  outputs agree (eval; and train mode with the aux heads, dropout seeded alike).
- googlenet_v2: equal to pytorchcv's bninception (params, MACs, outputs after copying weights in order).
- googlenet_v1 / _lrn: no implementation exists; the counts are derived here from the paper's Table 1, independently of
  the model code.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torchvision
from equivalence import ATOL, assert_equivalent, copy_in_order, global_pool, on_meta, randomize, seed_params
from pytorchcv.model_provider import get_model
from torch import nn

from zoobench.complexity import count_macs, count_params
from zoobench.registry import get_spec, list_models

MODELS = ["googlenet_v1", "googlenet_v1_bn", "googlenet_v1_bn_5x5", "googlenet_v1_lrn", "googlenet_v2"]
# Smallest inputs: the 3x3/2 ceil-mode pools of the paper network need 31; torchvision's 2x2 pool4 lets it run at 15.
SMALLEST = {"googlenet_v1": 31, "googlenet_v1_lrn": 31, "googlenet_v1_bn_5x5": 31, "googlenet_v1_bn": 15}
SMALLEST_V2 = 31


def _torchvision(aux_logits: bool = False, transform_input: bool = False) -> nn.Module:
    return torchvision.models.googlenet(
        weights=None, aux_logits=aux_logits, transform_input=transform_input, init_weights=False
    )


def test_family_registered() -> None:
    assert sorted(list_models(family="googlenet")) == MODELS
    assert get_spec("GoogleNet V1").name == "googlenet_v1"
    assert get_spec("GoogleNet V1 (LRN)").name == "googlenet_v1_lrn"
    assert get_spec("GoogleNet V1 (Bn)").name == "googlenet_v1_bn"
    assert get_spec("GoogleNet V2").name == "googlenet_v2"
    assert get_spec("bninception").name == "googlenet_v2"
    assert get_spec("googlenet_v1_bn").torchvision == "googlenet"
    assert get_spec("googlenet_v1_bn_5x5").seed is None
    assert all(get_spec(name).resolution == 224 for name in MODELS)


# ---- googlenet_v1_bn = torchvision's googlenet


def test_v1_bn_params_and_macs_equal_torchvision() -> None:
    ours, ref = on_meta(get_spec("googlenet_v1_bn").build), on_meta(_torchvision)
    assert count_params(ours) == count_params(ref) == 6_624_904
    assert count_macs(ours, 224) == count_macs(ref, 224)


@pytest.mark.parametrize("transform_input", [False, True])
def test_v1_bn_loads_torchvision_strict_and_outputs_agree(transform_input: bool) -> None:
    ref, ours = _torchvision(transform_input=transform_input), get_spec("googlenet_v1_bn").build
    assert_equivalent(ref, partial(ours, transform_input=transform_input), SMALLEST["googlenet_v1_bn"], by_key=True)


@torch.no_grad()
def test_v1_bn_aux_classifiers_match_torchvision() -> None:
    """aux_logits=True: torchvision's full checkpoint layout loads strict; in train mode both return (main, aux2, aux1)
    and agree when dropout draws the same masks; in eval mode only the main logits come back."""
    res = 32
    ref = randomize(_torchvision(aux_logits=True), res)
    ours = get_spec("googlenet_v1_bn").build(aux_logits=True)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert count_params(ours) == count_params(ref) == 13_004_888
    x = torch.randn(4, 3, res, res)
    ref.train()
    ours.train()
    torch.manual_seed(5)
    expected = ref(x)
    torch.manual_seed(5)
    got = ours(x)
    assert len(got) == 3
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=ATOL, rtol=0)
    ours.eval()
    assert isinstance(ours(x), torch.Tensor)


# ---- googlenet_v1 / googlenet_v1_lrn: the paper's Table 1

# Going Deeper, Table 1, written out again here so that the check is independent of the model module:
# (type, patch, output size, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
TABLE1 = [
    ("conv", 7, 112, 64),
    ("conv reduce", 1, 56, 64),
    ("conv", 3, 56, 192),
    ("inception(3a)", None, 28, (64, 96, 128, 16, 32, 32)),
    ("inception(3b)", None, 28, (128, 128, 192, 32, 96, 64)),
    ("inception(4a)", None, 14, (192, 96, 208, 16, 48, 64)),
    ("inception(4b)", None, 14, (160, 112, 224, 24, 64, 64)),
    ("inception(4c)", None, 14, (128, 128, 256, 24, 64, 64)),
    ("inception(4d)", None, 14, (112, 144, 288, 32, 64, 64)),
    ("inception(4e)", None, 14, (256, 160, 320, 32, 128, 128)),
    ("inception(5a)", None, 7, (256, 160, 320, 32, 128, 128)),
    ("inception(5b)", None, 7, (384, 192, 384, 48, 128, 128)),
    ("linear", None, 1, 1000),
]


def _table1_counts(five: int = 5, bn: bool = False, bias: bool = True) -> tuple[int, int]:
    """Parameters and MACs at 224 of the network Table 1 describes: every conv with bias (and optionally BN)."""
    params = macs = 0
    channels = 3

    def conv(cin: int, cout: int, k: int, size: int) -> None:
        nonlocal params, macs
        params += cin * cout * k * k + (cout if bias else 0) + (2 * cout if bn else 0)
        macs += cin * cout * k * k * size * size

    for kind, patch, size, spec in TABLE1:
        if kind.startswith("conv"):
            conv(channels, spec, patch, size)
            channels = spec
        elif kind.startswith("inception"):
            n1, r3, n3, r5, n5, proj = spec
            conv(channels, n1, 1, size)
            conv(channels, r3, 1, size)
            conv(r3, n3, 3, size)
            conv(channels, r5, 1, size)
            conv(r5, n5, five, size)
            conv(channels, proj, 1, size)
            channels = n1 + n3 + n5 + proj
        else:
            params += channels * spec + spec
            macs += channels * spec
    return params, macs


@pytest.mark.parametrize("name", ["googlenet_v1", "googlenet_v1_lrn"])
def test_v1_counts_derived_from_paper_table1_equal_seed(name: str) -> None:
    model = on_meta(get_spec(name).build)
    params, macs = _table1_counts()
    assert count_params(model) == params == seed_params(get_spec(name).seed) == 6_998_552
    assert count_macs(model, 224) == macs  # ~1.58 G: the paper's "1.5 billion multiply-adds"


def test_v1_lrn_places_local_response_norm_as_figure3() -> None:
    """Figure 3: LocalRespNorm after pool1 and after the 3x3 conv2 (before pool2); none in googlenet_v1."""
    lrn = get_spec("googlenet_v1_lrn").build()
    order = [name for name, m in lrn.named_children() if not isinstance(m, nn.Identity)]
    assert order[:7] == ["conv1", "maxpool1", "lrn1", "conv2", "conv3", "lrn2", "maxpool2"]
    assert isinstance(lrn.lrn1, nn.LocalResponseNorm) and lrn.lrn1.size == 5
    plain = get_spec("googlenet_v1").build()
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in plain.modules())
    # Same weights, the LRN changes the function.
    plain.load_state_dict(lrn.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(plain.eval()(x), lrn.eval()(x))


def test_v1_bn_5x5_is_the_seed_bn_variant() -> None:
    """Seed 'GoogleNet V1 (Bn)' 7,013,112 = Table 1 with BN after every conv, conv biases kept
    = torchvision's 6,624,904 + 380,928 (true 5x5 instead of 3x3) + 7,280 (conv biases)."""
    model = on_meta(get_spec("googlenet_v1_bn_5x5").build)
    params, macs = _table1_counts(five=5, bn=True, bias=True)
    assert count_params(model) == params == seed_params("GoogleNet V1 (Bn)") == 7_013_112
    assert count_macs(model, 224) == macs
    assert _table1_counts(five=3, bn=True, bias=False)[0] == count_params(on_meta(_torchvision))
    assert params - count_params(on_meta(_torchvision)) == 380_928 + 7_280


@pytest.mark.parametrize("name", ["googlenet_v1", "googlenet_v1_lrn", "googlenet_v1_bn_5x5"])
def test_v1_variants_run_at_smallest_input(name: str) -> None:
    model = get_spec(name).build().eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, SMALLEST[name], SMALLEST[name])).shape == (1, 1000)


# ---- googlenet_v2 = BN-Inception (pytorchcv bninception)


def test_v2_params_macs_and_layout_equal_pytorchcv() -> None:
    ours = on_meta(get_spec("googlenet_v2").build)
    ref = on_meta(lambda: get_model("bninception", pretrained=False))
    assert count_params(ours) == count_params(ref) == 11_295_240
    assert count_macs(ours, 224) == count_macs(ref, 224)
    copy_in_order(ref, ours)


def test_v2_outputs_equal_pytorchcv() -> None:
    ref = global_pool(get_model("bninception", pretrained=False))
    assert_equivalent(ref, get_spec("googlenet_v2").build, SMALLEST_V2, by_key=False)


def test_v2_without_conv_biases() -> None:
    """The released (Caffe) BN-Inception keeps a bias before every BN: 10,016 redundant parameters."""
    assert count_params(on_meta(lambda: get_spec("googlenet_v2").build(bias=False))) == 11_295_240 - 10_016


def test_v2_seed_figure_differs() -> None:
    """docs/_recon/googlenet.md: the seed's 11,204,936 is 90,304 below BN-Inception (80,288 below it without biases)."""
    assert 11_295_240 - seed_params("GoogleNet V2") == 90_304
