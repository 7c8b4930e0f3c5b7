"""Many models and sweeps of their settings: interleaved rounds, record a failure and go on, save after each, resume.

A bulk run never loses what it measured: a model that fails (build, forward, worker crash, out of memory, an
unsupported setting) becomes a `Failure` row with its error, the run goes on, and `checkpoint` sees every row after
every model, so a killed run keeps what it finished and `previous` rows (from that file) are not measured again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from zoobench.errors import ZooError, first_line
from zoobench.output.progress import SILENT, Progress
from zoobench.registry import ModelSpec
from zoobench.timing.baseline import ROW_DEFAULTS, SWEEPS, measured, read_result
from zoobench.timing.config import DEFAULT_CONFIG, BenchConfig
from zoobench.timing.inprocess import (
    Entry,
    Measurement,
    Setting,
    count_flops,
    local_opener,
    measure_entries,
    measure_model,
    resolution_of,
)
from zoobench.timing.machine import default_threads
from zoobench.timing.worker import measure_isolated, remote_opener


@dataclass(frozen=True)
class Failure(Setting):
    """A model that could not be measured at one setting: the row says which, and why (one line)."""

    channels_last: bool
    compiled: bool
    isolation: str
    seed: int
    error: str  # the first line of the error, without the model's name (the row's model column has it)
    backend: str = "eager"  # zoobench.backends: a backend that could not take the model fails its row only
    precision: str = "fp32"

    def to_dict(self) -> dict:
        return asdict(self)


Result = Measurement | Failure


def _failure(spec: ModelSpec, config: BenchConfig, threads: int, isolate: bool, exc: ZooError) -> Failure:
    text = first_line(exc)
    for sep in (": ", " "):  # "resnet18: build: ..." or "resnet18 failed on cpu ...": the row names the model
        if text.startswith(spec.name + sep):
            text = text[len(spec.name) + len(sep) :]
            break
    return Failure(
        model=spec.name,
        device=config.device,
        dtype=config.dtype,
        batch=config.batch,
        resolution=resolution_of(spec, config),
        threads=threads,
        channels_last=config.channels_last,
        compiled=config.compile,
        isolation="subprocess" if isolate else "in-process",
        seed=config.seed,
        error=text,
        backend=config.backend,
        precision=config.precision,
    )


def measure(
    spec: ModelSpec, config: BenchConfig = DEFAULT_CONFIG, *, isolate: bool = True, flops: int | None = None
) -> Measurement:
    """One model: in a fresh subprocess by default (pyperf's isolation), else in this process."""
    if isolate:
        return measure_isolated(spec, config, flops=flops)
    return measure_model(spec, config, flops=flops)


def _key(row: dict) -> tuple[object, ...]:
    """A row's model and swept settings (SWEEPS): what resuming and merging match on."""
    return (row.get("model"), *(row.get(f, ROW_DEFAULTS.get(f)) for f in SWEEPS))


def grid(config: BenchConfig, sweep: Mapping[str, Sequence[object] | None] | None = None) -> list[dict]:
    """The settings of one model's rows: every combination of the swept fields (SWEEPS), each field's values from
    `sweep` (repeats dropped) or else config's one value, in SWEEPS order (the last field varies fastest)."""
    sweep = {f: v for f, v in (sweep or {}).items() if v is not None}
    if unknown := sorted(set(sweep) - set(SWEEPS)):
        raise ZooError(f"sweep takes {', '.join(SWEEPS)}, not {', '.join(unknown)}")
    axes = {f: list(dict.fromkeys(sweep.get(f) or [getattr(config, f)])) for f in SWEEPS}
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def merge_rows(previous: Sequence[dict], results: Sequence[Result]) -> list[dict]:
    """The previous rows in their order, each replaced by a new result for the same model and swept settings (a
    retried failure), then the new results: nothing of the previous file is dropped."""
    rows = [dict(r) for r in previous]
    where = {_key(r): i for i, r in enumerate(rows)}
    for result in results:
        row = result.to_dict()
        if _key(row) in where:
            rows[where[_key(row)]] = row
        else:
            where[_key(row)] = len(rows)
            rows.append(row)
    return rows


def failed_models(results: Sequence[Result]) -> list[str]:
    return [r.model for r in results if isinstance(r, Failure)]


def load_previous(path: Path, config: BenchConfig) -> list[dict]:
    """Rows of a saved run to resume: [] when `path` does not exist yet; ZooError when it is not a bench result or
    was measured with other settings (its `config` differs), so that nothing unlike is merged or overwritten."""
    path = Path(path)
    where = f"{str(path)!r}"
    if not path.exists():
        return []
    doc = read_result(path, where)
    rows, saved = doc.get("rows"), doc.get("config")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ZooError(f"cannot resume {where}: it has no list of rows")
    if not isinstance(saved, dict):
        raise ZooError(f"cannot resume {where}: it does not record its settings ('config')")
    now = config.to_dict()
    saved = {**{k: v for k, v in DEFAULT_CONFIG.to_dict().items() if k not in saved}, **saved}  # older: defaults
    if saved != now:
        flat_saved, flat_now = _flatten(saved), _flatten(now)
        changed = [k for k in sorted(flat_saved.keys() | flat_now.keys()) if flat_saved.get(k) != flat_now.get(k)]
        diff = ", ".join(f"{k} {flat_saved.get(k)} -> {flat_now.get(k)}" for k in changed[:4])
        raise ZooError(f"cannot resume {where}: it was measured with other settings ({diff}); use the same ones")
    return rows


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def bench(
    specs: Sequence[ModelSpec],
    config: BenchConfig = DEFAULT_CONFIG,
    *,
    threads: Sequence[int] | None = None,
    backends: Sequence[str] | None = None,
    batches: Sequence[int] | None = None,
    sweep: Mapping[str, Sequence[object] | None] | None = None,
    isolate: bool = True,
    progress: Progress = SILENT,
    keep_going: bool = False,
    show_warnings: bool = False,
    previous: Sequence[dict] = (),
    checkpoint: Callable[[list[dict]], None] | None = None,
    open_session: Callable | None = None,
) -> list[Result]:
    """Every model at every setting of the sweep (`grid`: each backend, dtype, layout, thread count and batch size;
    `threads`, `backends` and `batches` are shorthands for those fields of `sweep`, which also takes `dtype` and
    `channels_last`), their rounds interleaved (A1 B1 A2 B2 …), each session in a fresh process unless
    isolate=False; the results in model-major order.

    Each finished measurement goes to `progress` as `advance(label=model, result=measurement)`, its warnings as
    messages when `show_warnings`. keep_going: over several measurements, a failure is reported (one error message
    naming the model) and returned as a `Failure`, and the run goes on; a single measurement's failure, or any
    failure without keep_going, raises. Measurements with a row in `previous` (model and swept settings, no error)
    are skipped; `checkpoint(rows)` gets `merge_rows(previous, results so far)` after every measurement.
    `open_session` replaces the sessions (tests pass fake ones).
    """
    config.validate()
    sweep = {"threads": threads, "backend": backends, "batch": batches, **(sweep or {})}
    if not sweep["threads"] and config.threads is None:
        sweep["threads"] = [default_threads()]
    settings = grid(config, sweep)
    for setting in settings:  # every setting of the sweep, before any work
        replace(config, **setting).validate()
    done = {_key(r) for r in previous if measured(r)}
    todo = [(spec, s) for spec in specs for s in settings if (spec.name, *s.values()) not in done]
    total = len(specs) * len(settings)
    if len(todo) < total:
        progress.message("note", f"resuming: {total - len(todo)} of {total} measurement(s) already saved")
    keep_going = keep_going and total > 1
    flops: dict[str, int | ZooError] = {}  # counted once per model, not once per thread count
    entries = [Entry(spec, replace(config, **setting)) for spec, setting in todo]
    results: dict[int, Result] = {}
    task = progress.task("bench", total=len(todo), unit="items")

    def finished(index: int, result: Measurement | ZooError) -> None:
        e = entries[index]
        if isinstance(result, ZooError):
            failure = _failure(e.spec, e.config, e.config.threads or 1, isolate, result)
            results[index] = failure
            if keep_going:
                progress.message("error", f"{e.spec.name}: {failure.error}")
            task.advance()
        else:
            results[index] = result
            task.advance(label=e.spec.name, result=result)
            for w in result.warnings if show_warnings else ():
                progress.message("warning", f"{e.spec.name}: {w}")
        if checkpoint is not None:
            checkpoint(merge_rows(previous, [results[i] for i in sorted(results)]))

    opener = open_session or (remote_opener() if isolate else local_opener())
    try:
        measure_entries(entries, opener, isolation="subprocess" if isolate else "in-process",
                        fail_fast=not keep_going, done=finished,
                        flops_of=lambda e: _flops(flops, e.spec, config))  # fmt: skip
    finally:
        task.close()
    return [results[i] for i in sorted(results)]


def _flops(cache: dict[str, int | ZooError], spec: ModelSpec, config: BenchConfig) -> int:
    """FLOPs per image of a model, counted (or refused) once however many thread counts it is measured at."""
    if spec.name not in cache:
        try:
            cache[spec.name] = count_flops(spec, resolution_of(spec, config))
        except ZooError as exc:
            cache[spec.name] = exc
    found = cache[spec.name]
    if isinstance(found, ZooError):
        raise ZooError(str(found))
    return found


@dataclass(frozen=True)
class BestBatch:
    """The batch with the most images/s of one model at one setting of the other sweeps, against the runner-up."""

    model: str
    threads: int
    backend: str
    batch: int
    images_per_s: float
    ci_low: float  # the 95 % CI of its images/s
    ci_high: float
    next_batch: int
    next_images_per_s: float
    overlaps: bool  # the runner-up's CI reaches into the best one's: the order of the two is not established
    dtype: str = "fp32"
    channels_last: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def best_batches(rows: Sequence[dict | Measurement]) -> list[BestBatch]:
    """Per model and setting of the other sweeps (thread count, backend, dtype, layout) measured at two or more
    batch sizes: the best batch (highest images/s) and whether its CI overlaps the next best's. Failed rows are
    skipped; rows without an images/s CI (older files) count as their point value."""
    fields = [f for f in SWEEPS if f != "batch"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        row = r.to_dict() if isinstance(r, Measurement) else r
        if measured(row) and row.get("images_per_s") is not None:
            key = (row["model"], *(row.get(f, ROW_DEFAULTS.get(f)) for f in fields))
            groups.setdefault(key, []).append(row)
    out = []
    for key, group in groups.items():
        if len({row.get("batch", 1) for row in group}) < 2:
            continue
        setting = dict(zip(("model", *fields), key, strict=True))
        best, runner = sorted(group, key=lambda row: -row["images_per_s"])[:2]
        low = best.get("images_per_s_ci_low") or best["images_per_s"]
        high = best.get("images_per_s_ci_high") or best["images_per_s"]
        runner_high = runner.get("images_per_s_ci_high") or runner["images_per_s"]
        out.append(BestBatch(**setting, batch=best.get("batch", 1), images_per_s=best["images_per_s"], ci_low=low,
                             ci_high=high, next_batch=runner.get("batch", 1), next_images_per_s=runner["images_per_s"],
                             overlaps=runner_high >= low))  # fmt: skip
    return out
