"""Helpers for the model equivalence tests (tests/test_models_*.py, tests/test_resnet.py).

A reference model (torchvision, timm or pytorchcv, random init) gets random BN parameters and biases; its weights go
into ours (by key, or position by position with copy_in_order); both run in eval mode on the same input. Equal outputs
then mean equal architectures. Counts (params, MACs, layouts) are compared on the meta device: no weights allocated.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zoobench.complexity import count_macs, count_params
from zoobench.registry import seed_table

ATOL = 1e-5  # float32 rounding through 100+ layers stays far below it; a wiring mistake lands far above it


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """Build in eval mode on the meta device: counts, shapes and keys without allocating or initialising weights."""
    with torch.device("meta"):
        return build().eval()


def params_macs(build: Callable[[], nn.Module], resolution: int = 224) -> tuple[int, int]:
    """Parameters and MACs at `resolution` of a builder's model, on meta: the pair two equal architectures share."""
    model = on_meta(build)
    return count_params(model), count_macs(model, resolution)


def seed_params(seed_name: str) -> int:
    """The seed table's parameter count for a row (display name, any case) as an exact integer, to compare with ours."""
    return round(seed_table()[seed_name.lower()].params_m * 1e6)


def global_pool(model: nn.Module) -> nn.Module:
    """Swap pytorchcv's fixed-window final pool (global at 224 only) for global pooling, so the model runs at 32."""
    owners = [m for m in model.modules() if type(getattr(m, "final_pool", None)) is nn.AvgPool2d]
    assert len(owners) == 1, f"{len(owners)} fixed-window final pools"
    owners[0].final_pool = nn.AdaptiveAvgPool2d(1)
    return model


@torch.no_grad()
def randomize(model: nn.Module, calibrate_resolution: int | None, batch: int = 4) -> nn.Module:
    """Random BN affine terms, biases and BN statistics, so a misplaced BN or bias shows; returns it in eval mode."""
    # calibrate_resolution None: random running statistics. Otherwise one train-mode batch of random input at that
    # resolution sets them: through the 100+ layers of DLA, Inception or EfficientNet, random statistics make the
    # signal vanish or explode, and a comparison of near-zeros (or of infinities) would prove nothing.
    g = torch.Generator().manual_seed(1)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.weight.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(bn.num_features, generator=g) * 0.1)
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=g) * 0.1)
        bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    if calibrate_resolution is not None:
        momenta = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: the one calibration batch sets the statistics
        model.train()
        model(torch.randn(batch, 3, calibrate_resolution, calibrate_resolution, generator=g))
        for bn, momentum in zip(bns, momenta, strict=True):
            bn.momentum = momentum
    return model.eval()


def copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """Load src's tensors into dst by position (the key names differ); each pair must agree in kind and shape."""
    src_items, dst_items = list(src.state_dict().items()), list(dst.state_dict().items())
    assert len(src_items) == len(dst_items), f"{len(src_items)} reference tensors vs {len(dst_items)} of ours"
    for (src_key, value), (dst_key, slot) in zip(src_items, dst_items, strict=True):
        assert src_key.rsplit(".", 1)[-1] == dst_key.rsplit(".", 1)[-1], (src_key, dst_key)
        assert value.shape == slot.shape, f"{src_key} {tuple(value.shape)} -> {dst_key} {tuple(slot.shape)}"
    # assign: dst may live on the meta device (built without initialising weights) and takes src's tensors as they are
    dst.load_state_dict({k: v for (k, _), (_, v) in zip(dst_items, src_items, strict=True)}, strict=True, assign=True)


@torch.no_grad()
def assert_same_outputs(ref: nn.Module, ours: nn.Module, resolution: int, *, min_std: float = 1e-3) -> None:
    """Equal eval-mode outputs on random input, and an output that depends on the input, so equality means something."""
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(2))
    expected, got = ref(x), ours(x)
    assert got.shape == expected.shape
    assert expected.std() > min_std  # a signal, not a constant
    assert not torch.allclose(expected[0], expected[1], atol=1e-3)  # that differs between the two images
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def assert_equivalent(
    ref: nn.Module,
    build: Callable[[], nn.Module],
    resolution: int,
    *,
    by_key: bool,
    calibrate: bool = True,
    min_std: float = 1e-3,
) -> nn.Module:
    """Randomise ref, give ours (built on meta) its tensors by key or by position, compare outputs; returns ours."""
    randomize(ref, resolution if calibrate else None)
    ours = on_meta(build)
    if by_key:
        ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    else:
        copy_in_order(ref, ours)
    assert_same_outputs(ref, ours, resolution, min_std=min_std)
    return ours


def bias_additions(model: nn.Module, resolution: int) -> int:
    """Output elements of every biased conv/linear: counters that include bias adds exceed aten MACs by this much."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel()

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None
    ]
    device = next(model.parameters()).device
    with torch.no_grad():
        model(torch.zeros(1, 3, resolution, resolution, device=device))
    for h in handles:
        h.remove()
    return total
