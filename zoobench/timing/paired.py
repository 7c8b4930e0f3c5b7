"""`--paired`: entries called alternately in one process, call by call; the median of per-pair ratios B/A.

Drift of the machine's speed (seconds to minutes) cancels within a pair of calls microseconds to milliseconds
apart, which is what makes this the method for "is ours as fast as torchvision's" and for any A/B. Pairs alternate
their order (A B, B A, …) so neither entry always runs on caches warmed by the other. The pairs are split into
rounds over the budget; the CI of the ratio comes from the spread between the rounds' median ratios (as for a
latency, timing/rounds.py), so drift of the ratio itself is inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from zoobench.errors import ZooError, describe
from zoobench.output.progress import SILENT, Progress
from zoobench.registry import ModelSpec
from zoobench.timing import machine
from zoobench.timing.config import DEFAULT_CONFIG, BenchConfig, setting_label
from zoobench.timing.loop import LATENCY, Clock, Policy, sample_calls, timed, warm_up
from zoobench.timing.machine import LoadProbe, assess_load, default_threads
from zoobench.timing.stats import between_ci, ci_of_median


@dataclass(frozen=True)
class PairTiming:
    """Seconds per call of every entry in every pair (times[j][i]: entry j in pair i), and each pair's round."""

    times: list[list[float]]
    calls_per_sample: list[int]
    round_of: list[int]
    settled: list[bool]


@dataclass(frozen=True)
class Ratio:
    """One entry against the first: the median per-pair ratio and its 95 % CI (from the spread between rounds)."""

    ratio: float
    ci_low: float
    ci_high: float
    ci_pct: float
    ci_method: str  # "rounds", or "pairs" (one round: order statistics over pairs)
    pairs: int
    round_ratios: list[float]


def alternate(
    fns: Sequence[Callable[[], object]],
    numbers: Sequence[int],
    *,
    clock: Clock,
    sync: Callable[[], None],
    until: float,
    first: int = 0,
    max_pairs: int = 100_000,
    current: list[int] | None = None,
    mode: str = LATENCY,
) -> list[list[float]]:
    """Pairs (one sample of every entry each) until the clock passes `until` (at least one pair): seconds per call
    of entry j in pair i at [j][i]. Pair `first + i` runs in order when even, reversed when odd (ABBA). `mode`:
    how a sample's calls are synchronised (loop.timed)."""
    current = current if current is not None else [0]
    times: list[list[float]] = [[] for _ in fns]
    while True:
        forward = (first + len(times[0])) % 2 == 0
        for j in range(len(fns)) if forward else range(len(fns) - 1, -1, -1):
            current[0] = j
            times[j].append(timed(fns[j], numbers[j], clock, sync, mode)[0])
        if clock() >= until or len(times[0]) >= max_pairs:
            return times


def time_pairs(
    fns: Sequence[Callable[[], object]],
    *,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
    policy: Policy = DEFAULT_CONFIG.policy,
    current: list[int] | None = None,
    mode: str = LATENCY,
    queue: int = 1,
) -> PairTiming:
    """Warm each callable up, then time them alternately, one sample each per pair, for `policy.max_time` seconds
    per entry in `policy.rounds` rounds. `current[0]` names the entry running (so a failure can name it). `mode`
    and `queue`: throughput mode times at least `queue` calls per sample, synchronised once (loop.timed)."""
    sync = sync or (lambda: None)
    current = current if current is not None else [0]
    budget = policy.max_time * len(fns)
    warms = []
    for j, fn in enumerate(fns):
        current[0] = j
        warms.append(warm_up(fn, clock=clock, sync=sync, policy=policy, limit=policy.warmup_share * policy.max_time))
    numbers = [sample_calls(w.calls_per_sample, mode, queue) for w in warms]
    start = clock()
    span = max(0.0, budget - sum(w.end - w.start for w in warms))
    times: list[list[float]] = [[] for _ in fns]
    round_of: list[int] = []
    for r in range(policy.rounds):
        until = start + span * (r + 1) / policy.rounds
        got = alternate(fns, numbers, clock=clock, sync=sync, until=until, first=len(round_of),
                        max_pairs=policy.max_runs - len(round_of), current=current, mode=mode)  # fmt: skip
        for j, xs in enumerate(got):
            times[j] += xs
        round_of += [r] * len(got[0])
        if len(round_of) >= policy.max_runs:
            break
    return PairTiming(times, numbers, round_of, [w.settled for w in warms])


def ratio_of(pt: PairTiming, j: int) -> Ratio:
    """Entry j against entry 0: per-pair ratios, their median, and the between-rounds CI."""
    a, b = np.asarray(pt.times[0]), np.asarray(pt.times[j])
    ratios = b / a
    rounds = np.asarray(pt.round_of)
    by_round = [float(np.median(ratios[rounds == r])) for r in sorted(set(pt.round_of))]
    center = float(np.median(ratios))
    if len(by_round) >= 2:
        low, high, rel = between_ci(by_round, center)
        method = "rounds"
    else:
        low, high, rel = ci_of_median(ratios.tolist())
        method = "pairs"
    return Ratio(center, float(low), float(high), 100 * float(rel), method, len(ratios), by_round)


@dataclass(frozen=True)
class PairedRow:
    """A row of `bench --paired`: one model (B) against the first one named (A), or one setting of a model against
    the first setting of its sweep (`setting` and `reference_setting` say which)."""

    model: str
    reference: str
    ratio: float
    ci_low: float
    ci_high: float
    ci_pct: float
    ci_method: str
    pairs: int
    rounds: int
    round_ratios: list[float]
    median_ms: float
    reference_median_ms: float
    device: str
    dtype: str
    batch: int
    threads: int
    isolation: str
    busy: bool
    warnings: list[str]
    mode: str = LATENCY
    backend: str = "eager"
    setting: str | None = None  # a sweep of one model: B's value of the swept field (e.g. "bf16", "nhwc") ...
    reference_setting: str | None = None  # ... and A's (e.g. "fp32")
    swept: str | None = None  # the field swept: dtype, backend or channels_last

    def to_dict(self) -> dict:
        return asdict(self)


SWEEPABLE = ("dtype", "backend", "channels_last")  # what one model's --paired sweep may vary (not threads)


def _entries(specs, config: BenchConfig, sweep: tuple[str, Sequence[object]] | None):
    """(spec, config, label) per entry: the models at one setting, or one model at each value of the sweep."""
    if sweep is None:
        if len(specs) < 2:
            raise ZooError("paired needs at least two models, or one model and a sweep: the first is A")
        return [(spec, config, None) for spec in specs]
    field_, values = sweep
    if field_ not in SWEEPABLE:
        raise ZooError(f"paired sweeps one of {', '.join(SWEEPABLE)} in one process, not {field_}")
    if len(specs) != 1 or len(values) < 2:
        raise ZooError(f"a paired {field_} sweep takes one model and at least two values")
    return [(specs[0], replace(config, **{field_: v}), setting_label(field_, v)) for v in values]


def _calls(works, configs: list[BenchConfig]):
    """The callables and the context to run them in: one context for all when they share it, else each call in
    its own (a dtype sweep: one autocast per entry, inference mode around all)."""
    import torch

    if len({(c.backend, c.precision, c.dtype) for c in configs}) == 1:
        return [w.fn for w in works], works[0].contexts()

    def own(work):
        def call() -> object:
            with work.contexts():
                return work.fn()

        return call

    return [own(w) for w in works], torch.inference_mode()


def bench_paired(
    specs: Sequence[ModelSpec],
    config: BenchConfig = DEFAULT_CONFIG,
    *,
    sweep: tuple[str, Sequence[object]] | None = None,
    clock: Clock = time.perf_counter,
    load_probe: LoadProbe | None = None,
    progress: Progress = SILENT,
) -> list[PairedRow]:
    """Every model after the first against the first, called alternately in this process (pinned threads); or,
    with `sweep=(field, values)` (dtype, backend or channels_last), one model at every value against the first."""
    from zoobench import environment
    from zoobench.timing.inprocess import _cuda_settings, prepare
    from zoobench.timing.machine import pinned_threads

    config = replace(config, threads=config.threads or default_threads())
    entries = _entries(specs, config, sweep)
    for _, c, _ in entries:
        c.validate()
    load_probe = load_probe or machine.probe_load  # looked up now: tests replace the machine's probe
    cores = environment.usable_cores()
    task = progress.task("bench --paired", total=None)
    with pinned_threads(config.threads) as pinned, _cuda_settings(config):
        works = [prepare(spec, c) for spec, c, _ in entries]
        fns, context = _calls(works, [c for _, c, _ in entries])
        current = [0]
        before = load_probe()
        try:
            with context:
                pt = time_pairs(fns, clock=clock, sync=works[0].sync, policy=config.policy, current=current,
                                mode=config.mode, queue=config.queue())  # fmt: skip
        except (ZooError, KeyboardInterrupt):
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001  (the user's forward: one line naming it)
            raise ZooError(f"{entries[current[0]][0].name}: forward: {describe(exc)}") from exc
        load = assess_load(before, load_probe(), pinned.threads, cores, config.device)
    names = [spec.name + (f" ({label})" if label else "") for spec, _, label in entries]
    warnings = list(load.warnings) + [
        f"warm-up of {name} did not settle" for name, ok in zip(names, pt.settled, strict=True) if not ok
    ]
    rows = []
    a_spec, _, a_label = entries[0]
    for j, (spec, c, label) in enumerate(entries[1:], start=1):
        r = ratio_of(pt, j)
        rows.append(PairedRow(spec.name, a_spec.name, r.ratio, r.ci_low, r.ci_high, r.ci_pct, r.ci_method,
                              r.pairs, len(r.round_ratios), r.round_ratios, 1e3 * float(np.median(pt.times[j])),
                              1e3 * float(np.median(pt.times[0])), c.device, c.dtype, c.batch, pinned.threads,
                              "in-process", load.busy, warnings, c.mode, c.backend, label, a_label,
                              sweep[0] if sweep else None))  # fmt: skip
        task.advance(label=names[j], result=rows[-1])
    task.close()
    return rows
