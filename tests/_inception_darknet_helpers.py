"""Helpers for the darknet, googlenet and inception equivalence tests.

A reference model (torchvision, timm or pytorchcv, random init) gets random BN affine parameters and biases and BN
running statistics calibrated on random data; its weights go into ours (by key, or position by position); both run in
eval mode on the same input. Equal outputs then mean equal architectures.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zoobench.registry import seed_table

ATOL = 1e-5


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return build().eval()


def seed_params(seed_name: str) -> int:
    return round(seed_table()[seed_name.lower()].params_m * 1e6)


@torch.no_grad()
def randomize(model: nn.Module, resolution: int, batch: int = 4) -> nn.Module:
    """Random BN affine and biases, then BN running statistics set from one batch of random input.

    Fresh BN (mean 0, var 1, identity affine) and zero biases would let a misplaced BN or bias go unnoticed; calibrated
    statistics keep the signal alive through a hundred layers so the final comparison is not between two near-zeros.
    """
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.reset_running_stats()
            m.momentum = None  # cumulative average: the one calibration batch sets the statistics
        elif isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    model.train()
    model(torch.randn(batch, 3, resolution, resolution, generator=g))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1
    return model.eval()


def copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """Load src's tensors into dst pairing state_dict entries by position; each pair must agree in kind and shape."""
    src_items, dst_keys = list(src.state_dict().items()), list(dst.state_dict())
    dst_shapes = {k: v.shape for k, v in dst.state_dict().items()}
    assert len(src_items) == len(dst_keys)
    for (src_key, value), dst_key in zip(src_items, dst_keys, strict=True):
        assert src_key.rsplit(".", 1)[-1] == dst_key.rsplit(".", 1)[-1], (src_key, dst_key)
        assert value.shape == dst_shapes[dst_key], (src_key, dst_key)
    dst.load_state_dict({k: v for k, (_, v) in zip(dst_keys, src_items, strict=True)}, strict=True, assign=True)


@torch.no_grad()
def assert_same_outputs(ref: nn.Module, ours: nn.Module, resolution: int, batch: int = 2) -> None:
    ref.eval()
    ours.eval()
    x = torch.randn(batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(2))
    expected, got = ref(x), ours(x)
    assert expected.std() > 1e-3  # a signal, not a constant
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
