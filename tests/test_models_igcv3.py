"""IGCV3-D at widths 0.7/1.0/1.4: equal to pytorchcv's igcv3 builder; the seed's figures equal ours exactly."""

from __future__ import annotations

import pytest
import torch
from equivalence import assert_equivalent, global_pool, on_meta, params_macs, seed_params
from pytorchcv.models.igcv3 import get_igcv3

from zoobench.complexity import count_params
from zoobench.models.igcv3 import channel_shuffle
from zoobench.registry import get_spec

RES = 32  # any input runs (global pooling, padded convs); 32 keeps a 3x3 spatial extent in the early stages
MODELS = {
    "igcv3_w0_7": (0.7, "IGCV3-D (0.7)"),
    "igcv3_w1_0": (1.0, "IGCV3-D (1.0)"),
    "igcv3_w1_4": (1.4, "IGCV3-D (1.4)"),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_params_and_macs_equal_pytorchcv(name: str) -> None:
    width, _ = MODELS[name]
    assert params_macs(get_spec(name).build) == params_macs(lambda: get_igcv3(width))


@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_equal_pytorchcv(name: str) -> None:
    width, _ = MODELS[name]
    assert_equivalent(global_pool(get_igcv3(width)), get_spec(name).build, RES, by_key=False)


@pytest.mark.parametrize("name", list(MODELS))
def test_equals_seed(name: str) -> None:
    _, seed = MODELS[name]
    assert count_params(on_meta(get_spec(name).build)) == seed_params(seed)


def test_channel_shuffle_interleaves_groups() -> None:
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
