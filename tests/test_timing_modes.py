"""Issue 16: latency vs throughput mode (sync/clock order on a fake clock and a fake sync), the batch sweep and its
best batch, the idle-core default thread count on a fake probe."""

from __future__ import annotations

import pytest
from benchnets import recording

from zoobench import registry, timing
from zoobench.errors import ZooError
from zoobench.timing import loop
from zoobench.timing.config import BenchConfig
from zoobench.timing.loop import LATENCY, QUEUE_CALLS, THROUGHPUT, Policy

QUICK = Policy(max_time=0.3, warmup_min_calls=2, warmup_min_time=0.02)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _samples(mode: str, number: int, samples: int = 3) -> list[str]:
    clock = FakeClock()
    events, read, fn, sync = recording(clock, lambda: setattr(clock, "t", clock.t + 0.001))
    timing.time_samples(fn, number, clock=read, sync=sync, until=1e9, max_samples=samples, mode=mode)
    return events


def test_latency_mode_syncs_after_every_call():
    """clock, call, sync, clock for each call: one query at a time, nothing queued behind it."""
    assert _samples(LATENCY, 1) == ["sync", "read", "fn", "sync", "read"] * 3
    # a block of calls too short to time alone still synchronises after each one
    assert _samples(LATENCY, 3, 1) == ["sync", "read", "fn", "sync", "fn", "sync", "fn", "sync", "read"]


def test_throughput_mode_queues_a_samples_calls_and_syncs_once():
    number = loop.sample_calls(1, THROUGHPUT, QUEUE_CALLS)
    assert number == QUEUE_CALLS > 1
    events = _samples(THROUGHPUT, number, 2)
    assert events == (["sync", "read"] + ["fn"] * number + ["sync", "read"]) * 2
    # between a clock read and the next there is exactly one sync after the work, however many calls
    assert events.count("sync") == 4 and events.count("fn") == 2 * number


def test_throughput_mode_samples_are_block_time_per_call():
    clock = FakeClock()
    _, read, fn, sync = recording(clock, lambda: setattr(clock, "t", clock.t + 0.002))
    samples, _, _ = timing.time_samples(fn, 8, clock=read, sync=sync, until=1e9, max_samples=4, mode=THROUGHPUT)
    assert samples == pytest.approx([0.002] * 4)


def test_queue_depth_only_where_work_queues():
    assert loop.sample_calls(5, LATENCY, QUEUE_CALLS) == 5  # latency: the calibrated block, never raised
    assert loop.sample_calls(20, THROUGHPUT, QUEUE_CALLS) == 20
    assert BenchConfig(mode=THROUGHPUT, device="cuda").queue() == QUEUE_CALLS
    assert BenchConfig(mode=THROUGHPUT).queue() == 1  # the cpu: calls are synchronous, per-call samples stay
    assert BenchConfig(device="cuda").queue() == 1


def test_paired_alternation_keeps_the_mode():
    clock = FakeClock()
    events, read, fn, sync = recording(clock, lambda: setattr(clock, "t", clock.t + 0.001))
    timing.alternate([fn, fn], [3, 3], clock=read, sync=sync, until=0.0, mode=THROUGHPUT)
    assert events[: 2 + 3 + 2] == ["sync", "read", "fn", "fn", "fn", "sync", "read"]


def test_unknown_mode_is_refused():
    with pytest.raises(ZooError, match="unknown mode 'fast'; choose one of latency, throughput"):
        BenchConfig(mode="fast").validate()


def test_throughput_measurement_on_the_cpu(monkeypatch):
    spec = registry.get_spec("benchnets:tiny")
    config = BenchConfig(resolution=32, batch=2, threads=1, mode=THROUGHPUT, policy=QUICK)
    m = timing.measure_model(spec, config)
    assert m.mode == THROUGHPUT and m.calls_per_run >= 1
    assert m.images_per_s == pytest.approx(2 / (m.median_ms / 1e3))
    assert m.images_per_s_ci_low == pytest.approx(2 / (m.ci_high_ms / 1e3))
    assert m.images_per_s_ci_high == pytest.approx(2 / (m.ci_low_ms / 1e3))
    assert m.images_per_s_ci_low <= m.images_per_s <= m.images_per_s_ci_high
    # the session asks the config for its queue depth: a queueing device's would raise the calls per sample
    monkeypatch.setattr(BenchConfig, "queue", lambda self: 16)
    assert timing.measure_model(spec, config).calls_per_run >= 16
    assert timing.measure_model(spec, BenchConfig(resolution=32, threads=1, policy=QUICK)).mode == LATENCY
