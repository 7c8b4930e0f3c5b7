"""Repeatability (issue 16): does a rerun land inside the CI that zoobench stated? Each run is a separate CLI command.

For each thread count: N successive `zoobench bench resnet18 mobilenet_v2 -t T -f json` invocations, as a user reruns.
Per model: every run's median, its stated 95 % rerun interval (the ± zoobench prints) and the narrower CI of that
run's median; coverage = share of consecutive pairs whose later median lies inside the earlier run's rerun interval
(target >= 90 %: the stated precision is honest; the same share for the run's CI is kept as ci_coverage);
spread = max/min - 1 of the medians (target <= 3 %, which a drifting host may miss while coverage still holds).
A/A of --compare: each run compared with the previous one's JSON (at most 1 "significant" verdict in 10).
With --reference resnet18: the relative figure's spread (target <= 2 %). Paired A/A: N `bench resnet18
torchvision:resnet18 --paired` runs (same weights' shapes, same kernels): the ratio's spread (target <= 1 %) and
how many CIs hold 1.00 (target >= 9 of 10).
Writes results/repeatability.json with every run and the environment. Meant for a quiet machine; never run in tests.
Usage: python benchmarks/bench_repeatability.py [--runs 10] [--threads 1,2] [--max-time 6] [--out PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from zoobench import environment
from zoobench.output.files import atomic_write

RESULT = Path(__file__).resolve().parents[1] / "results" / "repeatability.json"
MODELS = ("resnet18", "mobilenet_v2")
PAIR = ("resnet18", "torchvision:resnet18")
REFERENCE = "resnet18"  # the documented reference workload
KEEP = ("model", "threads", "median_ms", "rerun_low_ms", "rerun_high_ms", "rerun_pct", "ci_low_ms", "ci_high_ms",
        "ci_pct", "calls_ci_pct", "p10_ms", "rounds",
        "processes", "round_medians_ms", "between_rounds_pct", "between_processes_pct", "stop", "busy", "warnings",
        "verdict", "p_value", "test", "change_pct")  # fmt: skip
PAIR_KEEP = ("model", "reference", "ratio", "ci_low", "ci_high", "ci_pct", "pairs", "rounds", "busy")


def zoobench(args: list[str], out: Path) -> list[dict]:
    """One `zoobench ...` command writing JSON to `out`: its rows. Exit 1 (a --compare verdict) is not an error."""
    proc = subprocess.run([sys.executable, "-m", "zoobench", *args, "-f", "json", "-o", str(out)], stderr=sys.stderr)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"zoobench {' '.join(args)} failed with exit status {proc.returncode}")
    return json.loads(out.read_text())["rows"]


def coverage(runs: list[dict]) -> dict:
    """Consecutive pairs whose later median lies within the earlier run's stated rerun interval (and, for contrast,
    within its CI); the medians' spread."""
    pairs = list(itertools.pairwise(runs))
    inside = [a["rerun_low_ms"] <= b["median_ms"] <= a["rerun_high_ms"] for a, b in pairs]
    in_ci = [a["ci_low_ms"] <= b["median_ms"] <= a["ci_high_ms"] for a, b in pairs]
    medians = [r["median_ms"] for r in runs]
    return {
        "coverage": sum(inside) / len(inside) if inside else None,
        "covered_pairs": f"{sum(inside)} of {len(inside)}",
        "ci_coverage": sum(in_ci) / len(in_ci) if in_ci else None,
        "spread": max(medians) / min(medians) - 1,
        "medians_ms": medians,
    }


def latency_runs(threads: int, args: argparse.Namespace, tmp: Path) -> dict:
    extra = ["-t", str(threads), *(["--max-time", str(args.max_time)] if args.max_time else [])]
    runs: list[list[dict]] = []
    for i in range(args.runs):
        out = tmp / f"t{threads}-{i}.json"
        compare = ["--compare", str(tmp / f"t{threads}-{i - 1}.json")] if i else []
        rows = zoobench(["bench", *MODELS, *extra, *compare], out)
        runs.append([{k: r.get(k) for k in KEEP} for r in rows])
        print(f"threads {threads} run {i + 1}: " + ", ".join(f"{r['model']} {r['median_ms']:.2f} ms "
              f"rerun ±{r['rerun_pct']:.1f}%" for r in rows), flush=True)  # fmt: skip
    per_model = {}
    for m in MODELS:
        rows = [next(r for r in run if r["model"] == m) for run in runs]
        verdicts = [r["verdict"] for r in rows[1:]]
        per_model[m] = {
            **coverage(rows),
            "compare_significant": sum(v in ("faster", "slower") for v in verdicts),
            "compare_verdicts": verdicts,
            "busy_runs": sum(bool(r["busy"]) for r in rows),
        }
    return {"threads": threads, "command": " ".join(["zoobench", "bench", *MODELS, *extra]), "models": per_model,
            "runs": runs}  # fmt: skip


def reference_runs(args: argparse.Namespace, tmp: Path) -> dict:
    """The same invocations with --reference: the spread of the relative figure across runs (target <= 2 %)."""
    extra = ["-t", "1", "--reference", REFERENCE, *(["--max-time", str(args.max_time)] if args.max_time else [])]
    runs = []
    for i in range(args.runs):
        rows = zoobench(["bench", *MODELS, *extra], tmp / f"reference-{i}.json")
        runs.append([{k: r.get(k) for k in (*KEEP, "relative", "relative_ci_low", "relative_ci_high")} for r in rows])
    per_model = {}
    for m in MODELS:
        rel = [next(r for r in run if r["model"] == m)["relative"] for run in runs]
        med = [next(r for r in run if r["model"] == m)["median_ms"] for run in runs]
        per_model[m] = {"relative_spread": max(rel) / min(rel) - 1, "median_spread": max(med) / min(med) - 1,
                        "relatives": rel}  # fmt: skip
    return {"command": " ".join(["zoobench", "bench", *MODELS, *extra]), "target_spread": 0.02,
            "models": per_model, "runs": runs}  # fmt: skip


def paired_runs(args: argparse.Namespace, tmp: Path) -> dict:
    extra = ["-t", "1", *(["--max-time", str(args.max_time)] if args.max_time else [])]
    rows = []
    for i in range(args.runs):
        [row] = zoobench(["bench", *PAIR, "--paired", *extra], tmp / f"paired-{i}.json")
        rows.append({k: row.get(k) for k in PAIR_KEEP})
        print(f"paired run {i + 1}: ratio {row['ratio']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]", flush=True)
    ratios = [r["ratio"] for r in rows]
    holds = sum(r["ci_low"] <= 1.0 <= r["ci_high"] for r in rows)
    return {
        "command": " ".join(["zoobench", "bench", *PAIR, "--paired", *extra]),
        "ratio_spread": max(ratios) / min(ratios) - 1,
        "ci_holds_1": f"{holds} of {len(rows)}",
        "significant": len(rows) - holds,  # the --paired A/A: a CI that excludes 1.00 is a "significant" verdict
        "target_spread": 0.01,
        "target_ci_holds_1": 9,
        "runs": rows,
    }


def _pooled(series: list[dict]) -> dict:
    """Coverage over every model and thread count together: with 9 pairs per series one miss is already 89 %."""
    per = [m["covered_pairs"].split(" of ") for s in series for m in s["models"].values()]
    hit, total = sum(int(a) for a, _ in per), sum(int(b) for _, b in per)
    return {"covered_pairs": f"{hit} of {total}", "coverage": hit / total if total else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", default="1,2", help="thread counts, each its own series of runs")
    parser.add_argument("--max-time", type=float, default=None, help="per-model budget (default: zoobench's)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        series = [latency_runs(int(t), args, Path(tmp)) for t in args.threads.split(",")]
        paired = paired_runs(args, Path(tmp))
        reference = reference_runs(args, Path(tmp))
    result = {
        "benchmark": "issue 16: successive `zoobench bench` commands land inside each other's stated 95 % CI",
        "targets": {
            "coverage": 0.9,
            "spread": 0.03,
            "compare_significant_max": 1,
            "paired_spread": 0.01,
            "paired_ci_holds_1": 9,
        },  # fmt: skip
        "latency": series,
        "paired": paired,
        "reference": reference,
        "passed": {
            "coverage": all(
                m["coverage"] is not None and m["coverage"] >= 0.9 for s in series for m in s["models"].values()
            ),
            "spread": all(m["spread"] <= 0.03 for s in series for m in s["models"].values()),
            "compare_aa": all(m["compare_significant"] <= 1 for s in series for m in s["models"].values()),
            "paired_spread": paired["ratio_spread"] <= 0.01,
            "reference_spread": all(m["relative_spread"] <= 0.02 for m in reference["models"].values()),
            "paired_ci_holds_1": paired["runs"] and paired["significant"] <= len(paired["runs"]) - 9,
        },  # fmt: skip
        "pooled_coverage": _pooled(series),
        "busy": any(m["busy_runs"] for s in series for m in s["models"].values())
        or any(r["busy"] for r in paired["runs"]),
        "environment": environment.collect(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps({"passed": result["passed"], "busy": result["busy"]}))


if __name__ == "__main__":
    main()
