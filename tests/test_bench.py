"""The latency engine's logic (never its wall-clock speed): warm-up, calibration, statistics, stop rules, threads,
isolation, load warnings, CUDA handling, the A/B verdicts, and `zoobench bench` on bad input."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import benchnets
import numpy as np
import pandas as pd
import pytest
import torch
from clihelp import assert_one_line_error, run_cli

from zoobench import environment, registry, timing
from zoobench.errors import ZooError
from zoobench.timing.config import BenchConfig
from zoobench.timing.loop import Policy
from zoobench.timing.machine import LoadSample

QUICK_TEST = Policy(max_time=0.3, warmup_min_calls=2, warmup_min_time=0.02)


class FakeClock:
    """Time moves only when the workload says so (plus an optional cost per read)."""

    def __init__(self, read_cost: float = 0.0) -> None:
        self.t = 0.0
        self.read_cost = read_cost

    def __call__(self) -> float:
        now = self.t
        self.t += self.read_cost
        return now


def workload(clock: FakeClock, durations, then: float | None = None):
    """A callable whose n-th call takes durations[n] seconds of fake time (then `then` forever)."""
    it = iter(durations) if then is None else itertools.chain(durations, itertools.repeat(then))

    def fn() -> None:
        clock.t += next(it)

    return fn


def fake_policy(**kw) -> Policy:
    base = dict(max_time=10.0, warmup_min_calls=3, warmup_min_time=0.0, min_sample_time=0.001)
    return Policy(**{**base, **kw})


# --- the measuring loop on a fake clock -------------------------------------------------------------------------


def test_warmup_calls_are_excluded_until_timings_settle():
    clock = FakeClock()
    fn = workload(clock, [0.050, 0.030, 0.020], then=0.010)
    t = timing.time_callable(fn, clock=clock, policy=fake_policy())
    # window 2: [10,10] vs [10,10] is the first pair no more than 5 % faster -> 7 warm-up calls
    assert t.warmup == pytest.approx([0.050, 0.030, 0.020, 0.010, 0.010, 0.010, 0.010])
    assert t.warmup_settled
    assert t.samples == pytest.approx([0.010] * len(t.samples))
    assert t.stop == timing.STOP_CI and len(t.samples) == 10  # constant samples: the CI is exact at min_runs


def test_warmup_needs_min_calls_and_min_time():
    clock = FakeClock()
    call = 2**-7  # binary-exact, so 10 calls sum to exactly the minimum time
    fn = workload(clock, [], then=call)
    t = timing.time_callable(fn, clock=clock, policy=fake_policy(warmup_min_calls=5, warmup_min_time=10 * call))
    assert len(t.warmup) == 10  # settled after 5 calls, but the minimum warm-up time takes 10


def test_statistics_on_a_fake_clock():
    values = [0.010, 0.012, 0.011, 0.015, 0.013, 0.010, 0.020, 0.011, 0.012, 0.014, 0.016, 0.010]
    clock = FakeClock()
    fn = workload(clock, [0.010] * 4 + values)
    t = timing.time_callable(fn, clock=clock, policy=fake_policy(min_runs=1000, max_runs=len(values)))
    assert t.stop == timing.STOP_RUNS and t.calls_per_run == 1
    assert t.samples == pytest.approx(values)
    s = timing.summarize(t.samples)
    xs = np.array(values)
    assert s.median == pytest.approx(np.median(xs))
    assert s.mean == pytest.approx(xs.mean())
    assert s.std == pytest.approx(xs.std(ddof=1))
    assert s.iqr == pytest.approx(np.percentile(xs, 75) - np.percentile(xs, 25))
    assert (s.min, s.max) == pytest.approx((0.010, 0.020))
    assert s.p90 == pytest.approx(np.percentile(xs, 90)) and s.p99 == pytest.approx(np.percentile(xs, 99))
    assert s.runs == 12 and s.ci_low <= s.median <= s.ci_high


def test_ci_of_median_uses_order_statistics():
    xs = [float(i) for i in range(1, 101)]
    low, high, rel = timing.ci_of_median(xs)
    assert (low, high) == (40.0, 61.0)  # ranks 50 -+ 1.96*sqrt(100)/2, widened outward
    assert rel == pytest.approx(max(50.5 - 40, 61 - 50.5) / 50.5)
    assert timing.ci_of_median([5.0] * 30)[2] == 0.0
    assert timing.ci_of_median([1.0, 2.0, 3.0])[:2] == (1.0, 3.0)  # too few runs: the sample range


def test_calls_are_timed_alone_unless_shorter_than_the_clock_can_time_well():
    """Issue 16: single calls (so percentiles are per call); blocks only below min_sample_time or 1000x overhead."""
    clock = FakeClock()
    t = timing.time_callable(workload(clock, [], then=0.001), clock=clock, policy=fake_policy(min_sample_time=1e-4))
    assert t.calls_per_run == 1 and t.samples == pytest.approx([0.001] * len(t.samples))
    clock, call = FakeClock(), 2**-17  # binary-exact: 7.6 us
    t = timing.time_callable(workload(clock, [], then=call), clock=clock, policy=fake_policy(min_sample_time=8 * call))
    assert t.calls_per_run == 8  # blocks of 8 calls to reach min_sample_time
    slow_reads = FakeClock(read_cost=50e-6)  # overhead 50 us -> samples of >= 1000 x 50 us = 50 ms
    t = timing.time_callable(workload(slow_reads, [], then=0.001), clock=slow_reads, policy=fake_policy())
    assert t.timer_overhead == pytest.approx(50e-6)
    per_call = 0.001 + 50e-6  # the warm-up estimate includes one read
    assert t.calls_per_run * per_call >= 0.05 > (t.calls_per_run - 1) * per_call


def test_budget_stops_a_noisy_measurement_and_says_so():
    clock = FakeClock()
    fn = workload(clock, itertools.cycle([0.010, 0.020]))
    policy = fake_policy(max_time=1.0, warmup_min_calls=2)
    t = timing.time_callable(fn, clock=clock, policy=policy)
    assert t.stop == timing.STOP_BUDGET
    assert 1.0 <= t.elapsed < 1.0 + 0.021  # stops after the first run that crosses the budget
    s = timing.summarize(t.samples)
    assert s.ci_rel > 0.01
    warnings = timing.stability_warnings(s, t, policy)
    assert any("stopped by --max-time" in w for w in warnings)
    assert any("standard deviation" in w for w in warnings)


def test_floor_runs_even_when_one_call_outlasts_the_budget():
    clock = FakeClock()
    policy = fake_policy(max_time=0.1, warmup_min_calls=3)
    t = timing.time_callable(workload(clock, [], then=0.5), clock=clock, policy=policy)
    assert len(t.warmup) == 1 and not t.warmup_settled
    assert len(t.samples) == policy.floor_runs and t.stop == timing.STOP_BUDGET
    assert any("warm-up did not settle" in w for w in timing.stability_warnings(timing.summarize(t.samples), t, policy))


def test_sync_runs_before_every_clock_read_after_work():
    """The CUDA protocol without a GPU: queued work is synchronised before the clock is read."""
    clock = FakeClock()
    events, read, fn, sync = benchnets.recording(clock, lambda: setattr(clock, "t", clock.t + 0.005))
    timing.time_callable(fn, clock=read, sync=sync, policy=fake_policy(max_runs=12))
    benchnets.assert_synced(events)


# --- load -------------------------------------------------------------------------------------------------------


def test_assess_load():
    quiet = timing.assess_load(LoadSample(0, 0.2, 100.0, 10.0), LoadSample(2, 0.3, 104.1, 14.0), 2, 2)
    assert not quiet.busy and quiet.warnings == [] and quiet.own_cores == pytest.approx(2.0)
    assert quiet.others_cores == pytest.approx(0.05)
    busy = timing.assess_load(LoadSample(0, 3.9, 100.0, 10.0), LoadSample(2, 3.9, 103.8, 11.0), 2, 2)
    assert busy.busy and busy.others_cores == pytest.approx(1.4) and busy.own_cores == pytest.approx(0.5)
    assert len(busy.warnings) == 3  # load average, others' CPU, starved
    # one thread on two cores: a neighbour on the idle core is not contention
    shared = timing.assess_load(LoadSample(0, 1.0, 100.0, 10.0), LoadSample(1, 1.0, 102.0, 11.0), 1, 2)
    assert not shared.busy


def _spec(name: str = "benchnets:tiny"):
    return registry.get_spec(name)


def test_busy_machine_warning_from_a_fake_load_probe(monkeypatch):
    monkeypatch.setattr(environment, "usable_cores", lambda: 2)
    config = BenchConfig(resolution=32, threads=1, policy=QUICK_TEST)
    busy = itertools.cycle([LoadSample(0.0, 5.0, 100.0, 10.0), LoadSample(1.0, 5.0, 101.9, 10.5)])  # every round
    m = timing.measure_model(_spec(), config, load_probe=lambda: next(busy))
    assert m.busy and m.loadavg == 5.0 and m.others_cores == pytest.approx(1.4) and m.own_cores == pytest.approx(0.5)
    assert any("machine busy" in w for w in m.warnings) and any("starved" in w for w in m.warnings)
    quiet = itertools.cycle([LoadSample(0.0, 0.1, 100.0, 10.0), LoadSample(1.0, 0.1, 101.0, 11.0)])
    m = timing.measure_model(_spec(), config, load_probe=lambda: next(quiet))
    assert not m.busy and not any("busy" in w or "starved" in w for w in m.warnings)


# --- one model, in process and isolated -------------------------------------------------------------------------


def test_threads_and_affinity_are_applied_and_restored():
    before_threads, before_cpus = torch.get_num_threads(), os.sched_getaffinity(0)
    benchnets.SEEN.clear()
    m = timing.measure_model(_spec("benchnets:recorder"), BenchConfig(resolution=32, threads=1, policy=QUICK_TEST))
    first = min(before_cpus)
    assert m.threads == 1 and m.affinity == [first]
    timed = [seen[1:] for seen in benchnets.SEEN if seen[0] == "cpu"]
    assert len(timed) >= 5 and all(seen == (1, [first]) for seen in timed)
    assert torch.get_num_threads() == before_threads and os.sched_getaffinity(0) == before_cpus


def test_measurement_fields_and_rates():
    m = timing.measure_model(_spec(), BenchConfig(resolution=32, batch=2, threads=1, policy=QUICK_TEST))
    assert m.isolation == "in-process" and m.batch == 2 and m.resolution == 32 and m.dtype == "fp32"
    assert m.runs == len(m.samples_ms) >= 3 and m.min_ms <= m.median_ms <= m.max_ms
    assert m.ci_low_ms <= m.median_ms <= m.ci_high_ms
    assert m.images_per_s == pytest.approx(2 / (m.median_ms / 1e3))
    macs = 3 * 8 * 9 * 32 * 32 + 8 * 8 * 9 * 32 * 32 + 8 * 10  # the two convs and the classifier
    assert m.flops_per_image == 2 * macs
    assert m.gflops_per_s == pytest.approx(m.flops_per_image * m.images_per_s / 1e9)
    assert m.stop in (timing.STOP_CI, timing.STOP_BUDGET)
    if m.peak_gflops:
        assert m.peak_share == pytest.approx(m.gflops_per_s / m.peak_gflops) and "FLOP/cycle" in m.peak_basis
    assert timing.Measurement.from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_subprocess_and_in_process_results_have_the_same_shape():
    config = BenchConfig(resolution=32, threads=1, policy=QUICK_TEST)
    here = timing.measure(_spec(), config, isolate=False).to_dict()
    there = timing.measure(_spec(), config, isolate=True).to_dict()
    assert list(here) == list(there)
    for key in here:
        if here[key] is not None and there[key] is not None:
            assert type(here[key]) is type(there[key]), key
    assert (here["isolation"], there["isolation"]) == ("in-process", "subprocess")
    assert (
        there["threads"] == 1 and there["interop_threads"] == 1 and there["affinity"] == [min(os.sched_getaffinity(0))]
    )


def test_subprocess_failure_comes_back_as_one_zoo_error():
    with pytest.raises(ZooError, match="cannot run at 8x8"):  # refused by the parent, before any subprocess
        timing.measure(_spec("tinymodels:unpadded"), BenchConfig(resolution=8, threads=1, policy=QUICK_TEST))
    with pytest.raises(ZooError, match=r"benchnets:broken failed on cpu \(fp32\): boom on a real tensor"):
        timing.measure(_spec("benchnets:broken"), BenchConfig(resolution=32, threads=1, policy=QUICK_TEST))


def test_a_killed_worker_is_one_zoo_error(monkeypatch):
    monkeypatch.setenv(benchnets.CRASH_ENV, "1")  # the worker inherits it; this process never runs the forward
    with pytest.raises(ZooError, match=r"^benchnets:crash: the measurement worker was killed by SIGKILL"):
        timing.measure(_spec("benchnets:crash"), BenchConfig(resolution=32, threads=1, policy=QUICK_TEST))


def test_modes_bf16_channels_last_and_compile():
    m = timing.measure_model(
        _spec(), BenchConfig(resolution=32, threads=1, dtype="bf16", channels_last=True, policy=QUICK_TEST)
    )
    assert m.dtype == "bf16" and m.channels_last and m.compile_s is None and "bf16" in (m.peak_basis or "bf16")
    m = timing.measure_model(
        _spec(), BenchConfig(resolution=32, threads=1, compile=True, compile_backend="eager", policy=QUICK_TEST)
    )
    assert m.compiled and m.compile_s is not None and m.compile_s > 0
    assert m.warmup_s < m.compile_s + m.elapsed_s  # the compiling call is not a warm-up or timed call


def test_cuda_is_refused_cleanly_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ZooError, match="no usable CUDA GPU"):
        BenchConfig(device="cuda").validate()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_path_on_a_gpu():
    m = timing.measure_model(_spec(), BenchConfig(device="cuda", resolution=32, threads=1, policy=QUICK_TEST))
    assert m.device == "cuda" and m.gpu and m.peak_gflops is None and not m.tf32


def test_parse_threads():
    assert timing.parse_threads(None) is None
    assert timing.parse_threads("4") == [4]
    assert timing.parse_threads("1,2,4,2") == [1, 2, 4]
    for bad in ("0", "-1", "two", "1,,2", ""):
        with pytest.raises(ZooError):
            timing.parse_threads(bad)


def test_default_threads_follow_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert timing.default_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    quiet = iter([LoadSample(0.0, 0.0, 100.0, 1.0), LoadSample(1.0, 0.0, 100.0, 1.0)])  # nobody else busy
    monkeypatch.setattr(timing.machine, "probe_load", lambda: next(quiet))
    monkeypatch.setattr(timing.machine.time, "sleep", lambda s: None)
    assert timing.default_threads() == environment.usable_cores()


# --- the A/B ----------------------------------------------------------------------------------------------------


def _rows(median: float, spread: float = 0.01, n: int = 40, seed: int = 0, model: str = "m") -> list[dict]:
    rng = np.random.default_rng(seed)
    samples = list(median * (1 + spread * rng.standard_normal(n)))
    return [{"model": model, "threads": 1, "median_ms": float(np.median(samples)), "samples_ms": samples}]


@pytest.mark.parametrize(
    ("now", "verdict", "fails"),
    [
        (11.0, "slower", True),
        (9.0, "faster", False),
        (10.0, "not significant", False),
        (10.2, "slower", False),  # significant, but within the 5 % tolerance
    ],
)
def test_compare_verdicts_on_synthetic_samples(now, verdict, fails):
    [result] = timing.compare(_rows(now, seed=1), _rows(10.0, seed=2), tolerance=0.05)
    assert result["verdict"] == verdict and result["fails"] is fails
    assert result["change_pct"] == pytest.approx(100 * (result["median_ms"] / result["base_median_ms"] - 1))


def test_compare_noise_is_not_significant():
    """Two noisy samples of the same distribution: a 3 % median gap with 20 % noise is not a verdict."""
    [result] = timing.compare(_rows(10.3, spread=0.2, n=15, seed=3), _rows(10.0, spread=0.2, n=15, seed=4))
    assert result["verdict"] == "not significant" and result["p_value"] > 0.05


def test_compare_names_changed_settings():
    base, now = _rows(10.0, seed=1), _rows(10.0, seed=2)
    base[0]["dtype"], now[0]["dtype"] = "fp32", "bf16"
    [result] = timing.compare(now, base)
    assert result["setting_changes"] == ["dtype: fp32 -> bf16"]


def _run(level: float, seed: int, **setting) -> dict:
    """A row of a run whose host ran at `level` (its 6 round medians 2 % apart around it)."""
    rng = np.random.default_rng(seed)
    rounds = list(level * np.exp(0.02 * rng.standard_normal(6)))
    samples = [m * (1 + 0.005 * rng.standard_normal()) for m in rounds for _ in range(10)]
    return {"model": "m", "threads": 1, "median_ms": float(np.median(samples)), "samples_ms": samples,
            "round_medians_ms": rounds, **setting}  # fmt: skip


def test_compare_a_a_reruns_on_a_drifting_host_are_rarely_significant():
    """Run-to-run drift as large as the round-to-round one: the rerun t keeps false alarms near 5 %, where plain
    Welch on round medians (variance sd²/k) called far more of them."""
    rng = np.random.default_rng(1)
    rows = [_run(10.0 * math.exp(0.02 * rng.standard_normal()), seed) for seed in range(200)]
    verdicts = [timing.compare([b], [a])[0]["verdict"] for a, b in zip(rows, rows[1:], strict=False)]
    assert sum(v != "not significant" for v in verdicts) / len(verdicts) < 0.1
    [real] = timing.compare([_run(12.0, 7)], [_run(10.0, 8)])  # a 20 % change still is one
    assert real["verdict"] == "slower" and real["test"] == timing.TEST_ROUNDS


def test_compare_matches_each_row_of_a_backend_and_batch_sweep_with_its_own_baseline():
    base = [_run(10.0, 1, backend="eager", batch=1), _run(5.0, 2, backend="onnxruntime", batch=1),
            _run(40.0, 3, backend="eager", batch=8)]  # fmt: skip
    now = [
        _run(5.0, 4, backend="onnxruntime", batch=1),
        _run(40.0, 5, backend="eager", batch=8),
        _run(10.0, 6),
    ]  # fmt: skip  (an old row without backend: eager)
    results = timing.compare(now, base)
    assert [r["base_median_ms"] for r in results] == pytest.approx([5.0, 40.0, 10.0], rel=0.1)
    assert all(r["verdict"] == "not significant" and not r["setting_changes"] for r in results)


def test_compare_without_a_baseline_row():
    [result] = timing.compare(_rows(10.0, model="a"), _rows(10.0, model="b"))
    assert result["verdict"] == "no baseline" and not result["fails"]


# --- the command line -------------------------------------------------------------------------------------------

FAST = ["-r", "32", "-t", "1", "--max-time", "0.3", "--in-process"]


def _quiet(monkeypatch) -> None:
    """A quiet machine for tests whose verdicts must not depend on what else runs here (busy: no verdict)."""
    from zoobench.timing import machine

    ticks = itertools.count()

    def probe() -> LoadSample:
        t = float(next(ticks))  # one second per probe, all of it this process's own CPU time
        return LoadSample(t, 0.0, t, t)

    monkeypatch.setattr(machine, "probe_load", probe)


def test_bench_json_carries_samples_and_environment_then_compares(capsys, tmp_path, monkeypatch):
    _quiet(monkeypatch)
    target = tmp_path / "base.json"
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "-o", str(target))
    assert code == 0 and out == "" and "benchnets:tiny" in err
    doc = json.loads(target.read_text())
    assert doc["schema"] == "zoobench/bench/1"
    [row] = doc["rows"]
    assert row["samples_ms"] and row["threads"] == 1 and row["median_ms"] > 0
    assert "parallel_info" in doc["environment"] and doc["environment"]["cores"] >= 1
    assert doc["config"]["policy"]["max_time"] == 0.3

    # Baselines far off either way, so the verdicts do not depend on this machine's timing noise.
    samples, rounds = row["samples_ms"], row["round_medians_ms"]
    assert len(rounds) == row["rounds"] >= 2 and row["busy"] is False
    row["samples_ms"] = [s * 10 for s in samples]  # a baseline 10x slower: now is significantly faster, exit 0
    row["round_medians_ms"] = [m * 10 for m in rounds]
    target.write_text(json.dumps(doc))
    code, out, _ = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "--compare", str(target), "-f", "csv")
    assert code == 0 and "verdict" in out.splitlines()[0]
    assert pd.read_csv(io.StringIO(out))["verdict"].tolist() == ["faster"]

    row["samples_ms"] = [s / 10 for s in samples]  # a baseline 10x faster: now is significantly slower
    row["round_medians_ms"] = [m / 10 for m in rounds]
    target.write_text(json.dumps(doc))
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "--compare", str(target), "-f", "json")
    assert code == 1 and "compare failed" in err
    assert json.loads(out)["rows"][0]["verdict"] == "slower"
    assert json.loads(out)["rows"][0]["test"] == "rerun t on log round medians"

    row["busy"] = True  # the same 10x, but the baseline was measured on a busy machine: no verdict, exit 0
    target.write_text(json.dumps(doc))
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "--compare", str(target), "-f", "json")
    assert code == 0 and json.loads(out)["rows"][0]["verdict"] == "not judged: baseline busy"


def test_bench_thread_sweep(capsys):
    code, out, _ = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "-t", "1,2", "-f", "json")
    assert code == 0
    assert [r["threads"] for r in json.loads(out)["rows"]] == [1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resnet51"], "did you mean resnet50"),
        (["resnet18", "--threads", "0"], "--threads"),
        (["resnet18", "--threads", "two"], "--threads"),
        (["resnet18", "--dtype", "fp8"], "unknown dtype"),
        (["resnet18", "--device", "tpu"], "unknown device"),
        (["resnet18", "--max-time", "0"], "--max-time"),
        (["resnet18", "--batch", "0"], "--batch"),
        (["resnet18", "--tolerance", "-1"], "--tolerance"),
        (["resnet18", "--format", "xml"], "unknown format"),
        (["resnet18", "-o", "no-such-dir/out.json"], "folder does not exist"),
        (["tinymodels:unpadded", "-r", "8", "--in-process"], "cannot run at 8x8"),
    ],
)
def test_bench_bad_input_is_one_line(capsys, args, message):
    code, out, err = run_cli(capsys, "bench", *args)
    assert_one_line_error(code, err)
    assert message in err and out == ""


def test_bench_cuda_unavailable_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = run_cli(capsys, "bench", "resnet18", "--device", "cuda")
    assert_one_line_error(code, err)
    assert "CUDA" in err and out == ""


@pytest.mark.parametrize(
    "content",
    ["not json {", "[1, 2]", json.dumps({"rows": []}), json.dumps({"rows": [{"model": "resnet18"}]}),
     json.dumps({"rows": [{"model": "resnet18", "samples_ms": ["fast"]}]}),
     json.dumps({"rows": [{"model": "resnet50", "samples_ms": [1.0]}]})],
)  # fmt: skip
def test_bench_malformed_baseline_is_one_line(capsys, tmp_path, content):
    baseline = tmp_path / "base.json"
    baseline.write_text(content)
    code, out, err = run_cli(capsys, "bench", "resnet18", *FAST, "--compare", str(baseline))
    assert_one_line_error(code, err)
    assert "baseline" in err and out == ""


def test_bench_missing_baseline_file_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "bench", "resnet18", "--compare", str(tmp_path / "nope.json"))
    assert_one_line_error(code, err)


def test_profile_fills_time_cast_unless_no_time(capsys):
    code, out, _ = run_cli(capsys, "profile", "benchnets:tiny", "-r", "32", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["rows"][0]["time_ms"] > 0
    assert any(n.startswith("Time_cast/ms: measured median") for n in doc["notes"])
    code, out, _ = run_cli(capsys, "profile", "benchnets:tiny", "-r", "32", "--no-time", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["rows"][0]["time_ms"] is None
    assert any("not measured (--no-time)" in n for n in doc["notes"])


# --- the package's layout ---------------------------------------------------------------------------------------


def test_loop_and_stats_import_no_torch():
    code = "import sys, zoobench.timing.stats, zoobench.timing.loop; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- bulk runs: record a failure and go on, save after every model, resume ----------------------------------------


class Recorded:
    """A Progress that keeps what the engine reported."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def task(self, what, total=None, unit="items"):
        self.events.append(("task", what, total))
        return self

    def advance(self, n=1, *, label="", result=None) -> None:
        self.events.append(("advance", label, type(result).__name__))

    def close(self) -> None:
        self.events.append(("close",))

    def message(self, level, text) -> None:
        self.events.append((level, text))


def test_bench_records_a_failure_through_the_progress_protocol():
    config = BenchConfig(resolution=32, threads=1, policy=QUICK_TEST)
    specs = [_spec("benchnets:tiny"), _spec("benchnets:broken")]
    progress = Recorded()
    results = timing.bench(specs, config, isolate=False, progress=progress, keep_going=True)
    assert [type(r).__name__ for r in results] == ["Measurement", "Failure"]
    assert results[1].error == "failed on cpu (fp32): boom on a real tensor" and results[1].threads == 1
    assert progress.events[0] == ("task", "bench", 2) and progress.events[-1] == ("close",)
    assert ("advance", "benchnets:tiny", "Measurement") in progress.events
    assert ("advance", "", "NoneType") in progress.events  # the failure counts, its line is the error message
    assert ("error", "benchnets:broken: failed on cpu (fp32): boom on a real tensor") in progress.events
    assert not any(e[0] == "warning" for e in progress.events)  # only with show_warnings
    with pytest.raises(ZooError, match="boom"):  # without keep_going, or with one model, a failure raises
        timing.bench(specs, config, isolate=False)
    with pytest.raises(ZooError, match="boom"):
        timing.bench(specs[1:], config, isolate=False, keep_going=True)


def test_merge_rows_keeps_previous_rows_and_retries_failures():
    previous = [
        {"model": "a", "threads": 1, "median_ms": 1.0},
        {"model": "b", "threads": 1, "error": "boom"},
        {"model": "z", "threads": 1, "median_ms": 2.0},  # not in this selection: kept
    ]
    retried = timing.Failure("b", "cpu", "fp32", 1, 32, 1, False, False, "in-process", 0, "still broken")
    new = timing.Failure("c", "cpu", "fp32", 1, 32, 1, False, False, "in-process", 0, "also broken")
    rows = timing.merge_rows(previous, [retried, new])
    assert [(r["model"], r.get("error")) for r in rows] == [("a", None), ("b", "still broken"), ("z", None),
                                                             ("c", "also broken")]  # fmt: skip
    assert previous[1]["error"] == "boom"  # the caller's rows are not changed


def test_resume_and_compare_read_unversioned_results():
    """results/bench_all.json predates schemas: a baseline; not resumable by the rounds protocol of issue 16 (its
    policy has no rounds), which is refused in one line rather than merged with rows measured differently."""
    path = Path(__file__).resolve().parents[1] / "results" / "bench_all.json"
    assert len(timing.load_baseline(path)) == 78
    with pytest.raises(ZooError, match=r"other settings \(policy\.min_block_time 0\.01 -> None"):
        timing.load_previous(path, BenchConfig())


SMALL = ["-r", "32", "-t", "1", "--max-time", "0.2", "--in-process"]


def test_bench_batch_records_a_failing_model_and_measures_the_others(capsys, tmp_path):
    target = tmp_path / "out.json"
    models = ["benchnets:tiny", "benchnets:broken", "benchnets:other"]
    code, out, err = run_cli(capsys, "bench", *models, *SMALL, "-o", str(target))
    assert code == 2 and out == "" and "Traceback" not in err
    rows = json.loads(target.read_text())["rows"]
    assert [r["model"] for r in rows] == models
    assert rows[0]["median_ms"] > 0 and rows[2]["median_ms"] > 0 and "error" not in rows[0]
    assert rows[1]["error"] == "failed on cpu (fp32): boom on a real tensor" and "median_ms" not in rows[1]
    lines = err.splitlines()
    assert [x for x in lines if "benchnets:broken:" in x] == [
        "zoobench: error: benchnets:broken: failed on cpu (fp32): boom on a real tensor"
    ]
    assert lines[-1] == "zoobench: error: 1 of 3 model(s) failed: benchnets:broken"


def _progress_labels(err: str) -> list[str]:
    """The models that `bench` reported as measured (its `zoobench: bench: [i/n] MODEL: …` lines)."""
    prefix = "zoobench: bench: "
    return [
        x.removeprefix(prefix).split("] ", 1)[1].split(": ", 1)[0] for x in err.splitlines() if x.startswith(prefix)
    ]


def test_killed_bench_keeps_what_it_measured_and_resume_measures_the_rest(capsys, tmp_path):
    target = tmp_path / "out.json"
    models = ["benchnets:tiny", "benchnets:recorder", "benchnets:stall", "benchnets:other"]
    # One round each: interleaved rounds save a model when its last round is in, so with the default rounds the
    # stalled third model would hold back the first two (issue 16); one round makes them finish one by one.
    args = ["bench", *models, *SMALL, "--rounds", "1", "--processes", "1", "-o", str(target)]
    tests_dir = str(Path(__file__).parent)
    env = {
        **os.environ,
        benchnets.STALL_ENV: "1",  # the third model's builder waits, so the kill always lands after two
        "PYTHONPATH": os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")]),
    }
    with (tmp_path / "stderr.txt").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "zoobench", *args], env=env, stderr=log)
        try:
            deadline = time.monotonic() + 300  # a safety net for a stuck run, not a timing assertion
            while time.monotonic() < deadline and proc.poll() is None:
                if target.exists() and len(json.loads(target.read_text())["rows"]) == 2:
                    break
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()
    saved = json.loads(target.read_text())
    assert [r["model"] for r in saved["rows"]] == models[:2] and saved["schema"] == "zoobench/bench/1"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # every write was whole

    code, out, err = run_cli(capsys, *args, "--resume")
    assert code == 0 and out == "", err
    assert "zoobench: note: resuming: 2 of 4 measurement(s) already saved" in err.splitlines()
    assert _progress_labels(err) == models[2:]  # only the rest were measured
    rows = json.loads(target.read_text())["rows"]
    assert [r["model"] for r in rows] == models
    assert rows[:2] == saved["rows"]  # the first run's measurements, unchanged
