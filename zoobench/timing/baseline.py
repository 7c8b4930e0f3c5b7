"""A/B against a saved result: read a bench JSON safely, match rows, a two-sided test between rounds (or samples)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoobench.errors import ZooError
from zoobench.output.formats import schema_of

KIND = "bench"  # the schema kind of `zoobench bench -f json`

# The test behind a verdict: between runs with each run's drift inside (rows with rounds), or between samples
# (older rows).
TEST_ROUNDS = "rerun t on log round medians"
TEST_SAMPLES = "Mann-Whitney U on samples"

# Settings that make two latencies different experiments; compare names any that changed.
COMPARED_SETTINGS = ("device", "dtype", "batch", "resolution", "threads", "channels_last", "compiled", "tf32",
                     "backend", "precision", "mode")  # fmt: skip
# The settings one `bench` run sweeps, in the order its rows vary after the model (the last one fastest): each is a
# BenchConfig field and the row key that records it. The run's grid (run.bench), the resume key, the table's swept
# columns and --compare's matching all read this one tuple.
SWEEPS = ("backend", "dtype", "channels_last", "threads", "batch")
# What a file may vary within it: a row is matched with the baseline row that has the same of each.
SWEPT_SETTINGS = (*SWEEPS, "precision", "mode")
# What a row that lacks a setting measured (older files): eager fp32, batch 1, NCHW, one call at a time.
ROW_DEFAULTS = {"backend": "eager", "precision": "fp32", "mode": "latency", "channels_last": False, "batch": 1,
                "dtype": "fp32"}  # fmt: skip


def read_result(path: Path, where: str) -> dict:
    """A bench JSON document (unversioned files included) or one ZooError saying why not; `where` names the file in
    messages. Only a regular file is read: a FIFO or device would block or never end."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ZooError(f"cannot read {where}: {'no such file' if not path.exists() else 'not a regular file'}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZooError(f"cannot read {where}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ZooError(f"{where} is not JSON: not UTF-8 text") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZooError(f"{where} is not JSON: {exc}") from exc
    except RecursionError as exc:  # 100,000 nested brackets: a hostile file, not a result
        raise ZooError(f"{where} is not a bench result: its JSON is nested too deep") from exc
    if not isinstance(doc, dict):
        raise ZooError(f"{where} is not a bench result: expected a JSON object with 'rows'")
    kind = schema_of(doc, where)
    if kind not in (None, KIND):
        raise ZooError(f"{where} is a {kind} result, not a bench result")
    return doc


def measured(row: object) -> bool:
    """A row with a model name and positive per-run samples (a failed row carries an `error` instead)."""
    if not isinstance(row, dict) or not isinstance(row.get("model"), str) or row.get("error"):
        return False
    samples = row.get("samples_ms")
    return (
        isinstance(samples, list)
        and bool(samples)
        and all(isinstance(s, int | float) and not isinstance(s, bool) and s > 0 for s in samples)
    )


def load_baseline(path: Path) -> list[dict]:
    """The measured rows of a `zoobench bench -f json` file, each with its per-run samples; ZooError on anything
    else. Failed rows (with an `error`) are left out; a row that is neither is refused."""
    where = f"baseline {str(path)!r}"
    doc = read_result(path, where)
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ZooError(f"{where} has no 'rows': write it with `zoobench bench ... -f json`")
    for i, row in enumerate(rows):
        if not measured(row) and not (isinstance(row, dict) and row.get("error")):
            raise ZooError(f"{where}: row {i} lacks a model name or positive 'samples_ms'")
    ok = [row for row in rows if measured(row)]
    if not ok:
        raise ZooError(f"{where} has no measured rows: every model in it failed")
    return ok


def baseline_environment(path: Path) -> dict:
    """The environment a baseline file records ({} when it has none)."""
    env = read_result(path, f"baseline {str(path)!r}").get("environment")
    return env if isinstance(env, dict) else {}


def check_tolerance(tolerance: float) -> None:
    if not tolerance >= 0:
        raise ZooError(f"tolerance must be a non-negative fraction such as 0.05, got {tolerance}")


def _match(row: dict, baseline: Sequence[dict]) -> dict | None:
    """The baseline row of the same model at the same swept settings (threads, batch, backend, ...); a lone row of
    the model when nothing matches better (its changed settings are named in the verdict); else None."""
    same_model = [b for b in baseline if b["model"] == row["model"]]
    for b in same_model:
        if all(b.get(k, ROW_DEFAULTS.get(k)) == row.get(k, ROW_DEFAULTS.get(k)) for k in SWEPT_SETTINGS):
            return b
    same_threads = [b for b in same_model if b.get("threads") == row.get("threads")]
    if len(same_threads) == 1:
        return same_threads[0]
    return same_model[0] if len(same_model) == 1 else None


def _rounds(row: dict, key: str = "round_medians_ms") -> list[float] | None:
    """A row's round medians (issue 16 rows), or its rounds' ratios to a reference, when it has two positive ones."""
    medians = row.get(key)
    ok = isinstance(medians, list) and len(medians) >= 2
    return [float(m) for m in medians] if ok and all(isinstance(m, int | float) and m > 0 for m in medians) else None


def _rerun_t(a: list[float], b: list[float]) -> float:
    """Two-sided p of a change between two runs from their round medians (or round ratios), each run's drift inside.

    Welch's t on the log round values, but each side's variance is sd² · (1 + 1/k), not sd²/k: a host drifts
    between runs as much as between the rounds of one run (the rerun interval, stats.between_ci), so a rerun's
    centre is as uncertain as one round, not √k times less. Plain Welch called 3 of 9 A/A reruns significant on
    the development machine (results/repeatability.json); this test holds the false alarms near 5 %.
    """
    from scipy.stats import t  # scipy takes a second to import: only when comparing

    la, lb = np.log(a), np.log(b)
    va, vb = (float(x.var(ddof=1)) * (1 + 1 / len(x)) for x in (la, lb))
    diff = float(lb.mean() - la.mean())
    if va + vb == 0:  # no spread at all: t is undefined
        return 1.0 if diff == 0 else 0.0
    df = (va + vb) ** 2 / (va**2 / (len(la) - 1) + vb**2 / (len(lb) - 1))
    return float(2 * t.sf(abs(diff) / np.sqrt(va + vb), df))


def _relatives(base: dict, row: dict) -> tuple[list[float], list[float]] | None:
    """Both rows' round ratios to the same --reference, when both have them."""
    if not base.get("reference") or base.get("reference") != row.get("reference"):
        return None
    a, b = _rounds(base, "round_relatives"), _rounds(row, "round_relatives")
    return (a, b) if a is not None and b is not None else None


def _p_value(base: dict, row: dict) -> tuple[float, str]:
    """The rerun t on the log round medians when both rows have rounds (the honest unit: calls of one round share
    its conditions), else Mann-Whitney U on the per-run samples (rows from before rounds)."""
    from scipy.stats import mannwhitneyu  # scipy takes a second to import: only when comparing

    a, b = _rounds(base), _rounds(row)
    if a is not None and b is not None:
        return _rerun_t(a, b), TEST_ROUNDS
    xs, ys = np.asarray(base["samples_ms"], float), np.asarray(row["samples_ms"], float)
    return float(mannwhitneyu(xs, ys, alternative="two-sided").pvalue), TEST_SAMPLES


def _verdict(row: dict, base: dict, tolerance: float, alpha: float) -> dict:
    base_med, new_med = float(np.median(base["samples_ms"])), float(np.median(row["samples_ms"]))
    was, now = base_med, new_med  # what the verdict compares
    p, test = _p_value(base, row)
    if (both := _relatives(base, row)) is not None:  # drift-compensated: the latencies relative to one reference
        was, now = float(base["relative"]), float(row["relative"])
        p, test = _rerun_t(*both), f"rerun t on log round ratios to {row['reference']}"
    change = now / was - 1
    verdict = "faster" if now < was else "slower"
    if p >= alpha or now == was:
        verdict = "not significant"
    busy = [side for side, r in (("baseline", base), ("now", row)) if r.get("busy")]
    if busy:  # a change measured on a busy machine cannot be told from the load: no verdict, never a failure
        verdict = f"not judged: {' and '.join(busy)} busy"
    return {
        "base_median_ms": base_med,
        "change_pct": 100 * change,
        "p_value": p,
        "test": test,
        "verdict": verdict,
        "fails": verdict == "slower" and change > tolerance,
        "setting_changes": [
            f"{k}: {base[k]} -> {row[k]}" for k in COMPARED_SETTINGS if k in base and k in row and base[k] != row[k]
        ],
    }


def compare(rows: Sequence[dict], baseline: Sequence[dict], tolerance: float = 0.05, alpha: float = 0.05) -> list[dict]:
    """Per model: medians, relative change, a two-sided p-value (`_p_value`: between rounds, or between samples for
    rows without rounds) and a verdict. When both rows were measured against the same --reference, the change and
    the test are of the latency relative to it (drift of the host cancels out of it).

    faster / slower when p < alpha, else "not significant"; "not judged" when either side was measured on a busy
    machine (a change cannot be told from the load); `fails` when significantly slower by more than tolerance.
    A row that failed to measure gets the verdict "failed" and never fails the comparison (it has its own error).
    """
    check_tolerance(tolerance)
    out = []
    for row in rows:
        base = _match(row, baseline)
        result = {
            "model": row["model"],
            "threads": row.get("threads"),
            "base_median_ms": None,
            "median_ms": row.get("median_ms"),
            "change_pct": None,
            "p_value": None,
            "test": None,
            "verdict": "no baseline",
            "fails": False,
            "setting_changes": [],
        }
        if not measured(row):
            result["verdict"] = "failed"
        elif base is not None:
            result.update(_verdict(row, base, tolerance, alpha))
        out.append(result)
    return out
