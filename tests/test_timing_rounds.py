"""Rounds across time and processes (issue 16) on fake sessions: the honest CI, its widening when processes
disagree, the interleaving order, the early stop, the between/within split and the disagreement warning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoobench import registry, timing
from zoobench.errors import ZooError
from zoobench.timing.config import BenchConfig
from zoobench.timing.loop import Policy
from zoobench.timing.measurement import SessionInfo
from zoobench.timing.rounds import Round


def _round(samples, process: int = 0, busy: bool = False) -> Round:
    return Round(
        process, [float(s) for s in samples], 1, 0.0, 0.1, 0.0, 1.0, busy, ["machine busy: test"] if busy else []
    )


def _info(threads: int = 1) -> SessionInfo:
    return SessionInfo(threads, threads, [0], [], 3, 0.01, True, 1.0, None, 1.0, 4096, 1 << 20, "test", None, None)


class FakeSessions:
    """Sessions whose round k of process p times `level(model, p, k)` seconds per call, with a little noise;
    every open, round and close is logged."""

    def __init__(self, level, calls: int = 50, fail: str | None = None) -> None:
        self.level, self.calls, self.fail = level, calls, fail
        self.log: list[tuple] = []
        self.rng = np.random.default_rng(0)

    def __call__(self, entry, process: int, rounds: int, budget: float):
        name = entry.spec.name
        self.log.append(("open", name, process, rounds, budget))
        outer = self

        class Session:
            k = 0

            def round(self) -> Round:
                if name == outer.fail:
                    raise ZooError(f"{name}: forward: boom")
                outer.log.append(("round", name, process, self.k))
                base = outer.level(name, process, self.k)
                self.k += 1
                noise = 1 + 0.001 * outer.rng.standard_normal(outer.calls)
                return _round(base * noise, process)

            def close(self) -> SessionInfo:
                outer.log.append(("close", name, process))
                return _info()

            def abort(self) -> None:
                outer.log.append(("abort", name, process))

        return Session()


def _bench(names, level, policy: Policy, **kw):
    fake = FakeSessions(level, **{k: kw.pop(k) for k in ("fail",) if k in kw})
    specs = [registry.get_spec(n) for n in names]
    config = BenchConfig(resolution=32, threads=1, policy=policy)
    return timing.bench(specs, config, isolate=False, open_session=fake, **kw), fake


NO_STOP = Policy(max_time=6.0, rounds=6, processes=2, rel_ci=1e-9)  # never reaches the CI target: every round runs


def test_rounds_are_interleaved_across_models_in_waves_of_fresh_sessions():
    results, fake = _bench(["benchnets:tiny", "benchnets:other"], lambda m, p, k: 0.01, NO_STOP)
    order = [(e[1].split(":")[1], e[2], e[3]) for e in fake.log if e[0] == "round"]
    assert order == [("tiny", 0, 0), ("other", 0, 0), ("tiny", 0, 1), ("other", 0, 1), ("tiny", 0, 2),
                     ("other", 0, 2), ("tiny", 1, 0), ("other", 1, 0), ("tiny", 1, 1), ("other", 1, 1),
                     ("tiny", 1, 2), ("other", 1, 2)]  # fmt: skip
    opens = [e for e in fake.log if e[0] == "open"]
    assert [(e[1], e[2], e[3], e[4]) for e in opens] == [
        ("benchnets:tiny", 0, 3, 3.0), ("benchnets:other", 0, 3, 3.0),
        ("benchnets:tiny", 1, 3, 3.0), ("benchnets:other", 1, 3, 3.0),
    ]  # fmt: skip  # two waves, each a fresh session per model with half the budget
    closes = [i for i, e in enumerate(fake.log) if e[0] == "close"]
    second_wave = min(i for i, e in enumerate(fake.log) if e[0] == "open" and e[2] == 1)
    assert sum(i < second_wave for i in closes) == 2  # wave 1's sessions closed before wave 2 opened
    assert [r.rounds for r in results] == [6, 6] and [r.processes for r in results] == [2, 2]
    assert results[0].round_processes == [0, 0, 0, 1, 1, 1]


def test_processes_that_disagree_widen_the_ci():
    def agree(m, p, k):
        return 0.010

    def disagree(m, p, k):
        return 0.010 * (1.05 if p == 1 else 1.0) * (1 + 0.002 * (k % 2))

    [same], _ = _bench(["benchnets:tiny"], agree, NO_STOP)
    [apart], _ = _bench(["benchnets:tiny"], disagree, NO_STOP)
    assert same.ci_method == apart.ci_method == "rounds"
    assert apart.ci_pct > 5 * same.ci_pct and apart.ci_pct > 1.0
    assert apart.ci_low_ms < apart.median_ms < apart.ci_high_ms
    assert apart.process_medians_ms[1] / apart.process_medians_ms[0] == pytest.approx(1.05, rel=0.01)
    assert apart.between_processes_pct > 3 and same.between_processes_pct < 0.5
    # each round is narrow on its own: the call-level CI would claim far more precision than the rounds allow
    assert apart.calls_ci_pct < apart.ci_pct
    assert apart.rounds_disagree and any(w.startswith("rounds disagree") for w in apart.warnings)
    assert not same.rounds_disagree


def test_the_ci_is_student_t_on_log_round_medians():
    medians = [10.0, 10.4, 9.8, 10.1, 10.6, 9.9]
    rounds = [_round([m] * 5, process=i // 3) for i, m in enumerate(medians)]
    rs = timing.combine(rounds)
    logs = np.log(medians)
    half = 2.5706 * logs.std(ddof=1) / math.sqrt(6)  # t(5) 0.975
    assert rs.ci_low == pytest.approx(rs.stats.median * math.exp(-half))
    assert rs.ci_high == pytest.approx(rs.stats.median * math.exp(half))
    assert rs.ci_rel == pytest.approx(math.expm1(half))
    assert rs.between_rounds_pct == pytest.approx(100 * logs.std(ddof=1))
    assert rs.round_processes == [0, 0, 0, 1, 1, 1] and len(rs.process_medians) == 2
    assert rs.within_round_pct == 0.0  # every call of a round alike


def test_the_rerun_interval_is_the_prediction_interval_of_a_rounds_median():
    medians = [10.0, 10.4, 9.8, 10.1, 10.6, 9.9]
    rs = timing.combine([_round([m] * 5, process=i // 3) for i, m in enumerate(medians)])
    half = 2.5706 * np.log(medians).std(ddof=1) * math.sqrt(2 * (1 + 1 / 6))
    assert rs.rerun_low == pytest.approx(rs.stats.median * math.exp(-half))
    assert rs.rerun_high == pytest.approx(rs.stats.median * math.exp(half))
    assert rs.rerun_rel == pytest.approx(math.expm1(half)) and rs.rerun_rel > rs.ci_rel * math.sqrt(6)


def test_the_rerun_interval_covers_the_next_run_on_a_host_that_drifts_between_runs():
    """Each run sees the host at its own speed (drift between runs as large as between rounds): the CI of one run's
    median misses the next run's median about half the time; the rerun interval holds it 95 % of the time."""
    rng = np.random.default_rng(0)
    runs = []
    for _ in range(1000):
        level = 10e-3 * math.exp(0.02 * rng.standard_normal())  # this run's host speed
        medians = level * np.exp(0.02 * rng.standard_normal(6))
        runs.append(timing.combine([_round([m] * 3) for m in medians]))
    pairs = list(zip(runs, runs[1:], strict=False))
    assert np.mean([a.ci_low <= b.stats.median <= a.ci_high for a, b in pairs]) < 0.6
    assert np.mean([a.rerun_low <= b.stats.median <= a.rerun_high for a, b in pairs]) == pytest.approx(0.95, abs=0.02)


def test_one_round_falls_back_to_the_call_level_ci_and_says_so():
    rs = timing.combine([_round(np.linspace(1.0, 2.0, 50))])
    assert rs.ci_method == timing.CI_CALLS and rs.ci_rel == rs.stats.ci_rel
    assert rs.rerun_low is rs.rerun_high is rs.rerun_rel is None  # one round cannot say where a rerun lands
    assert any("one round only" in w for w in rs.warnings)


def test_t95():
    assert timing.t95(1) == pytest.approx(12.7062) and timing.t95(5) == pytest.approx(2.5706)
    assert timing.t95(100) == pytest.approx(1.984, abs=2e-3)  # scipy: 1.98397


def test_adaptive_stop_uses_the_between_rounds_ci():
    steady = Policy(max_time=6.0, rounds=6, processes=2, rel_ci=0.01, min_rounds=4)
    [m], fake = _bench(["benchnets:tiny"], lambda m, p, k: 0.01, steady)
    # the CI is tiny from the start, but it is looked at only from 4 rounds in two processes
    assert m.stop == timing.STOP_CI and m.rounds == 4 and m.round_processes == [0, 0, 0, 1]
    assert [e[0] for e in fake.log][-1] == "close"  # its session closed as it stopped
    drifting = Policy(max_time=6.0, rounds=6, processes=2, rel_ci=0.01)
    [m], _ = _bench(["benchnets:tiny"], lambda m, p, k: 0.01 * (1 + 0.05 * k), drifting)
    assert m.stop == timing.STOP_BUDGET and m.rounds == 6
    assert any("stopped by --max-time" in w and "between rounds" in w for w in m.warnings)


def test_rounds_per_process_split():
    assert timing.rounds_per_process(Policy(rounds=6, processes=2)) == [3, 3]
    assert timing.rounds_per_process(Policy(rounds=5, processes=2)) == [3, 2]
    assert timing.rounds_per_process(Policy(rounds=1, processes=1)) == [1]
    with pytest.raises(ZooError, match="rounds must be at least processes"):
        Policy(rounds=1, processes=2).validate()
    with pytest.raises(ZooError, match="processes must be at least 1"):
        Policy(processes=0).validate()


def test_a_failing_entry_ends_alone_and_the_others_keep_their_rounds():
    results, fake = _bench(["benchnets:tiny", "benchnets:other"], lambda m, p, k: 0.01, NO_STOP,
                           fail="benchnets:tiny", keep_going=True)  # fmt: skip
    assert [type(r).__name__ for r in results] == ["Failure", "Measurement"]
    assert results[0].error == "forward: boom" and results[1].rounds == 6
    assert ("abort", "benchnets:tiny", 0) in fake.log
    assert not any(e[0] == "open" and e[1] == "benchnets:tiny" and e[2] == 1 for e in fake.log)  # never reopened


def test_busy_rounds_make_the_measurement_busy_and_say_in_how_many():
    rounds = [_round([0.01] * 5, busy=i == 2) for i in range(3)]
    from zoobench.timing.measurement import Setting, build

    m = build(Setting("m", "cpu", "fp32", 1, 32, 1), BenchConfig(threads=1), rounds, [_info()], stop="max_time",
              flops=100, isolation="in-process")  # fmt: skip
    assert m.busy and "machine busy: test (in 1 of 3 rounds)" in m.warnings
    assert m.round_sizes == [5, 5, 5] and len(m.samples_ms) == 15


def test_an_isolated_model_that_prints_does_not_break_the_worker_protocol():
    policy = Policy(max_time=0.1, rounds=2, processes=1)
    m = timing.measure_isolated(registry.get_spec("benchnets:chatty"), BenchConfig(resolution=32, threads=1,
                                policy=policy))  # fmt: skip
    assert m.isolation == "subprocess" and m.rounds == 2 and m.median_ms > 0


def test_rounds_and_schedule_import_no_torch():
    import subprocess
    import sys

    code = "import sys, zoobench.timing.rounds, zoobench.timing.schedule; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
