"""Parameters, MACs, per-operator and per-module costs and activation memory, counted on the meta device.

MACs are the multiply-accumulates of convolutions, linear layers and matmuls per image; FLOPs = 2 x MACs.
Counting aten ops (torch's own FLOP formulas, `torch.utils.flop_counter.flop_registry`) sees every convolution
however it is called: module-hook counters give 0 to functional or subclassed convs, which is how the seed reported
0.016 GFLOPs for EfficientNet-B0. Models are built on the meta device, so no weights are allocated and the whole
zoo profiles in seconds. One dispatch pass (`_Tally`) gives the MACs, every operator's calls and elements, and the
activation memory by tensor lifetimes; per-module figures come from the same pass with module hooks added.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from zoobench.errors import ZooError, guarded
from zoobench.registry import ModelSpec


@dataclass(frozen=True)
class OpCost:
    """One aten operator kind (overloads merged) over one forward: what it cost and whether MACs include it."""

    name: str  # "aten.convolution"
    counted: bool  # torch has a MAC formula for it: its work is in the MACs
    calls: int
    macs: int  # per image; 0 when not counted
    elements_read: int  # elements of its tensor inputs, per forward (views read and write nothing)
    elements_written: int  # elements of its outputs, per forward (in-place results included, views not)
    bytes_written: int


@dataclass(frozen=True)
class Complexity:
    params: int
    macs: int  # per image
    resolution: int
    batch: int = 1  # the batch of the counted forward: activation figures are per forward at this batch
    weight_bytes: int = 0  # parameters and buffers (BN running statistics), as built (fp32)
    activation_bytes: int = 0  # bytes every operator output holds, summed over the forward (views excluded)
    peak_activation_bytes: int = 0  # the most activation memory alive at once (the input included; weights not)
    ops: tuple[OpCost, ...] = ()

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
    macs: int  # per image, of every operator that ran while the module's forward did
    kind: str = ""  # the module's class name
    output_shape: tuple | None = None  # of the first call: a shape, or a tuple of shapes; None if it never ran
    calls: int = 0
    act_elements: int = 0  # elements its operators wrote, per forward at the counted batch
    act_bytes: int = 0


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


def weight_bytes(model: nn.Module) -> int:
    """Bytes of the parameters and buffers (each shared tensor once)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _dummy_input(model: nn.Module, resolution: int, batch: int = 1) -> torch.Tensor:
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    return torch.zeros(batch, 3, resolution, resolution, device=device)


# --- the dispatch pass ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpInfo:
    packet: str
    formula: object  # torch's FLOP formula, or None
    alias: bool  # a return aliases an input: a view, an in-place or an out= op (no new memory)
    inplace: bool  # exactly one return, and it is the updated first argument (relu_, add_)
    view: bool


_INFO: dict = {}


def _info(func: torch._ops.OpOverload) -> _OpInfo:
    info = _INFO.get(func)
    if info is None:
        schema = func._schema
        writes = [a.alias_info is not None and a.alias_info.is_write for a in schema.arguments]
        alias = any(r.alias_info is not None for r in schema.returns)
        inplace = len(schema.returns) == 1 and alias and writes[:1] == [True] and not any(writes[1:])
        packet = func._overloadpacket
        info = _OpInfo(str(packet), flop_registry.get(packet), alias, inplace, bool(func.is_view))
        _INFO[func] = info
    return info


_SCALARS = frozenset({bool, int, float, str, type(None), torch.dtype, torch.device, torch.memory_format})


def _key(x: object) -> object:
    """A hashable stand-in for an argument: all a meta kernel reads of it (tensors: metadata; scalars: type and
    value, since 1 and 1.0 promote differently). Raises TypeError for what it cannot stand in for."""
    cls = type(x)
    if cls in _SCALARS:
        return (cls, x)
    if cls is tuple or cls is list:
        return (cls, *map(_key, x))
    if isinstance(x, torch.Tensor):
        if x.device.type != "meta":
            raise TypeError("real data")  # a kernel on real data computes values: never replay those
        return (x.shape, x.stride(), x.storage_offset(), x.dtype, x.layout)
    raise TypeError(cls.__name__)


def _tensors(x: object) -> Iterator[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _tensors(v)


@dataclass
class _Entry:
    """One operator call's figures, replayable for the next call with the same argument metadata."""

    flops: int
    read: int
    written: int
    bytes: int
    outs: tuple | None = None  # (shape, stride, dtype) per fresh output; None: not replayable
    single: bool = True  # the op returns one tensor, not a tuple


def _measure_call(info: _OpInfo, args: tuple, kwargs: dict, out: object) -> tuple[_Entry, list[torch.Tensor]]:
    """The call's figures, and its outputs on new storage."""
    flops = info.formula(*args, **kwargs, out_val=out) if info.formula is not None else 0
    if info.view:
        return _Entry(flops, 0, 0, 0), []
    inputs = [*_tensors(args), *_tensors(list(kwargs.values()))]
    outs = list(_tensors(out))
    # Some ops return an input's storage without saying so in their schema (_unsafe_view): no data moved, and a
    # replay would wrongly make new memory of it. In-place and out= results are written where they are.
    taken = {t.untyped_storage()._cdata for t in inputs}
    new = [t for t in outs if t.untyped_storage()._cdata not in taken]
    written = outs if info.alias else new
    entry = _Entry(
        flops,
        sum(t.numel() for t in inputs),
        sum(t.numel() for t in written),
        sum(t.numel() * t.element_size() for t in written),
    )
    fresh = (
        not info.alias and outs and len(new) == len(outs) and (isinstance(out, torch.Tensor) or len(outs) == len(out))
    )
    distinct = len({t.untyped_storage()._cdata for t in outs}) == len(outs)
    if fresh and distinct and all(t.device.type == "meta" and t.storage_offset() == 0 for t in outs):
        entry.outs = tuple((t.shape, t.stride(), t.dtype) for t in outs)
        entry.single = isinstance(out, torch.Tensor)
    return entry, [] if info.alias else new


@dataclass
class _Acc:
    """Per-operator or per-module sums."""

    counted: bool = False  # an operator with a MAC formula
    calls: int = 0
    flops: int = 0
    read: int = 0
    written: int = 0
    bytes: int = 0
    shape: tuple | None = None


# Meta kernels are pure functions of their arguments' metadata, so one call's outputs and figures stand for every
# later call with the same metadata: batch norm's meta kernel is Python and takes ~0.6 ms a call, the replay a dict
# lookup. Shared by every model profiled in this process (ResNets repeat their blocks, and each other's).
_MEMO: dict = {}
_MEMO_LIMIT = 200_000


class _Tally(TorchDispatchMode):
    """MACs, per-operator figures and live activation memory of one forward, in one pass over its aten calls.

    Memory: every fresh operator output is alive from its call until the last tensor on its storage is freed (a
    weakref finalizer), as in eager inference; in-place results and views add nothing; tensors that no operator
    of the forward made (weights) are not activations.
    """

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self.ops: dict[str, _Acc] = {}
        self.live = self.peak = 0
        self._storages: dict[int, list[int]] = {}  # storage id -> [bytes, tensors alive on it]
        self.modules: dict[str, _Acc] = {}  # the modules whose forward is running, innermost last

    def track(self, t: torch.Tensor) -> None:
        """Count a fresh tensor (an operator's output, or the input) as alive until it is freed."""
        sid = t.untyped_storage()._cdata
        slot = self._storages.get(sid)
        if slot is None:
            nbytes = t.untyped_storage().nbytes()
            self._storages[sid] = [nbytes, 1]
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        else:
            slot[1] += 1
        weakref.finalize(t, self._free, sid).atexit = False

    def _free(self, sid: int) -> None:
        slot = self._storages[sid]
        slot[1] -= 1
        if slot[1] == 0:
            self.live -= slot[0]
            del self._storages[sid]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        info = _INFO.get(func) or _info(func)
        out, entry, new = self._call(func, info, args, kwargs)
        acc = self.ops.get(info.packet)
        if acc is None:
            acc = self.ops[info.packet] = _Acc(counted=info.formula is not None)
        acc.calls += 1
        for a in (acc, *self.modules.values()):
            a.flops += entry.flops
            a.read += entry.read
            a.written += entry.written
            a.bytes += entry.bytes
        self.flops += entry.flops
        if not info.inplace:
            fresh = {id(t) for t in new}
            for t in _tensors(out):  # new memory, or a view of an activation (a view of a weight is none)
                if id(t) in fresh or t.untyped_storage()._cdata in self._storages:
                    self.track(t)
        return out

    def _call(self, func, info: _OpInfo, args: tuple, kwargs: dict) -> tuple[object, _Entry, list[torch.Tensor]]:
        """Run the call, or replay an earlier one with the same argument metadata: output, figures, new outputs."""
        if info.alias and not info.inplace:  # views and out= ops must alias their inputs: run them
            out = func(*args, **kwargs)
            return out, *_measure_call(info, args, kwargs, out)
        try:
            key = (func, _key(args), _key(tuple(kwargs.items())))
            entry = _MEMO.get(key)
        except TypeError:
            key = entry = None
        if entry is not None:
            if info.inplace:
                return args[0], entry, []
            outs = tuple(torch.empty_strided(s, st, dtype=d, device="meta") for s, st, d in entry.outs)
            return (outs[0] if entry.single else outs), entry, list(outs)
        before = _key(args[0]) if info.inplace and key is not None else None
        out = func(*args, **kwargs)
        entry, new = _measure_call(info, args, kwargs, out)
        if key is None:  # real data, or an argument with no stand-in: never replayed
            return out, entry, new
        replayable = (out is args[0] and _key(args[0]) == before) if info.inplace else entry.outs is not None
        if replayable:
            if len(_MEMO) >= _MEMO_LIMIT:
                _MEMO.clear()
            _MEMO[key] = entry
        return out, entry, new


def _check(resolution: int, batch: int) -> None:
    if resolution <= 0:
        raise ZooError(f"resolution must be a positive number of pixels, got {resolution}")
    if batch < 1:
        raise ZooError(f"batch must be at least 1, got {batch}")


def _run(model: nn.Module, name: str, resolution: int, counter: TorchDispatchMode, batch: int = 1) -> None:
    _check(resolution, batch)
    x = _dummy_input(model, resolution, batch)
    if isinstance(counter, _Tally):
        counter.track(x)  # the input is alive through the whole forward: part of the peak
    # Any error of the forward is the model's (a shape error: the input is too small for it; a user model's bug).
    with guarded(f"{name} cannot run at {resolution}x{resolution}"), torch.no_grad(), counter:
        out = model(x)
    del x, out  # the forward's tensors die here; their finalizers settle `live` before the caller reads it


def warm_up() -> None:
    """One tiny forward, so that what torch loads on its first meta forward (batch norm's Python meta kernel imports
    torch._dynamo, sympy and more: ~800 modules, ~0.7 s) loads here once, before a pool forks, not in every worker."""
    with torch.device("meta"):
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(), nn.Linear(4, 2),
        ).eval()  # fmt: skip
    _run(model, "warm-up", 8, _Tally())


def count_macs(model: nn.Module, resolution: int = 224, name: str = "model") -> int:
    """MACs per image of one forward pass at resolution x resolution (batch 1)."""
    tally = _Tally()
    _run(model, name, resolution, tally)
    return tally.flops // 2


def _op_costs(tally: _Tally, batch: int) -> tuple[OpCost, ...]:
    return tuple(
        OpCost(name, a.counted, a.calls, a.flops // 2 // batch, a.read, a.written, a.bytes)
        for name, a in tally.ops.items()
    )


def measure(spec: ModelSpec, resolution: int | None = None, batch: int = 1) -> Complexity:
    """Params, MACs per image, operators and activation memory of a spec at `resolution` (None: the model's native
    resolution), the forward run at `batch` images."""
    resolution = spec.resolution if resolution is None else resolution
    _check(resolution, batch)
    model = build_meta(spec)
    tally = _Tally()
    _run(model, spec.name, resolution, tally, batch)
    return Complexity(
        params=count_params(model),
        macs=tally.flops // 2 // batch,
        resolution=resolution,
        batch=batch,
        weight_bytes=weight_bytes(model),
        activation_bytes=sum(a.bytes for a in tally.ops.values()),
        peak_activation_bytes=tally.peak,
        ops=_op_costs(tally, batch),
    )


def layer_costs(spec: ModelSpec, resolution: int | None = None, max_depth: int = 2, batch: int = 1) -> list[LayerCost]:
    """Per-module params, MACs, output shape and activations down to `max_depth` levels, in module order ("" is the
    whole model). A module's figures are those of every operator that ran during its forward."""
    if max_depth < 0:
        raise ZooError(f"max_depth must be >= 0 (0 shows the whole model only), got {max_depth}")
    resolution = spec.resolution if resolution is None else resolution
    _check(resolution, batch)
    model = build_meta(spec)
    tally = _Tally()
    shown = [(name, m) for name, m in model.named_modules() if _depth(name) <= max_depth]
    accs = {name: _Acc() for name, _ in shown}
    with _module_hooks(tally, shown, accs):
        _run(model, spec.name, resolution, tally, batch)
    return [
        LayerCost(
            name=name,
            depth=_depth(name),
            params=count_params(module),
            macs=accs[name].flops // 2 // batch,
            kind=type(module).__name__,
            output_shape=accs[name].shape,
            calls=accs[name].calls,
            act_elements=accs[name].written,
            act_bytes=accs[name].bytes,
        )
        for name, module in shown
    ]


def _depth(name: str) -> int:
    return name.count(".") + 1 if name else 0


@contextmanager
def _module_hooks(tally: _Tally, modules: list, accs: dict[str, _Acc]) -> Iterator[None]:
    """While a module's forward runs, its accumulator is active: every operator's figures go to it as well."""
    depth: dict[str, int] = {}  # nesting per module: a module that calls itself counts each operator once

    def enter(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            depth[name] = depth.get(name, 0) + 1
            accs[name].calls += 1
            tally.modules[name] = accs[name]

        return hook

    def leave(name: str):
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            depth[name] -= 1
            if depth[name] == 0:
                del tally.modules[name]
            if accs[name].shape is None:
                accs[name].shape = _shape_of(output)

        return hook

    handles = []
    for name, m in modules:
        handles.append(m.register_forward_pre_hook(enter(name)))
        handles.append(m.register_forward_hook(leave(name)))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _shape_of(output: object) -> tuple | None:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (list, tuple)):
        shapes = tuple(s for s in map(_shape_of, output) if s is not None)
        return shapes or None
    return None
