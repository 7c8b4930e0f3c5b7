"""Many models and a thread sweep: interleaved rounds, record a failure and go on, save after each, resume.

A bulk run never loses what it measured: a model that fails (build, forward, worker crash, out of memory, an
unsupported setting) becomes a `Failure` row with its error, the run goes on, and `checkpoint` sees every row after
every model, so a killed run keeps what it finished and `previous` rows (from that file) are not measured again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from zoobench.errors import ZooError, first_line
from zoobench.output.progress import SILENT, Progress
from zoobench.registry import ModelSpec
from zoobench.timing.baseline import measured, read_result
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


def _key(row: dict) -> tuple[object, object, object, object]:
    return row.get("model"), row.get("threads"), row.get("backend", "eager"), row.get("batch", 1)


def merge_rows(previous: Sequence[dict], results: Sequence[Result]) -> list[dict]:
    """The previous rows in their order, each replaced by a new result for the same model and threads (a retried
    failure), then the new results: nothing of the previous file is dropped."""
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
    isolate: bool = True,
    progress: Progress = SILENT,
    keep_going: bool = False,
    show_warnings: bool = False,
    previous: Sequence[dict] = (),
    checkpoint: Callable[[list[dict]], None] | None = None,
    open_session: Callable | None = None,
) -> list[Result]:
    """Every model at every thread count and batch size (on each of `backends`), their rounds interleaved (A1 B1 A2
    B2 …), each session in a fresh process unless isolate=False; the results in model-major order.

    Each finished measurement goes to `progress` as `advance(label=model, result=measurement)`, its warnings as
    messages when `show_warnings`. keep_going: over several measurements, a failure is reported (one error message
    naming the model) and returned as a `Failure`, and the run goes on; a single measurement's failure, or any
    failure without keep_going, raises. Measurements with a row in `previous` (model, threads, no error) are
    skipped; `checkpoint(rows)` gets `merge_rows(previous, results so far)` after every measurement.
    `open_session` replaces the sessions (tests pass fake ones).
    """
    config.validate()
    counts = list(threads) if threads else [config.threads or default_threads()]
    done = {_key(r) for r in previous if measured(r)}
    names = list(backends) if backends else [config.backend]  # a backend sweep, like a thread sweep
    sizes = list(batches) if batches else [config.batch]  # and a batch sweep: one row per model x threads x batch
    todo = [(spec, n, b, k) for spec in specs for b in names for n in counts for k in sizes
            if (spec.name, n, b, k) not in done]  # fmt: skip
    total = len(specs) * len(counts) * len(names) * len(sizes)
    if len(todo) < total:
        progress.message("note", f"resuming: {total - len(todo)} of {total} measurement(s) already saved")
    keep_going = keep_going and total > 1
    flops: dict[str, int | ZooError] = {}  # counted once per model, not once per thread count
    entries = [Entry(spec, replace(config, threads=n, backend=b, batch=k)) for spec, n, b, k in todo]
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
    """The batch with the most images/s of one model at one thread count (and backend), against the runner-up."""

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

    def to_dict(self) -> dict:
        return asdict(self)


def best_batches(rows: Sequence[dict | Measurement]) -> list[BestBatch]:
    """Per model, thread count and backend measured at two or more batch sizes: the best batch (highest images/s)
    and whether its CI overlaps the next best's. Failed rows are skipped; rows without an images/s CI (older files)
    count as their point value."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        row = r.to_dict() if isinstance(r, Measurement) else r
        if measured(row) and row.get("images_per_s") is not None:
            groups.setdefault((row["model"], row["threads"], row.get("backend", "eager")), []).append(row)
    out = []
    for (model, threads, backend), group in groups.items():
        if len({row.get("batch", 1) for row in group}) < 2:
            continue
        best, runner = sorted(group, key=lambda row: -row["images_per_s"])[:2]
        low = best.get("images_per_s_ci_low") or best["images_per_s"]
        high = best.get("images_per_s_ci_high") or best["images_per_s"]
        runner_high = runner.get("images_per_s_ci_high") or runner["images_per_s"]
        out.append(BestBatch(model, threads, backend, best.get("batch", 1), best["images_per_s"], low, high,
                             runner.get("batch", 1), runner["images_per_s"], runner_high >= low))  # fmt: skip
    return out
