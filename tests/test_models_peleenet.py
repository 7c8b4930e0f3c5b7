"""PeleeNet: equal to pytorchcv's peleenet; the seed's figure is a 224-channel stem."""

from __future__ import annotations

import pytest
from equivalence import assert_equivalent, global_pool, on_meta, params_macs, seed_params
from pytorchcv.model_provider import get_model as pytorchcv_model

from zoobench.complexity import count_params
from zoobench.registry import get_spec

RES = 32  # the smallest accepted input (31 also runs; below it the stem's two branches disagree in size)


def test_params_and_macs_equal_pytorchcv() -> None:
    ours = params_macs(get_spec("peleenet").build)
    assert ours == params_macs(lambda: pytorchcv_model("peleenet", pretrained=False))
    assert ours[0] == 2_802_248  # the paper's 2.8 M


def test_outputs_equal_pytorchcv() -> None:
    assert_equivalent(
        global_pool(pytorchcv_model("peleenet", pretrained=False)), get_spec("peleenet").build, RES, by_key=False
    )


def test_seed_variant_equals_seed() -> None:
    assert count_params(on_meta(get_spec("peleenet_stem224").build)) == seed_params("PeleeNet") == 4_519_880


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
    assert count_params(on_meta(lambda: get_spec("peleenet").build(stem_channels=stem))) == total
