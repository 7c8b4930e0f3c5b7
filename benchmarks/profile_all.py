"""Wall time of `zoobench profile --no-time` (params + MACs only, meta device) in a fresh process.

Two selections: `--all` (every registered model, seed variants included) and the 64 seed rows the target speaks of.
Target: <= 15 s for the 64 seed models on a 2-core machine. Writes results/profile_all.json with machine metadata.
Usage: python benchmarks/profile_all.py [--repeat 3]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = [sys.executable, "-m", "zoobench", "profile", "--no-time", "--format", "csv"]
    seed_models = [spec.name for spec in registry.all_specs() if spec.seed]
    selections = {"all": [*base, "--all"], "seed_rows": [*base, *seed_models]}
    runs = {}
    for label, cmd in selections.items():
        walls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
        runs[label] = {
            "models": len(seed_models) if label == "seed_rows" else len(registry.all_specs()),
            "wall_s": walls,
            "median_s": statistics.median(walls),
        }
    result = {
        "benchmark": "zoobench profile --no-time (params + MACs, meta device, process start included)",
        "runs": runs,
        "target_s": 15.0,
        "target_met": runs["seed_rows"]["median_s"] <= 15.0,
        "environment": environment.collect(),
    }
    atomic_write(RESULT, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("runs", "target_s", "target_met")}))


if __name__ == "__main__":
    main()
