"""Profile rows (params, MACs/FLOPs, memory, published accuracy, the quick Time_cast latency) and the per-module and
per-operator breakdowns, per model.

`zoobench.profile(...)` (the Python API) and `zoobench profile` (the CLI) both call these functions, so they give
the same rows. Models are counted in a process pool over every usable core; results keep the order asked for. A
model that fails is recorded with its `error` and the others go on; a single model's failure raises.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from zoobench import complexity
from zoobench.errors import ZooError
from zoobench.output.progress import SILENT, Progress
from zoobench.registry import ModelSpec


@dataclass(frozen=True)
class TimeCast:
    """How Time_cast was measured: what its footnote must say."""

    threads: int
    busy: int  # models timed while the machine was busy
    timed: int
    budget_s: float
    cpu: str
    cores: int
    batch: int = 1
    rounds: int = 1
    rerun_pct: float | None = None  # median over the timed models of the ± a rerun lands within (95 %)
    widest_pct: float | None = None  # the widest of them ...
    widest_model: str | None = None  # ... and whose


@dataclass
class Profile:
    rows: list[dict]
    resolution: int | None  # None: each model's native resolution
    time_cast: TimeCast | None = None  # None: not measured (time=False)
    failed: list[str] = field(default_factory=list)  # models whose row holds an error instead of figures
    batch: int = 1
    uncounted: Counter = field(default_factory=Counter)  # operator kind without a MAC formula -> models it ran in


@dataclass(frozen=True)
class ModelBreakdown:
    """One model's per-module (`layers`) or per-operator (`ops`) figures, or the error that stopped it."""

    model: str
    resolution: int
    batch: int
    macs: int = 0  # per image, the whole model: what shares are of
    layers: tuple[complexity.LayerCost, ...] = ()
    ops: tuple[complexity.OpCost, ...] = ()
    error: str | None = None


@dataclass
class Breakdown:
    models: list[ModelBreakdown]
    failed: list[str] = field(default_factory=list)

    def layer_rows(self) -> list[dict]:
        """One row of raw values per module of every model (a failed model: one row with its error)."""
        return [_layer_row(m, layer) if layer else _error_row(m) for m in self.models for layer in m.layers or [None]]

    def op_rows(self) -> list[dict]:
        """One row of raw values per operator kind of every model (a failed model: one row with its error)."""
        return [_op_row(m, op) if op else _error_row(m) for m in self.models for op in m.ops or [None]]

    def uncounted_kinds(self) -> list[str]:
        """The operator kinds without a MAC formula that ran in any of the models."""
        return sorted({op.name for m in self.models for op in m.ops if not op.counted})


def _error_row(m: ModelBreakdown) -> dict:
    return {"model": m.model, "resolution": m.resolution, "batch": m.batch, "error": m.error}


def _layer_row(m: ModelBreakdown, layer: complexity.LayerCost) -> dict:
    return {
        "model": m.model,
        "resolution": m.resolution,
        "batch": m.batch,
        "module": layer.name or "(whole model)",
        "type": layer.kind,
        "depth": layer.depth,
        "output_shape": shape_text(layer.output_shape),
        "calls": layer.calls,
        "params": layer.params,
        "macs": layer.macs,
        "share_pct": 100 * layer.macs / m.macs if m.macs else None,
        "act_elements": layer.act_elements,
        "act_bytes": layer.act_bytes,
    }


def _op_row(m: ModelBreakdown, op: complexity.OpCost) -> dict:
    return {
        "model": m.model,
        "resolution": m.resolution,
        "batch": m.batch,
        "operator": op.name,
        "counted": op.counted,
        "calls": op.calls,
        "macs": op.macs if op.counted else None,
        "share_pct": 100 * op.macs / m.macs if m.macs and op.counted else None,
        "elements_read": op.elements_read,
        "elements_written": op.elements_written,
        "bytes_written": op.bytes_written,
    }


def shape_text(shape: tuple | None) -> str:
    """(1, 64, 56, 56) -> "1x64x56x56"; a module returning several tensors -> "(1x1000, 1x1000)"."""
    if not shape:
        return ""
    if isinstance(shape[0], tuple):
        return "(" + ", ".join(map(shape_text, shape)) + ")"
    return "x".join(map(str, shape))


# --- one model's work (module-level functions: the pool sends them to its workers by name) ------------------------


def published_1crop(rows: list[dict]) -> list[dict]:
    """`--published 1crop`: the rows with top-1/top-5 left blank where the published figure is not 1-crop at the
    row's resolution (10-crop, dense, another test size), so every figure shown is comparable."""
    return [r if r.get("accuracy_comparable", True) is not False else {**r, "top1": None, "top5": None} for r in rows]


def count_row(spec: ModelSpec, resolution: int | None, compare_seed: bool = False, batch: int = 1) -> dict:
    """The counted figures of one model (never timed): raises ZooError when the model cannot be counted."""
    return _count(spec, resolution, batch, compare_seed)[0]


def _count(spec: ModelSpec, resolution: int | None, batch: int, compare_seed: bool) -> tuple[dict, tuple[str, ...]]:
    c = complexity.measure(spec, resolution, batch)
    acc = spec.accuracy
    row = {
        "model": spec.name,
        "family": spec.family,
        "year": spec.year,
        "resolution": c.resolution,
        "batch": batch,
        "params": c.params,
        "macs": c.macs,
        "flops": c.flops,
        "size_mb": c.size_mb,
        "time_ms": None,  # filled only by a real measurement
        "top1": acc.top1 if acc else None,
        "top5": acc.top5 if acc else None,
        "accuracy_source": acc.source if acc else None,
        # appended after the seed-era fields, so that older readers of the CSV find every column where it was
        "weight_bytes": c.weight_bytes,
        "activation_bytes": c.activation_bytes,
        "peak_activation_bytes": c.peak_activation_bytes,
        # the published figure's protocol (appended last, like the memory fields): '10-crop 224 (paper)', and
        # whether it is 1-crop at this row's resolution, i.e. comparable with a 1-crop measurement here
        "accuracy_protocol": acc.protocol if acc else None,
        "accuracy_comparable": acc.comparable(c.resolution) if acc else None,
    }
    if compare_seed:
        row.update(seed_comparison(spec, c))
    return row, tuple(op.name for op in c.ops if not op.counted)


def _layers(spec: ModelSpec, resolution: int | None, batch: int, depth: int) -> ModelBreakdown:
    layers = complexity.layer_costs(spec, resolution, depth, batch)
    res = spec.resolution if resolution is None else resolution
    return ModelBreakdown(spec.name, res, batch, layers[0].macs, layers=tuple(layers))


def _ops(spec: ModelSpec, resolution: int | None, batch: int) -> ModelBreakdown:
    c = complexity.measure(spec, resolution, batch)
    ops = tuple(sorted(c.ops, key=lambda op: (not op.counted, -op.macs, -op.elements_written, op.name)))
    return ModelBreakdown(spec.name, c.resolution, batch, c.macs, ops=ops)


def seed_comparison(spec: ModelSpec, c: complexity.Complexity) -> dict:
    """The seed's published params/FLOPs beside ours (seed FLOPs were measured at 224)."""
    seed = spec.seed_figures
    if seed is None:
        return dict.fromkeys(("seed_model", "seed_params", "d_params", "seed_flops", "d_flops"))
    seed_params = round(seed.params_m * 1e6)
    seed_flops = seed.flops_g * 1e9
    return {
        "seed_model": seed.name,
        "seed_params": seed_params,
        "d_params": c.params - seed_params,
        "seed_flops": seed_flops,
        "d_flops": c.flops - seed_flops,
    }


def _failed_row(spec: ModelSpec, resolution: int | None, error: str) -> dict:
    return {
        "model": spec.name,
        "family": spec.family,
        "year": spec.year,
        "resolution": spec.resolution if resolution is None else resolution,
        "error": error,
    }


def _check(resolution: int | None, batch: int) -> None:
    if resolution is not None and resolution <= 0:
        raise ZooError(f"resolution must be a positive number of pixels, got {resolution}")
    if batch < 1:
        raise ZooError(f"batch must be at least 1, got {batch}")


# --- the public entry points -------------------------------------------------------------------------------------


def profile(
    specs: Sequence[ModelSpec],
    resolution: int | None = 224,
    *,
    compare_seed: bool = False,
    time: bool = True,
    batch: int = 1,
    progress: Progress = SILENT,
) -> Profile:
    """Params, MACs and FLOPs per image at `resolution` (None: each model's native one), weight bytes, and the
    activation bytes and peak of one forward at `batch` images, plus the quick Time_cast latency (at `batch`) unless
    `time=False`. Over several models, one that fails becomes a row with its `error` (reported through `progress`)
    and the others go on; a single model's failure raises."""
    _check(resolution, batch)
    result = Profile([], resolution, batch=batch)
    for spec, got in zip(specs, each(_count, specs, (resolution, batch, compare_seed), progress), strict=True):
        if isinstance(got, ZooError):
            result.rows.append(_failed_row(spec, resolution, str(got)))
            result.failed.append(spec.name)
        else:
            row, uncounted = got
            result.rows.append(row)
            result.uncounted.update(uncounted)
    if time:
        _fill_time_cast(result, specs, progress)
    return result


def layers(
    specs: Sequence[ModelSpec],
    resolution: int | None = 224,
    *,
    depth: int = 2,
    batch: int = 1,
    progress: Progress = SILENT,
) -> Breakdown:
    """Per-module params, MACs, output shapes and activations of each model down to `depth` levels."""
    _check(resolution, batch)
    if depth < 0:
        raise ZooError(f"depth must be >= 0 (0 shows the whole model only), got {depth}")
    return _breakdown(specs, resolution, batch, each(_layers, specs, (resolution, batch, depth), progress))


def operators(
    specs: Sequence[ModelSpec], resolution: int | None = 224, *, batch: int = 1, progress: Progress = SILENT
) -> Breakdown:
    """Per aten operator kind of each model: calls, MACs (or none: no formula) and the elements it read and wrote."""
    _check(resolution, batch)
    return _breakdown(specs, resolution, batch, each(_ops, specs, (resolution, batch), progress))


def _breakdown(specs: Sequence[ModelSpec], resolution: int | None, batch: int, results: list) -> Breakdown:
    out = Breakdown([])
    for spec, got in zip(specs, results, strict=True):
        if isinstance(got, ZooError):
            res = spec.resolution if resolution is None else resolution
            out.models.append(ModelBreakdown(spec.name, res, batch, error=str(got)))
            out.failed.append(spec.name)
        else:
            out.models.append(got)
    return out


# --- over many models: a process pool ----------------------------------------------------------------------------

_SPECS: list[ModelSpec] = []  # a worker's copy of the specs it was started for (inherited at fork, never pickled)


def each(work: Callable, specs: Sequence[ModelSpec], args: tuple, progress: Progress = SILENT) -> list:
    """work(spec, *args) for every spec, in the order given: its result, or the ZooError it raised (reported through
    `progress`). One model runs here and raises; several run in a pool of forked workers, one per usable core.

    Fork, not spawn: a spawned worker would import torch and the zoo again (~2 s each), and a user's
    `module:callable` spec could not be pickled. The workers only build and count on the meta device.
    """
    task = progress.task("profile", total=len(specs))
    if len(specs) == 1:
        results = [work(specs[0], *args)]  # one model: its error is the answer, not a row and a summary
        task.advance(label=specs[0].name)
        task.close()
        return results
    results: list = [None] * len(specs)
    for i, got in _completed(work, specs, args):
        if isinstance(got, ZooError):
            progress.message("error", str(got))
        results[i] = got
        task.advance(label=specs[i].name)
    task.close()
    return results


def _completed(work: Callable, specs: Sequence[ModelSpec], args: tuple):
    """(index, result or ZooError) as each model finishes."""
    from zoobench.environment import usable_cores

    workers = min(usable_cores(), len(specs))
    if workers < 2 or not sys.platform.startswith("linux"):
        for i, spec in enumerate(specs):
            yield i, _guard(work, spec, args)
        return
    # Runs of neighbours, not single models: the registry lists families together, and a worker that counts
    # resnet50 then resnet101 replays most of the second from the first (complexity._MEMO). Several runs per
    # worker keep the cores evenly loaded to the end.
    size = -(-len(specs) // (workers * CHUNKS_PER_WORKER))
    complexity.warm_up()
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_adopt, initargs=(list(specs),)
    )
    try:
        futures = {
            pool.submit(_in_worker, work, range(start, min(start + size, len(specs))), args): start
            for start in range(0, len(specs), size)
        }
        for future in as_completed(futures):
            try:
                yield from future.result()
            except BrokenProcessPool:
                name = specs[futures[future]].name
                raise ZooError(f"a profiling worker died (out of memory?) counting {name} or its neighbours") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


CHUNKS_PER_WORKER = 4


def _adopt(specs: list[ModelSpec]) -> None:
    """A worker's start: the specs, one torch thread (meta work computes nothing), and Ctrl-C left to the parent,
    which stops the pool; a worker's own KeyboardInterrupt would print a traceback."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _SPECS[:] = specs


def _in_worker(work: Callable, indices: range, args: tuple) -> list[tuple[int, object]]:
    return [(i, _guard(work, _SPECS[i], args)) for i in indices]


def _guard(work: Callable, spec: ModelSpec, args: tuple) -> object:
    try:
        return work(spec, *args)
    except ZooError as exc:
        return exc


def _fill_time_cast(result: Profile, specs: Sequence[ModelSpec], progress: Progress) -> None:
    """Time_cast: a quick in-process latency median per counted model (timing.QUICK budget), one model at a time."""
    from zoobench import environment, timing

    ok = [(row, spec) for row, spec in zip(result.rows, specs, strict=True) if "error" not in row]
    if not ok:
        return
    measured = timing.bench(
        [spec for _, spec in ok],
        timing.BenchConfig(resolution=result.resolution, batch=result.batch, policy=timing.QUICK),
        isolate=False,
        progress=progress,
    )
    for (row, _), m in zip(ok, measured, strict=True):
        row["time_ms"] = m.median_ms
    reruns = sorted((m.rerun_pct, m.model) for m in measured if m.rerun_pct is not None)
    result.time_cast = TimeCast(
        threads=measured[0].threads,
        busy=sum(1 for m in measured if m.busy),
        timed=len(measured),
        budget_s=timing.QUICK.max_time,
        cpu=environment.cpu_model(),
        cores=environment.usable_cores(),
        batch=result.batch,
        rounds=timing.QUICK.rounds,
        rerun_pct=reruns[len(reruns) // 2][0] if reruns else None,
        widest_pct=reruns[-1][0] if reruns else None,
        widest_model=reruns[-1][1] if reruns else None,
    )
