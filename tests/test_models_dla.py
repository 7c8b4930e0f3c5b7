"""DLA: timm's state_dicts load into ours (strict) and outputs agree; params and MACs equal timm's and pytorchcv's;
the seed's counts are reproduced by arithmetic (docs/_recon/dla.md)."""

from __future__ import annotations

import pytest
import timm
import torch
from pytorchcv.model_provider import get_model as pytorchcv_model
from torch import nn

from zoobench.complexity import count_macs, count_params, measure
from zoobench.registry import get_spec, list_models, seed_table

# ours -> pytorchcv's name (timm uses ours)
PYTORCHCV = {
    "dla34": "dla34",
    "dla46_c": "dla46c",
    "dla46x_c": "dla46xc",
    "dla60x_c": "dla60xc",
    "dla60": "dla60",
    "dla60x": "dla60x",
    "dla102": "dla102",
    "dla102x": "dla102x",
    "dla169": "dla169",
}
NAMES = list(PYTORCHCV)
SMALLEST = 32  # five stride-2 stages


def _meta(build) -> nn.Module:
    with torch.device("meta"):
        return build().eval()


@torch.no_grad()
def _randomise(model: nn.Module) -> nn.Module:
    """Random BN affine terms and classifier bias; BN statistics calibrated on random data.

    Fresh BN (mean 0, var 1, identity affine) would hide a mis-wired BN; uncalibrated random statistics make the
    activations grow without bound through 100+ layers, so that 1e-5 would mean nothing.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0.0, 0.1)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch sets the statistics
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            m.bias.normal_(0.0, 0.1)
    model.train()
    model(torch.randn(4, 3, SMALLEST, SMALLEST))
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()


def test_family_registered() -> None:
    assert sorted(list_models(family="dla")) == sorted(NAMES)
    for name in NAMES:
        spec = get_spec(name)
        assert spec.seed is not None and get_spec(spec.seed) is spec  # seed display name is an alias
        assert spec.paper.arxiv == "1707.06484" and spec.year == 2018 and spec.resolution == 224


@pytest.mark.parametrize("name", NAMES)
def test_params_macs_equal_timm_and_pytorchcv(name: str) -> None:
    ours = _meta(get_spec(name).build)
    ref = _meta(lambda: timm.create_model(name, pretrained=False))
    cv = _meta(lambda: pytorchcv_model(PYTORCHCV[name], pretrained=False))
    assert count_params(ours) == count_params(ref) == count_params(cv)
    assert count_macs(ours, 224) == count_macs(ref, 224) == count_macs(cv, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)  # timm's key names and shapes, no weights allocated


@pytest.mark.parametrize("name", NAMES)
def test_timm_weights_give_equal_outputs(name: str) -> None:
    ref = _randomise(timm.create_model(name, pretrained=False))
    ours = get_spec(name).build().eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, SMALLEST, SMALLEST)
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 1e-2 and not torch.allclose(expected[0], expected[1], atol=1e-3)  # a real signal
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_profiles_at_224_and_native(name: str) -> None:
    spec = get_spec(name)
    at_224, native = measure(spec, 224), measure(spec, None)
    assert native.resolution == spec.resolution == 224
    assert at_224.macs == native.macs > 0 and at_224.params == native.params


# The authors' code (ucbdrive/dla) gives every tree whose width changes a 1x1 projection + BN. Only level-1 trees use it
# (their first block takes it as shortcut); in a tree of L > 1 levels the nested chain tree1, tree1.tree1, ... repeats
# the same in -> out change L - 1 times, and those L - 1 projections are built but never called. timm, pytorchcv and
# we drop them. The seed's counts are the authors' layout plus a constant 1,037 that no layout explains.
AUTHORS_UNUSED_PROJECTIONS = {
    # name: (levels, channels) as registered
    name: (get_spec(name).kwargs["levels"], get_spec(name).kwargs["channels"])
    for name in NAMES
}
SEED_RESIDUAL = 1037


def _unused_projection_params(levels: tuple[int, ...], channels: tuple[int, ...]) -> int:
    total = 0
    for stage in range(2, 6):
        c_in, c_out = channels[stage - 1], channels[stage]
        if c_in != c_out:
            total += (levels[stage] - 1) * (c_in * c_out + 2 * c_out)  # 1x1 conv weight + BN weight and bias
    return total


@pytest.mark.parametrize("name", NAMES)
def test_seed_params_are_authors_layout_plus_constant(name: str) -> None:
    spec = get_spec(name)
    seed = round(seed_table()[spec.seed.lower()].params_m * 1e6)
    ours = count_params(_meta(spec.build))
    levels, channels = AUTHORS_UNUSED_PROJECTIONS[name]
    assert seed - ours - _unused_projection_params(levels, channels) == SEED_RESIDUAL
