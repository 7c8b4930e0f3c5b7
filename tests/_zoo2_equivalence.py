"""Helpers for the equivalence tests of the mobilenet, squeezenet, squeezenext, peleenet and igcv3 families.

A reference model (torchvision, timm or pytorchcv, random init) gets random BN statistics and biases, its weights are
copied into ours, and both run in eval mode on the same input: equal outputs then mean equal architectures.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zoobench.complexity import count_macs, count_params
from zoobench.registry import get_spec, seed_table

ATOL = 1e-5


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return build().eval()


def params_and_macs(build: Callable[[], nn.Module], resolution: int = 224) -> tuple[int, int]:
    model = on_meta(build)
    return count_params(model), count_macs(model, resolution)


def seed_params(seed_name: str) -> int:
    return round(seed_table()[seed_name.lower()].params_m * 1e6)


@torch.no_grad()
def randomize(model: nn.Module, resolution: int = 32) -> nn.Module:
    """Random BN affine and biases, and BN running statistics calibrated on random data.

    Fresh BN (mean 0, var 1, identity affine) would let a wrong BN wiring or a swapped bias go unnoticed; and with
    uncalibrated statistics the signal fades with depth until the output no longer depends on the input.
    """
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.1)
        elif isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            m.bias.normal_(0.0, 0.1)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch sets the statistics
    model.train()
    model(torch.randn(4, 3, resolution, resolution))
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()


def copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """Copy src's state_dict into dst entry by entry in registration order; shapes must match one to one."""
    src_items = list(src.state_dict().items())
    dst_keys = list(dst.state_dict().keys())
    dst_shapes = [v.shape for v in dst.state_dict().values()]
    assert len(src_items) == len(dst_keys), f"{len(src_items)} reference tensors vs {len(dst_keys)} of ours"
    for (src_key, value), dst_key, shape in zip(src_items, dst_keys, dst_shapes, strict=True):
        assert value.shape == shape, f"{src_key} {tuple(value.shape)} -> {dst_key} {tuple(shape)}"
    dst.load_state_dict({k: v for k, (_, v) in zip(dst_keys, src_items, strict=True)}, strict=True)


@torch.no_grad()
def assert_same_outputs(ref: nn.Module, ours: nn.Module, resolution: int, batch: int = 2) -> None:
    ref.eval()
    ours.eval()
    x = torch.randn(batch, 3, resolution, resolution)
    expected, got = ref(x), ours(x)
    assert got.shape == expected.shape
    # The comparison means something only if the output depends on the input and on the weights.
    assert expected.std() > 1e-3
    assert not torch.allclose(expected[0], expected[1], atol=ATOL)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def build_ours(name: str, **overrides) -> nn.Module:
    return get_spec(name).build(**overrides)
