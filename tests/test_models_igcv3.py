"""IGCV3-D at widths 0.7/1.0/1.4: equal to pytorchcv's igcv3 builder; the seed's figures equal ours exactly."""

from __future__ import annotations

import pytest
import torch
from _zoo2_equivalence import (
    assert_same_outputs,
    build_ours,
    copy_in_order,
    on_meta,
    params_and_macs,
    randomize,
    seed_params,
)
from pytorchcv.models.igcv3 import get_igcv3
from torch import nn

from zoobench.complexity import count_params, measure
from zoobench.models.igcv3 import channel_shuffle
from zoobench.registry import get_spec, list_models

RES = 32  # any input runs (global pooling, padded convs); 32 keeps a 3x3 spatial extent in the early stages
MODELS = {
    "igcv3_w0_7": (0.7, "IGCV3-D (0.7)"),
    "igcv3_w1_0": (1.0, "IGCV3-D (1.0)"),
    "igcv3_w1_4": (1.4, "IGCV3-D (1.4)"),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_params_and_macs_equal_pytorchcv(name: str) -> None:
    width, _ = MODELS[name]
    assert params_and_macs(lambda: build_ours(name)) == params_and_macs(lambda: get_igcv3(width))


@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_equal_pytorchcv(name: str) -> None:
    width, _ = MODELS[name]
    ref = get_igcv3(width)
    # Its fixed 7x7 average pool only fits 224 inputs; global pooling is the same operation there.
    ref.features.final_pool = nn.AdaptiveAvgPool2d(1)
    ref = randomize(ref, RES)
    ours = build_ours(name)
    copy_in_order(ref, ours)
    assert_same_outputs(ref, ours, RES)


@pytest.mark.parametrize("name", list(MODELS))
def test_equals_seed(name: str) -> None:
    _, seed = MODELS[name]
    assert count_params(on_meta(lambda: build_ours(name))) == seed_params(seed)


def test_channel_shuffle_interleaves_groups() -> None:
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


@pytest.mark.parametrize("name", list_models(family="igcv3"))
@pytest.mark.parametrize("resolution", [224, None])
def test_measure(name: str, resolution: int | None) -> None:
    c = measure(get_spec(name), resolution)
    assert c.params > 0 and c.macs > 0
