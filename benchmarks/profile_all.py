"""Wall time of `zoobench profile --all --no-time -f csv` (params, MACs, memory; meta device) in a fresh process.

Two selections: `--all` (every registered model, seed variants included) and the 64 seed rows. Issue 14's target:
<= 0.6 x the wall time before the process pool and the replayed meta calls, on a 2-core machine, with the memory
fields included (`--baseline-s`: that time, measured the same way on the same machine; 8.5 s on the 2-core
development machine). Run it on a quiet machine. Writes results/profile_all.json with machine metadata.
Usage: python benchmarks/profile_all.py [--repeat 3] [--baseline-s 8.5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from zoobench import environment, registry
from zoobench.output.files import atomic_write

RESULT = Path(__file__).resolve().parents[1] / "results" / "profile_all.json"
TARGET_RATIO = 0.6
MEMORY_FIELDS = ("weight_bytes", "activation_bytes", "peak_activation_bytes")


def _time(cmd: list[str], repeat: int) -> list[float]:
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        header = proc.stdout.splitlines()[0].split(",")
        missing = [f for f in MEMORY_FIELDS if f not in header]
        if missing:
            raise SystemExit(f"profile_all: the CSV lacks {', '.join(missing)}: not the run the target speaks of")
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-s", type=float, default=8.5, help="wall time before issue 14, same machine")
    args = parser.parse_args()
    base = [sys.executable, "-m", "zoobench", "profile", "--no-time", "--format", "csv"]
    seed_models = [spec.name for spec in registry.all_specs() if spec.seed]
    selections = {
        "all": ([*base, "--all"], len(registry.all_specs())),
        "seed_rows": ([*base, *seed_models], len(seed_models)),
    }
    runs = {}
    for label, (cmd, models) in selections.items():
        walls = _time(cmd, args.repeat)
        runs[label] = {"models": models, "wall_s": walls, "median_s": statistics.median(walls)}
    target = TARGET_RATIO * args.baseline_s
    result = {
        "benchmark": "zoobench profile --all --no-time -f csv (params, MACs, memory; meta device; process start "
        "included; a process pool over every usable core)",
        "runs": runs,
        "usable_cores": environment.usable_cores(),
        "baseline_s": args.baseline_s,
        "ratio": runs["all"]["median_s"] / args.baseline_s,
        "target_s": target,
        "target_met": runs["all"]["median_s"] <= target,
        "environment": environment.collect(),
    }
    atomic_write(RESULT, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("runs", "usable_cores", "ratio", "target_s", "target_met")}))


if __name__ == "__main__":
    main()
