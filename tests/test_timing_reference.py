"""`--reference` (issue 16): a model's latency relative to a reference called alternately with it, pair by pair."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clihelp import assert_one_line_error, run_cli

from zoobench import registry, timing
from zoobench.timing.config import BenchConfig
from zoobench.timing.loop import Policy
from zoobench.timing.measurement import SessionInfo, Setting, build
from zoobench.timing.rounds import Round


def _round(level: float, ratio: float, process: int) -> Round:
    """A round whose calls take `level` s and are `ratio` times the reference's calls in the same pair."""
    return Round(process, [level] * 20, 1, 0.0, None, None, None, False, [], [ratio] * 20)


def test_the_relative_figure_stays_put_while_the_absolute_median_drifts():
    levels = [0.010, 0.012, 0.011, 0.014, 0.013, 0.015]  # the host slowed down by up to 50 % during the run
    rounds = [_round(level, 2.0, i // 3) for i, level in enumerate(levels)]
    info = SessionInfo(1, 1, None, [], 3, 0.0, True, 1.0, None, 1.0, 0, None, "test", None, None)
    config = BenchConfig(threads=1, reference="resnet18")
    m = build(Setting("m", "cpu", "fp32", 1, 32, 1), config, rounds, [info, info], stop="max_time", flops=1,
              isolation="in-process")  # fmt: skip
    assert m.reference == "resnet18" and m.relative == pytest.approx(2.0)
    assert m.relative_ci_low == pytest.approx(2.0) and m.relative_ci_high == pytest.approx(2.0)
    assert m.ci_pct > 5  # while the absolute median's CI is wide: the drift is inside it


def test_without_a_reference_the_fields_are_empty():
    rounds = [Round(0, [0.01] * 5, 1, 0.0, None, None, None, False, [])] * 2
    info = SessionInfo(1, 1, None, [], 3, 0.0, True, 1.0, None, 1.0, 0, None, "test", None, None)
    m = build(Setting("m", "cpu", "fp32", 1, 32, 1), BenchConfig(threads=1), rounds, [info], stop="max_time",
              flops=1, isolation="in-process")  # fmt: skip
    assert (m.reference, m.relative, m.relative_ci_low, m.relative_ci_high) == (None, None, None, None)


def test_reference_in_process_with_real_models():
    policy = Policy(max_time=0.2, rounds=2, processes=1)
    config = BenchConfig(resolution=32, threads=1, reference="benchnets:other", policy=policy)
    m = timing.measure_model(registry.get_spec("benchnets:tiny"), config)
    assert m.reference == "benchnets:other" and m.relative > 0
    assert m.relative_ci_low <= m.relative <= m.relative_ci_high and m.runs == sum(m.round_sizes)


FAST = ["-r", "32", "-t", "1", "--max-time", "0.2", "--rounds", "2", "--processes", "1", "--in-process"]


def test_reference_command_line(capsys):
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "--reference", "benchnets:other", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    [row] = doc["rows"]
    assert row["reference"] == "benchnets:other" and row["relative"] > 0
    assert doc["config"]["reference"] == "benchnets:other"
    assert any(n.startswith("x reference") for n in doc["notes"])


def test_unknown_reference_is_one_line(capsys):
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "--reference", "resnet51")
    assert_one_line_error(code, err)
    assert "did you mean resnet50" in err and out == ""


def _ref_row(median: float, relative: float, spread: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rel = list(relative * (1 + spread * rng.standard_normal(6)))
    samples = list(median * (1 + 0.01 * rng.standard_normal(60)))
    return {"model": "m", "threads": 1, "median_ms": float(np.median(samples)), "samples_ms": samples,
            "round_medians_ms": [median] * 6, "reference": "resnet18", "relative": float(np.median(rel)),
            "round_relatives": rel}  # fmt: skip


def test_compare_against_the_same_reference_judges_the_relative_figure():
    """The host ran 30 % slower in the second session, but the model kept its ratio to the reference: no change."""
    base, now = _ref_row(10.0, 2.0, 0.003, 1), _ref_row(13.0, 2.0, 0.003, 2)
    [result] = timing.compare([now], [base])
    assert result["test"] == "rerun t on log round ratios to resnet18"
    assert result["verdict"] == "not significant" and abs(result["change_pct"]) < 1
    [slower] = timing.compare([_ref_row(10.0, 2.2, 0.003, 3)], [base])  # the ratio itself grew by 10 %
    assert slower["verdict"] == "slower" and slower["change_pct"] == pytest.approx(10, abs=1)
    other = {**_ref_row(13.0, 2.0, 0.003, 2), "reference": "mobilenet_v2"}
    [absolute] = timing.compare([other], [base])  # different references: the absolute medians, between rounds
    assert absolute["test"] == timing.TEST_ROUNDS and absolute["verdict"] == "slower"
