"""The measuring loop on any callable: warm-up until timings settle, then single timed calls. No torch.

Protocol (docs/methodology.md): single warm-up calls until timings settle; then timed samples, each ONE call unless
a call is shorter than the clock can time well (then a block of calls, and a sample is the block's time / its
calls). `time_callable` is one such measurement with the classic stop rule (the CI of the median within ±rel_ci, or
the budget spent); `warm_up` and `time_samples` are its two halves, which a round of `zoobench bench` uses apart.
The clock is injectable, so tests drive the loop with a fake one.
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

# What a sample is (docs/methodology.md): latency (MLPerf's SingleStream) synchronises after every call, so each call
# is timed alone; throughput issues a sample's calls back to back and synchronises once, keeping the queue full.
LATENCY = "latency"
THROUGHPUT = "throughput"
MODES = (LATENCY, THROUGHPUT)
QUEUE_CALLS = 8  # throughput mode on a device that queues work (CUDA): at least this many calls per sample

Clock = Callable[[], float]


@dataclass(frozen=True)
class Policy:
    """How long and how finely to measure one model (or one setting of it)."""

    max_time: float = 6.0  # budget per model in seconds: warm-up + rounds (not build or compile), all processes
    rounds: int = 6  # timed rounds spread over the budget ...
    processes: int = 2  # ... in this many fresh worker processes (rounds split evenly between them)
    rel_ci: float = 0.01  # stop once the 95 % CI of the median is within ±1 % of it
    min_rounds: int = 4  # the between-rounds CI is not looked at before this many rounds (and two processes)
    min_runs: int = 10  # time_callable: the CI is not looked at before this many samples
    floor_runs: int = 3  # time_callable: always take this many samples, even past the budget (huge models)
    max_runs: int = 100_000
    warmup_min_calls: int = 3
    warmup_min_time: float = 0.25  # seconds
    warmup_window: int = 2  # settled when the mean of the last `window` calls ...
    warmup_settle: float = 0.05  # ... is no more than 5 % below the mean of the `window` before them
    warmup_share: float = 0.4  # warm-up stops unsettled after this share of a process's budget
    rewarm_calls: int = 2  # untimed calls before each later round (other models ran in between: cold caches)
    min_sample_time: float = 1e-5  # a call shorter than this is timed in blocks (a floor under a fake overhead) ...
    overhead_factor: float = 1000.0  # ... and so is one shorter than 1000x the clock's own overhead (< 0.1 % error)

    def validate(self) -> None:
        if not (self.max_time > 0 and math.isfinite(self.max_time)):
            raise ZooError(f"max_time must be a positive number of seconds, got {self.max_time}")
        if not 0 < self.rel_ci < 1:
            raise ZooError(f"rel_ci (the CI target) must be between 0 and 1, got {self.rel_ci}")
        if self.processes < 1:
            raise ZooError(f"processes must be at least 1, got {self.processes}")
        if self.rounds < self.processes:
            raise ZooError(f"rounds must be at least processes ({self.processes}), got {self.rounds}")


# Time_cast in `zoobench profile`: about a second per model including warm-up, in one process, in 3 rounds (the
# fewest that give a between-rounds CI at all), so the whole zoo takes minutes even on a loaded machine.
QUICK = Policy(max_time=1.0, rounds=3, processes=1, warmup_min_calls=2, warmup_min_time=0.1, floor_runs=1)


@dataclass(frozen=True)
class Timing:
    """Raw outcome of `time_callable`: seconds per call, one sample per call (or per block)."""

    samples: list[float]
    calls_per_run: int
    warmup: list[float]  # seconds of each warm-up call, excluded from the samples
    warmup_settled: bool
    stop: str
    elapsed: float  # seconds from the first warm-up call to the end of the last sample
    timer_overhead: float


@dataclass(frozen=True)
class Warmup:
    calls: list[float]  # seconds of each warm-up call
    settled: bool
    calls_per_sample: int  # 1, or a block where one call is too short to time on its own
    timer_overhead: float
    start: float  # clock reading before the first warm-up call
    end: float  # ... and after the last


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


def calls_per_sample(per_call: float, overhead: float, policy: Policy) -> int:
    """1 (each call timed on its own) unless a call is shorter than the clock can time well; then a block."""
    shortest = max(policy.min_sample_time, policy.overhead_factor * overhead)
    if per_call >= shortest:
        return 1
    return max(1, math.ceil(shortest / per_call)) if per_call > 0 else 1


def sample_calls(number: int, mode: str, queue: int) -> int:
    """Calls per sample: the calibrated `number`, raised to `queue` in throughput mode (1 where nothing queues)."""
    return max(number, queue) if mode == THROUGHPUT else number


def timed(
    fn: Callable[[], object], number: int, clock: Clock, sync: Callable[[], None], mode: str = LATENCY
) -> tuple[float, float]:
    """(seconds per call, clock after) of `number` calls: `sync` before each clock read puts queued (GPU) work inside
    the region; latency mode also synchronises after every call (each call alone), throughput mode only at the end."""
    each = mode != THROUGHPUT
    sync()
    t0 = clock()
    for _ in range(number):
        fn()
        if each:
            sync()
    if not each:
        sync()
    t1 = clock()
    return (t1 - t0) / number, t1


def warm_up(
    fn: Callable[[], object], *, clock: Clock, sync: Callable[[], None], policy: Policy, limit: float
) -> Warmup:
    """Single timed calls until settled (or `limit` seconds, then unsettled); then the calls per sample."""
    overhead = max(0.0, timer_overhead(clock))
    sync()
    start = clock()
    calls: list[float] = []
    while True:
        took, now = timed(fn, 1, clock, sync)
        calls.append(took)
        spent = now - start
        if len(calls) >= policy.warmup_min_calls and spent >= policy.warmup_min_time and _settled(calls, policy):
            settled = True
            break
        if spent >= limit:
            settled = False
            break
    number = calls_per_sample(min(calls[-policy.warmup_window :]), overhead, policy)
    return Warmup(calls, settled, number, overhead, start, now)


def time_samples(
    fn: Callable[[], object],
    number: int,
    *,
    clock: Clock,
    sync: Callable[[], None],
    until: float,
    min_samples: int = 1,
    max_samples: int = 100_000,
    rel_ci: float | None = None,
    min_for_ci: int = 10,
    mode: str = LATENCY,
) -> tuple[list[float], str, float]:
    """Samples (seconds per call) until the clock passes `until` with >= min_samples, or the CI of their median is
    within ±rel_ci (from min_for_ci samples on), or max_samples: (samples, stop reason, clock at the end).
    `mode`: how a sample's calls are synchronised (`timed`)."""
    samples: list[float] = []
    while True:
        took, now = timed(fn, number, clock, sync, mode)
        samples.append(took)
        if rel_ci is not None and len(samples) >= min_for_ci and ci_of_median(samples)[2] <= rel_ci:
            return samples, STOP_CI, now
        if now >= until and len(samples) >= min_samples:
            return samples, STOP_BUDGET, now
        if len(samples) >= max_samples:
            return samples, STOP_RUNS, now


def time_callable(
    fn: Callable[[], object],
    *,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
    policy: Policy = Policy(),
) -> Timing:
    """Warm up, calibrate, then time samples until the median is pinned down or the budget is spent (one round).

    `sync` runs before every clock read (torch.cuda.synchronize on a GPU), so queued work is inside the region timed.
    """
    sync = sync or (lambda: None)
    warm = warm_up(fn, clock=clock, sync=sync, policy=policy, limit=policy.warmup_share * policy.max_time)
    samples, stop, end = time_samples(
        fn,
        warm.calls_per_sample,
        clock=clock,
        sync=sync,
        until=warm.start + policy.max_time,
        min_samples=policy.floor_runs,
        max_samples=policy.max_runs,
        rel_ci=policy.rel_ci,
        min_for_ci=policy.min_runs,
    )
    return Timing(samples, warm.calls_per_sample, warm.calls, warm.settled, stop, end - warm.start, warm.timer_overhead)


def stability_warnings(stats: Stats, timing: Timing, policy: Policy) -> list[str]:
    """pyperf-style warnings for one `time_callable` result (bench rows get theirs from rounds.warnings)."""
    out = spread_warnings(stats)
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


def spread_warnings(stats: Stats) -> list[str]:
    """The distribution looks unstable: a large standard deviation, or a minimum or maximum far from the mean."""
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
    return out
