"""`bench --paired` (issue 16): fake callables whose ratio is known, on a fake clock that drifts; the command line."""

from __future__ import annotations

import json

import benchnets
import pytest
from clihelp import assert_one_line_error, run_cli

from zoobench import timing
from zoobench.errors import ZooError
from zoobench.timing.loop import Policy

POLICY = Policy(max_time=1.0, rounds=4, processes=1, warmup_min_calls=3, warmup_min_time=0.0)


class DriftingClock:
    """Fake time; the machine slows down as it goes (x1 -> x1.5 over the run), as a busy neighbour would do."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def work(self, seconds: float) -> None:
        self.t += seconds * (1 + min(0.5, self.t / 4))


def test_the_median_pair_ratio_is_exact_under_drift():
    clock = DriftingClock()
    order: list[str] = []

    def a() -> None:
        order.append("a")
        clock.work(0.002)

    def b() -> None:
        order.append("b")
        clock.work(0.003)

    pt = timing.time_pairs([a, b], clock=clock, policy=POLICY)
    r = timing.ratio_of(pt, 1)
    assert r.ratio == pytest.approx(1.5, rel=2e-3)  # only the drift inside one pair is left, < 0.2 %
    assert r.ci_method == "rounds" and r.ci_low <= r.ratio <= r.ci_high and r.ci_pct < 0.5
    assert len(r.round_ratios) == 4 and r.pairs == len(pt.times[0]) == len(pt.times[1])
    # the absolute latencies drifted by tens of %: a per-entry median would not be exact at all
    assert max(pt.times[0]) / min(pt.times[0]) > 1.2
    timed = order[-4 * 10 :]
    assert timed[:4] in (["a", "b", "b", "a"], ["b", "a", "a", "b"])  # pairs alternate their order (ABBA)


def test_equal_callables_have_a_ratio_of_one_inside_their_ci():
    clock = DriftingClock()
    pt = timing.time_pairs([lambda: clock.work(0.001), lambda: clock.work(0.001)], clock=clock, policy=POLICY)
    r = timing.ratio_of(pt, 1)
    assert r.ci_low <= 1.0 <= r.ci_high and r.ratio == pytest.approx(1.0, abs=2e-3)


def test_three_entries_each_against_the_first():
    clock = DriftingClock()
    fns = [lambda: clock.work(0.002), lambda: clock.work(0.001), lambda: clock.work(0.004)]
    pt = timing.time_pairs(fns, clock=clock, policy=POLICY)
    assert timing.ratio_of(pt, 1).ratio == pytest.approx(0.5, rel=3e-3)
    assert timing.ratio_of(pt, 2).ratio == pytest.approx(2.0, rel=3e-3)


def test_paired_on_real_models_in_process():
    config = timing.BenchConfig(resolution=32, threads=1, policy=Policy(max_time=0.1, rounds=2, processes=1))
    [row] = timing.bench_paired([timing_spec("benchnets:tiny"), timing_spec("benchnets:other")], config)
    assert row.model == "benchnets:other" and row.reference == "benchnets:tiny" and row.rounds == 2
    assert row.ci_low <= row.ratio <= row.ci_high and row.median_ms > 0 and row.reference_median_ms > 0


def timing_spec(name: str):
    from zoobench import registry

    return registry.get_spec(name)


FAST = ["-r", "32", "-t", "1", "--max-time", "0.1", "--rounds", "2", "--processes", "1"]


def test_paired_command_line_json(capsys):
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", "benchnets:other", "--paired", *FAST, "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "zoobench/bench-paired/1"
    [row] = doc["rows"]
    assert row["model"] == "benchnets:other" and row["reference"] == "benchnets:tiny"
    assert row["ci_low"] <= row["ratio"] <= row["ci_high"]
    assert any("per-pair" in n or "pairs" in n for n in doc["notes"])


def test_paired_dtype_sweep_of_one_model(capsys):
    """`bench MODEL --paired --dtype fp32,bf16`: the dtypes called alternately in one process, B/A against fp32."""
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", "--paired", "--dtype", "fp32,bf16", *FAST, "-f", "json")
    assert code == 0, err
    [row] = json.loads(out)["rows"]
    assert (row["model"], row["reference"], row["swept"]) == ("benchnets:tiny", "benchnets:tiny", "dtype")
    assert (row["setting"], row["reference_setting"], row["dtype"]) == ("bf16", "fp32", "bf16")
    assert row["ci_low"] <= row["ratio"] <= row["ci_high"] and row["mode"] == "latency"
    assert "benchnets:tiny bf16 / fp32 = " in err


def test_paired_backend_sweep_of_one_model(capsys, tmp_path):
    args = ["bench", "benchnets:tiny", "--paired", "--backend", "eager,onnxruntime", *FAST, "-f", "md"]
    code, out, err = run_cli(capsys, *args, "--cache-dir", str(tmp_path))
    assert code == 0, err
    [row] = [line for line in out.splitlines() if line.startswith("| benchnets:tiny")]
    assert [cell.strip() for cell in row.split("|")[1:4]] == ["benchnets:tiny", "onnxruntime", "eager"]
    assert "every backend of the sweep called alternately with benchnets:tiny eager (A)" in out


def test_paired_layout_sweep_in_the_engine():
    config = timing.BenchConfig(resolution=32, threads=1, policy=Policy(max_time=0.1, rounds=2, processes=1))
    [row] = timing.bench_paired([timing_spec("benchnets:tiny")], config, sweep=("channels_last", [False, True]))
    assert (row.setting, row.reference_setting, row.swept) == ("nhwc", "nchw", "channels_last")
    with pytest.raises(ZooError, match="not threads"):
        timing.bench_paired([timing_spec("benchnets:tiny")], config, sweep=("threads", [1, 2]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["benchnets:tiny", "--paired"], "at least two models"),
        (["benchnets:tiny", "benchnets:other", "--paired", "-t", "1,2"], "--paired compares"),
        (["benchnets:tiny", "--paired", "--dtype", "fp32,bf16", "-t", "1,2"], "a --threads sweep needs a process"),
        (["benchnets:tiny", "benchnets:other", "--paired", "--resume", "-o", "x.json"], "--paired compares"),
    ],
)
def test_paired_bad_input_is_one_line(capsys, args, message):
    code, out, err = run_cli(capsys, "bench", *FAST, *args)
    assert_one_line_error(code, err)
    assert message in err and out == ""


def test_pairs_sync_before_every_clock_read_after_work():
    """CUDA latency mode: every call is synchronised on its own, in pairs as in single samples."""
    clock = DriftingClock()
    events, read, call, sync = benchnets.recording(clock, lambda: clock.work(0.001))
    timing.alternate([call, call], [1, 1], clock=read, sync=sync, until=0.02)
    benchnets.assert_synced(events)
