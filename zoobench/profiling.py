"""Profile rows: params, MACs/FLOPs, published accuracy and the quick Time_cast latency, per model.

`zoobench.profile(...)` (the Python API) and `zoobench profile` (the CLI) both call `profile()` here, so they give
the same rows. A model that fails is recorded as a row with its `error` and the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass
class Profile:
    rows: list[dict]
    resolution: int | None  # None: each model's native resolution
    time_cast: TimeCast | None = None  # None: not measured (time=False)
    failed: list[str] = field(default_factory=list)  # models whose row holds an error instead of figures


def count_row(spec: ModelSpec, resolution: int | None, compare_seed: bool = False) -> dict:
    """The counted figures of one model (never timed): raises ZooError when the model cannot be counted."""
    c = complexity.measure(spec, resolution)
    acc = spec.accuracy
    row = {
        "model": spec.name,
        "family": spec.family,
        "year": spec.year,
        "resolution": c.resolution,
        "batch": 1,
        "params": c.params,
        "macs": c.macs,
        "flops": c.flops,
        "size_mb": c.size_mb,
        "time_ms": None,  # filled only by a real measurement
        "top1": acc.top1 if acc else None,
        "top5": acc.top5 if acc else None,
        "accuracy_source": acc.source if acc else None,
    }
    if compare_seed:
        row.update(seed_comparison(spec, c))
    return row


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


def profile(
    specs: Sequence[ModelSpec],
    resolution: int | None = 224,
    *,
    compare_seed: bool = False,
    time: bool = True,
    progress: Progress = SILENT,
) -> Profile:
    """Params, MACs and FLOPs per image (batch 1) at `resolution` (None: each model's native one), plus the quick
    Time_cast latency unless `time=False`. Over several models, one that fails becomes a row with its `error`
    (reported through `progress`) and the others go on; a single model's failure raises."""
    if resolution is not None and resolution <= 0:
        raise ZooError(f"resolution must be a positive number of pixels, got {resolution}")
    result = Profile([], resolution)
    task = progress.task("profile", total=len(specs))
    for spec in specs:
        try:
            row = count_row(spec, resolution, compare_seed)
        except ZooError as exc:
            if len(specs) == 1:
                raise  # one model: the error itself is the answer, not a row and a summary
            row = _failed_row(spec, resolution, str(exc))
            result.failed.append(spec.name)
            progress.message("error", str(exc))
        result.rows.append(row)
        task.advance(label=spec.name)
    task.close()
    if time:
        _fill_time_cast(result, specs, progress)
    return result


def _fill_time_cast(result: Profile, specs: Sequence[ModelSpec], progress: Progress) -> None:
    """Time_cast: a quick in-process latency median per counted model (timing.QUICK budget)."""
    from zoobench import environment, timing

    ok = [(row, spec) for row, spec in zip(result.rows, specs, strict=True) if "error" not in row]
    if not ok:
        return
    measured = timing.bench(
        [spec for _, spec in ok],
        timing.BenchConfig(resolution=result.resolution, policy=timing.QUICK),
        isolate=False,
        progress=progress,
    )
    for (row, _), m in zip(ok, measured, strict=True):
        row["time_ms"] = m.median_ms
    result.time_cast = TimeCast(
        threads=measured[0].threads,
        busy=sum(1 for m in measured if m.busy),
        timed=len(measured),
        budget_s=timing.QUICK.max_time,
        cpu=environment.cpu_model(),
        cores=environment.usable_cores(),
    )
