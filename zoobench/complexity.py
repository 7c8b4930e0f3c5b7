"""Parameters, MACs and FLOPs, counted at the aten level on the meta device.

MACs are the multiply-accumulates of convolutions, linear layers and matmuls per image; FLOPs = 2 x MACs.
Counting aten ops (torch.utils.flop_counter) sees every convolution however it is called: module-hook counters
give 0 to functional or subclassed convs, which is how the seed reported 0.016 GFLOPs for EfficientNet-B0.
Models are built on the meta device, so no weights are allocated and the whole zoo profiles in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from zoobench.errors import ZooError, guarded
from zoobench.registry import ModelSpec


@dataclass(frozen=True)
class Complexity:
    params: int
    macs: int  # per image
    resolution: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def size_mb(self) -> float:
        """fp32 parameter storage in MB (10^6 bytes)."""
        return self.params * 4 / 1e6


@dataclass(frozen=True)
class LayerCost:
    name: str  # dotted module path, "" for the whole model
    depth: int
    params: int
    macs: int


def build_meta(spec: ModelSpec) -> nn.Module:
    """Build a model on the meta device: shapes only, no memory, no initialisation cost."""
    with torch.device("meta"), _no_init():
        model = spec.build()
    with guarded(f"{spec.name}: eval()"):
        return model.eval()


@contextmanager
def _no_init() -> Iterator[None]:
    """Skip torch.nn.init while building on meta: there are no values to fill, and filling them is most of the time."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_") and callable(getattr(nn.init, n))]
    saved = {n: getattr(nn.init, n) for n in names}
    for n in names:
        setattr(nn.init, n, _keep)
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(nn.init, n, fn)


def _keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    return tensor


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _dummy_input(model: nn.Module, resolution: int, batch: int = 1) -> torch.Tensor:
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    return torch.zeros(batch, 3, resolution, resolution, device=device)


def _run(model: nn.Module, name: str, resolution: int, counter: TorchDispatchMode) -> None:
    if resolution <= 0:
        raise ZooError(f"resolution must be a positive number of pixels, got {resolution}")
    # Any error of the forward is the model's (a shape error: the input is too small for it; a user model's bug).
    with guarded(f"{name} cannot run at {resolution}x{resolution}"), torch.no_grad(), counter:
        model(_dummy_input(model, resolution))


class _TotalFlops(TorchDispatchMode):
    """Sums torch's own per-op FLOP formulas (the ones FlopCounterMode uses) without its per-module bookkeeping.

    The totals are identical; skipping the module tracker makes `profile --all` about a quarter faster.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def count_macs(model: nn.Module, resolution: int = 224, name: str = "model") -> int:
    """MACs per image of one forward pass at resolution x resolution (batch 1)."""
    counter = _TotalFlops()
    _run(model, name, resolution, counter)
    return counter.total // 2


def measure(spec: ModelSpec, resolution: int | None = None) -> Complexity:
    """Params and MACs of a spec at `resolution` (None: the model's native resolution)."""
    resolution = spec.resolution if resolution is None else resolution
    model = build_meta(spec)
    return Complexity(count_params(model), count_macs(model, resolution, spec.name), resolution)


def layer_costs(spec: ModelSpec, resolution: int | None = None, max_depth: int = 2) -> list[LayerCost]:
    """Per-module params and MACs down to `max_depth` levels, in module order ("" is the whole model)."""
    if max_depth < 0:
        raise ZooError(f"max_depth must be >= 0 (0 shows the whole model only), got {max_depth}")
    resolution = spec.resolution if resolution is None else resolution
    model = build_meta(spec)
    counter = FlopCounterMode(display=False, depth=None)
    _run(model, spec.name, resolution, counter)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    rows = []
    for name, module in model.named_modules():
        depth = 0 if not name else name.count(".") + 1
        if depth > max_depth:
            continue
        key = root if not name else f"{root}.{name}"
        macs = sum(counts.get(key, {}).values()) // 2
        rows.append(LayerCost(name, depth, count_params(module), macs))
    return rows
