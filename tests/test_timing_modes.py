"""Issue 16: latency vs throughput mode (sync/clock order on a fake clock and a fake sync), the batch sweep and its
best batch, the idle-core default thread count on a fake probe."""

from __future__ import annotations

import itertools

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


# --- the batch sweep ----------------------------------------------------------------------------------------------


def test_parse_batches_shares_the_thread_parser():
    assert timing.parse_batches(None) is None
    assert timing.parse_batches("1,8,32,8") == [1, 8, 32]
    with pytest.raises(ZooError, match="batch sizes must be at least 1"):
        timing.parse_batches("0")
    with pytest.raises(ZooError, match="batch takes a count or a comma-separated list such as 1,8,32"):
        timing.parse_batches("1,x")


def _row(batch: int, ips: float, low: float, high: float, **kw) -> dict:
    return {"model": "m", "threads": 1, "batch": batch, "images_per_s": ips, "images_per_s_ci_low": low,
            "images_per_s_ci_high": high, "samples_ms": [1.0], **kw}  # fmt: skip


def test_best_batch_per_model_and_threads():
    rows = [_row(1, 100, 95, 105), _row(8, 300, 290, 310), _row(32, 280, 270, 295), _row(8, 50, 45, 55, threads=2)]
    rows += [{"model": "m", "threads": 1, "batch": 64, "error": "out of memory"}, _row(1, 40, 39, 41, threads=2)]
    best = {b.threads: b for b in timing.best_batches(rows)}
    assert best[1].batch == 8 and best[1].next_batch == 32 and best[1].overlaps  # 295 reaches into 290 .. 310
    assert best[2].batch == 8 and best[2].next_batch == 1 and not best[2].overlaps
    assert timing.best_batches([_row(1, 100, 95, 105)]) == []  # one batch: nothing to name


def test_batch_sweep_one_row_per_model_threads_batch(capsys):
    import json

    from clihelp import run_cli

    args = ["bench", "benchnets:tiny", "-r", "32", "-t", "1", "--max-time", "0.2", "--in-process", "-b", "1,4"]
    code, out, err = run_cli(capsys, *args, "--mode", "throughput", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert [(r["batch"], r["threads"], r["mode"]) for r in doc["rows"]] == [(1, 1, THROUGHPUT), (4, 1, THROUGHPUT)]
    [best] = doc["best_batch"]
    assert best["batch"] in (1, 4) and best["model"] == "benchnets:tiny"
    assert any(n.startswith("Best batch: benchnets:tiny, 1 thread(s): batch") for n in doc["notes"])
    code, out, err = run_cli(capsys, *args, "-f", "md")  # Markdown: a footnote (the terminal's table: a note)
    assert code == 0 and "- Best batch: benchnets:tiny, 1 thread(s): batch" in out and "| Batch" in out


def test_api_bench_takes_a_batch_list():
    import zoobench

    config = BenchConfig(resolution=32, threads=1, policy=Policy(max_time=0.1, rounds=2, processes=1))
    rows = zoobench.bench("benchnets:tiny", config, batch=[1, 2], isolate=False)
    assert [r.batch for r in rows] == [1, 2]
    assert [r.batch for r in zoobench.bench("benchnets:tiny", config, batch=3, isolate=False)] == [3]
    with pytest.raises(ZooError, match="batch must be at least 1"):
        zoobench.bench("benchnets:tiny", config, batch=[1, 0], isolate=False)


# --- the default thread count: the cores idle at the start -------------------------------------------------------


def _probe(others_cores: float, own: float = 0.0, wall: float = 0.2):
    """A fake /proc/stat: between the two reads, others used `others_cores` cores and this process `own`."""
    from zoobench.timing.machine import LoadSample

    reads = itertools.count()

    def probe() -> LoadSample:
        t = wall * next(reads)
        return LoadSample(t, 0.0, 100.0 + (others_cores + own) * t, 5.0 + own * t)

    return probe


@pytest.fixture
def two_cores(monkeypatch):
    from zoobench import environment

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(environment, "usable_cores", lambda: 2)
    monkeypatch.setattr(timing.machine.os, "cpu_count", lambda: 2)


@pytest.mark.parametrize(
    ("others", "threads", "reduced"),
    [(0.0, 2, False), (0.3, 2, False), (0.6, 1, True), (1.0, 1, True), (1.9, 1, True), (2.0, 1, True)],
)
def test_default_threads_are_the_idle_cores(two_cores, others, threads, reduced):
    slept = []
    choice = timing.choose_threads(_probe(others, own=0.05), sleep=slept.append)
    assert slept == [timing.IDLE_PROBE_S]  # sampled twice, ~0.2 s apart
    assert (choice.threads, choice.reduced, choice.usable, choice.source) == (threads, reduced, 2, "idle cores")
    assert choice.others_cores == pytest.approx(others)  # our own CPU is not the others'


def test_omp_num_threads_wins_and_is_not_probed(two_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")

    def never():
        raise AssertionError("probed")

    choice = timing.choose_threads(never, sleep=lambda s: None)
    assert (choice.threads, choice.source, choice.reduced) == (3, "OMP_NUM_THREADS", False)


def test_unknown_load_uses_every_usable_core(two_cores):
    from zoobench.timing.machine import LoadSample

    reads = iter([LoadSample(0.0, None, None, 0.0), LoadSample(0.2, None, None, 0.0)])
    choice = timing.choose_threads(lambda: next(reads), sleep=lambda s: None)
    assert (choice.threads, choice.source) == (2, "usable cores")


def test_the_cli_says_when_it_leaves_busy_cores_out(two_cores, monkeypatch, capsys):
    from clihelp import run_cli

    monkeypatch.setattr(timing.machine, "probe_load", _probe(1.0))
    monkeypatch.setattr(timing.machine.time, "sleep", lambda s: None)
    args = ["bench", "benchnets:tiny", "-r", "32", "--max-time", "0.1", "--rounds", "2", "--processes", "1"]
    code, out, err = run_cli(capsys, *args, "--in-process", "-f", "json")
    assert code == 0, err
    note = "zoobench: note: 1 of 2 cores are busy; measuring with 1 thread(s) (set --threads to override)"
    assert err.splitlines()[0] == note
    import json

    assert [r["threads"] for r in json.loads(out)["rows"]] == [1]
