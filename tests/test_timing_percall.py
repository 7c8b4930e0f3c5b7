"""Per-call latency (issue 16): p50/p90/p99/max come from single timed calls, on a fake clock; blocks only where a
call is shorter than the clock can time well."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from zoobench import timing
from zoobench.timing.loop import Policy


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_tail_percentiles_are_those_of_single_calls():
    clock = FakeClock()
    pattern = [0.001] * 9 + [0.010]  # every tenth call is a 10 ms hiccup
    durations = itertools.cycle(pattern)

    def fn() -> None:
        clock.t += next(durations)

    policy = Policy(max_time=1e9, warmup_min_calls=4, warmup_min_time=0.0, min_runs=10**9, max_runs=2000)
    t = timing.time_callable(fn, clock=clock, policy=policy)
    assert t.calls_per_run == 1 and len(t.samples) == 2000
    s = timing.summarize(t.samples)
    xs = np.asarray(t.samples)
    assert s.max == pytest.approx(0.010)  # a block mean would have smeared the hiccup to ~1.9 ms
    assert s.p99 == pytest.approx(np.percentile(xs, 99)) and s.p99 == pytest.approx(0.010)
    assert s.p90 == pytest.approx(np.percentile(xs, 90)) and s.median == pytest.approx(0.001)
    assert s.p10 == pytest.approx(0.001)
    assert sorted(set(np.round(xs, 9))) == [0.001, 0.010]  # every sample is one call, never a mix


def test_a_call_too_short_for_the_clock_is_timed_in_blocks():
    policy = Policy(min_sample_time=1e-4, overhead_factor=1000.0)
    assert timing.calls_per_sample(1e-3, 50e-9, policy) == 1
    assert timing.calls_per_sample(2e-5, 50e-9, policy) == 5  # 20 us calls, 100 us samples
    assert timing.calls_per_sample(1e-3, 2e-6, policy) == 2  # a slow clock (2 us a read): 2 ms samples


def test_measurement_percentiles_are_over_every_call_of_every_round():
    from zoobench.timing.config import BenchConfig
    from zoobench.timing.measurement import SessionInfo, Setting, build
    from zoobench.timing.rounds import Round

    rng = np.random.default_rng(1)
    rounds = [
        Round(i // 2, list(0.01 + 0.001 * rng.random(200)), 1, 0.0, None, None, None, False, []) for i in range(4)
    ]
    info = SessionInfo(1, 1, None, [], 3, 0.0, True, 1.0, None, 1.0, 0, None, "test", None, None)
    m = build(Setting("m", "cpu", "fp32", 1, 32, 1), BenchConfig(threads=1), rounds, [info, info], stop="max_time",
              flops=1, isolation="in-process")  # fmt: skip
    calls = np.concatenate([r.samples for r in rounds]) * 1e3
    assert m.runs == 800 and m.calls_per_run == 1 and m.mode == "latency"
    for key, q in (("p10_ms", 10), ("p90_ms", 90), ("p99_ms", 99), ("median_ms", 50)):
        assert getattr(m, key) == pytest.approx(np.percentile(calls, q)), key
    assert m.max_ms == pytest.approx(calls.max())
