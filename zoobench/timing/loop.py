"""The measuring loop on any callable: warm-up until timings settle, calibrated blocks, adaptive stop. No torch.

Protocol (docs/methodology.md): single warm-up calls until timings settle; then timed *runs*, each a block of calls
calibrated to last long enough that reading the clock costs nothing measurable; stop when the 95 % confidence
interval of the median is within ±1 % or when the per-model budget is spent, and say which. One run gives one
sample: the block's time / its calls. The clock is injectable, so tests drive the loop with a fake one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zoobench.errors import ZooError
from zoobench.timing.stats import Stats, ci_of_median

# Why a measurement stopped.
STOP_CI = "ci"  # the 95 % CI of the median reached ±rel_ci
STOP_BUDGET = "max_time"  # the per-model budget was spent first
STOP_RUNS = "max_runs"  # the run cap was reached (a safety net, and handy in tests)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Policy:
    """How long and how finely to measure one model."""

    max_time: float = 6.0  # budget per model in seconds: warm-up + runs (not build or compile); --all in < 15 min
    rel_ci: float = 0.01  # stop once the 95 % CI of the median is within ±1 % of it
    min_runs: int = 10  # the CI is not looked at before this many runs
    floor_runs: int = 3  # always take this many timed runs, even past the budget (huge models, tiny budgets)
    max_runs: int = 100_000
    warmup_min_calls: int = 3
    warmup_min_time: float = 0.25  # seconds
    warmup_window: int = 2  # settled when the mean of the last `window` calls ...
    warmup_settle: float = 0.05  # ... is no more than 5 % below the mean of the `window` before them
    warmup_share: float = 0.4  # warm-up stops unsettled after this share of max_time
    min_block_time: float = 0.01  # a run lasts at least 10 ms ...
    overhead_factor: float = 1000.0  # ... and at least 1000x the clock's own overhead (< 0.1 % error)

    def validate(self) -> None:
        if not (self.max_time > 0 and math.isfinite(self.max_time)):
            raise ZooError(f"max_time must be a positive number of seconds, got {self.max_time}")
        if not 0 < self.rel_ci < 1:
            raise ZooError(f"rel_ci (the CI target) must be between 0 and 1, got {self.rel_ci}")


# Time_cast in `zoobench profile`: about a second per model including warm-up, so the whole zoo takes minutes even
# on a loaded machine (one run is enough to stop; a busy machine is flagged in the footnote).
QUICK = Policy(max_time=1.0, warmup_min_calls=2, warmup_min_time=0.1, floor_runs=1)


@dataclass(frozen=True)
class Timing:
    """Raw outcome of `time_callable`: seconds per call, one sample per run."""

    samples: list[float]
    calls_per_run: int
    warmup: list[float]  # seconds of each warm-up call, excluded from the samples
    warmup_settled: bool
    stop: str
    elapsed: float  # seconds from the first warm-up call to the end of the last run
    timer_overhead: float


def timer_overhead(clock: Clock, reads: int = 64) -> float:
    """Median cost of one clock read."""
    stamps = [clock() for _ in range(reads)]
    return float(np.median(np.diff(stamps)))


def _settled(calls: list[float], policy: Policy) -> bool:
    w = policy.warmup_window
    if len(calls) < 2 * w:
        return False
    last, before = sum(calls[-w:]) / w, sum(calls[-2 * w : -w]) / w
    return last >= (1 - policy.warmup_settle) * before


def time_callable(
    fn: Callable[[], object],
    *,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
    policy: Policy = Policy(),
) -> Timing:
    """Warm up, calibrate the block size, then time blocks until the median is pinned down or the budget is spent.

    `sync` runs before every clock read (torch.cuda.synchronize on a GPU), so queued work is inside the region timed.
    """
    sync = sync or (lambda: None)
    overhead = max(0.0, timer_overhead(clock))
    sync()
    start = clock()
    warm: list[float] = []
    while True:
        sync()
        t0 = clock()
        fn()
        sync()
        t1 = clock()
        warm.append(t1 - t0)
        spent = t1 - start
        if len(warm) >= policy.warmup_min_calls and spent >= policy.warmup_min_time and _settled(warm, policy):
            settled = True
            break
        if spent >= policy.warmup_share * policy.max_time:
            settled = False
            break

    per_call = min(warm[-policy.warmup_window :])
    block = max(policy.min_block_time, policy.overhead_factor * overhead)
    number = max(1, math.ceil(block / per_call)) if per_call > 0 else 1

    samples: list[float] = []
    while True:
        sync()
        t0 = clock()
        for _ in range(number):
            fn()
        sync()
        t1 = clock()
        samples.append((t1 - t0) / number)
        if len(samples) >= policy.min_runs and ci_of_median(samples)[2] <= policy.rel_ci:
            stop = STOP_CI
            break
        if t1 - start >= policy.max_time and len(samples) >= policy.floor_runs:
            stop = STOP_BUDGET
            break
        if len(samples) >= policy.max_runs:
            stop = STOP_RUNS
            break
    return Timing(samples, number, warm, settled, stop, t1 - start, overhead)


def stability_warnings(stats: Stats, timing: Timing, policy: Policy) -> list[str]:
    """pyperf-style warnings: a result that looks unstable says so."""
    out = []
    ms = 1e3
    if stats.mean > 0 and stats.std > 0.10 * stats.mean:
        out.append(
            f"unstable: the standard deviation ({stats.std * ms:.3g} ms) is {100 * stats.std / stats.mean:.0f} % "
            f"of the mean ({stats.mean * ms:.3g} ms)"
        )
    if stats.mean > 0 and stats.min < 0.5 * stats.mean:
        out.append(
            f"the minimum ({stats.min * ms:.3g} ms) is {100 * (1 - stats.min / stats.mean):.0f} % below the mean"
        )
    if stats.mean > 0 and stats.max > 1.5 * stats.mean:
        out.append(
            f"the maximum ({stats.max * ms:.3g} ms) is {100 * (stats.max / stats.mean - 1):.0f} % above the mean"
        )
    if timing.stop == STOP_BUDGET:
        out.append(
            f"stopped by --max-time ({policy.max_time:g} s) with the 95 % CI of the median at "
            f"±{100 * stats.ci_rel:.1f} % (target ±{100 * policy.rel_ci:g} %)"
        )
    if stats.runs < policy.min_runs:
        out.append(f"only {stats.runs} runs: the CI of the median is the sample range")
    if not timing.warmup_settled:
        out.append(f"warm-up did not settle within {policy.warmup_share * policy.max_time:.3g} s")
    return out
