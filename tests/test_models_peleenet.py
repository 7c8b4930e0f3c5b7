"""PeleeNet: equal to pytorchcv's peleenet; the seed's figure is a 224-channel stem."""

from __future__ import annotations

import pytest
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

RES = 32  # the smallest accepted input (31 also runs; below it the stem's two branches disagree in size)


def test_params_and_macs_equal_pytorchcv() -> None:
    ours = params_and_macs(lambda: build_ours("peleenet"))
    assert ours == params_and_macs(lambda: pytorchcv_model("peleenet", pretrained=False))
    assert ours[0] == 2_802_248  # the paper's 2.8 M


def test_outputs_equal_pytorchcv() -> None:
    ref = pytorchcv_model("peleenet", pretrained=False)
    # Its fixed 7x7 average pool only fits 224 inputs; global pooling is the same operation there.
    ref.features.final_pool = nn.AdaptiveAvgPool2d(1)
    ref = randomize(ref, RES)
    ours = build_ours("peleenet")
    copy_in_order(ref, ours)
    assert_same_outputs(ref, ours, RES)


def test_seed_variant_equals_seed() -> None:
    assert count_params(on_meta(lambda: build_ours("peleenet_stem224"))) == seed_params("PeleeNet") == 4_519_880


@pytest.mark.parametrize("stem", [32, 224])
def test_params_by_hand(stem: int) -> None:
    """Every conv is bias-free conv + BN (2 parameters per output channel)."""

    def cbn(i: int, o: int, k: int = 1) -> int:
        return i * o * k * k + 2 * o

    total = cbn(3, stem, 3) + cbn(stem, stem // 2) + cbn(stem // 2, stem, 3) + cbn(2 * stem, stem)
    ch = stem
    for i, (n, b) in enumerate(zip((3, 4, 8, 6), (1, 2, 4, 4), strict=True)):
        if i:
            total += cbn(ch, ch)  # transition
        for _ in range(n):
            mid = 16 * b
            total += cbn(ch, mid) + cbn(mid, 16, 3) + cbn(ch, mid) + cbn(mid, 16, 3) + cbn(16, 16, 3)
            ch += 32
    total += cbn(ch, ch) + ch * 1000 + 1000
    assert count_params(on_meta(lambda: build_ours("peleenet", stem_channels=stem))) == total


@pytest.mark.parametrize("name", list_models(family="peleenet"))
@pytest.mark.parametrize("resolution", [224, None])
def test_measure(name: str, resolution: int | None) -> None:
    c = measure(get_spec(name), resolution)
    assert c.params > 0 and c.macs > 0
