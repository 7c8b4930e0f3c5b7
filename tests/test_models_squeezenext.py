"""SqueezeNext: equal to pytorchcv's sqnxt23* ports of the authors' Caffe models; seed figures reconciled."""

from __future__ import annotations

import pytest
from equivalence import assert_equivalent, global_pool, params_macs, seed_params
from pytorchcv.model_provider import get_model as pytorchcv_model

from zoobench.registry import get_spec, list_models

RES = 32  # the smallest accepted input is 7; 32 still gives every 3x1/1x3 conv a spatial extent to test
MODELS = ["sqnxt23_w1", "sqnxt23v5_w1", "sqnxt23_w2", "sqnxt23v5_w2"]  # pytorchcv uses the same names
SEED_ROWS = {
    "sqnxt23_w1": "1.0-SqNxt-23",
    "sqnxt23v5_w1": "1.0-SqNxt-23v5",
    "sqnxt23_w2": "2.0-SqNxt-23",
    "sqnxt23v5_w2": "2.0-SqNxt-23v5",
}


@pytest.mark.parametrize("name", MODELS)
def test_params_and_macs_equal_pytorchcv(name: str) -> None:
    assert params_macs(get_spec(name).build) == params_macs(lambda: pytorchcv_model(name, pretrained=False))


@pytest.mark.parametrize("name", MODELS)
def test_outputs_equal_pytorchcv(name: str) -> None:
    assert_equivalent(global_pool(pytorchcv_model(name, pretrained=False)), get_spec(name).build, RES, by_key=False)


def _seed_layout_params(depths: tuple[int, ...], widths: tuple[int, ...]) -> int:
    """The seed's SqueezeNext, counted by hand: every conv of a block is a bias-free 1x1 conv + BN (no 1x3/3x1),
    every block (not only those that use it) holds a 1x1 shortcut conv + BN, and the first block of a stage keeps
    stride 1 (its stages are separated by max-pools)."""

    def cbn(i: int, o: int, k: int = 1) -> int:
        return i * o * k * k + 2 * o

    def block(i: int, o: int) -> int:
        return (
            cbn(i, o // 2)
            + cbn(o // 2, o // 4)
            + cbn(o // 4, o // 2)
            + cbn(o // 2, o // 2)
            + cbn(o // 2, o)
            + cbn(i, o)
        )

    total, in_ch = cbn(3, 64, 7), 64
    for n, c in zip(depths, widths, strict=True):
        for _ in range(n):
            total, in_ch = total + block(in_ch, c), c
    return total + cbn(in_ch, 128) + 128 * 1000 + 1000


@pytest.mark.parametrize(
    ("name", "depths", "widths"),
    [
        ("sqnxt23_w1", (6, 6, 8, 1), (32, 64, 128, 256)),
        ("sqnxt23v5_w1", (2, 4, 14, 1), (32, 64, 128, 256)),
        ("sqnxt23_w2", (6, 6, 8, 1), (64, 128, 256, 512)),
        ("sqnxt23v5_w2", (2, 4, 14, 1), (64, 128, 256, 512)),
    ],
)
def test_seed_figures_match_the_seed_layout_arithmetic(name: str, depths: tuple, widths: tuple) -> None:
    # Documented in docs/_recon/squeezenext.md: the seed's figure is not the paper's architecture.
    assert _seed_layout_params(depths, widths) == seed_params(SEED_ROWS[name])


def test_family_lists_every_model() -> None:
    assert sorted(list_models(family="squeezenext")) == sorted(MODELS)
