"""DLA: timm's state_dicts load into ours (strict) and outputs agree; params and MACs equal timm's and pytorchcv's;
the seed's counts are reproduced by arithmetic (docs/_recon/dla.md)."""

from __future__ import annotations

import pytest
import timm
from equivalence import assert_equivalent, on_meta, seed_params
from pytorchcv.model_provider import get_model as pytorchcv_model

from zoobench.complexity import count_macs, count_params
from zoobench.registry import get_spec, list_models

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


def test_family_registered() -> None:
    assert sorted(list_models(family="dla")) == sorted(NAMES)
    for name in NAMES:
        spec = get_spec(name)
        assert spec.seed is not None and get_spec(spec.seed) is spec  # seed display name is an alias
        assert spec.paper.arxiv == "1707.06484" and spec.year == 2018 and spec.resolution == 224


@pytest.mark.parametrize("name", NAMES)
def test_params_macs_equal_timm_and_pytorchcv(name: str) -> None:
    ours = on_meta(get_spec(name).build)
    ref = on_meta(lambda: timm.create_model(name, pretrained=False))
    cv = on_meta(lambda: pytorchcv_model(PYTORCHCV[name], pretrained=False))
    assert count_params(ours) == count_params(ref) == count_params(cv)
    assert count_macs(ours, 224) == count_macs(ref, 224) == count_macs(cv, 224)
    ours.load_state_dict(ref.state_dict(), strict=True)  # timm's key names and shapes, no weights allocated


@pytest.mark.parametrize("name", NAMES)
def test_timm_weights_give_equal_outputs(name: str) -> None:
    ref = timm.create_model(name, pretrained=False)
    assert_equivalent(ref, get_spec(name).build, SMALLEST, by_key=True, min_std=1e-2)


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
    seed = seed_params(spec.seed)
    ours = count_params(on_meta(spec.build))
    levels, channels = AUTHORS_UNUSED_PROJECTIONS[name]
    assert seed - ours - _unused_projection_params(levels, channels) == SEED_RESIDUAL
