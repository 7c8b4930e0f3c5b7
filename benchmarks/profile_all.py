"""Wall time of `zoobench profile --all --no-time` (params + MACs only, meta device) in a fresh process.

Target: <= 15 s for the whole zoo on a 2-core machine. Writes results/profile_all.json with machine metadata.
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
from zoobench.report import atomic_write

RESULT = Path(__file__).resolve().parents[1] / "results" / "profile_all.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "zoobench", "profile", "--all", "--format", "csv"]
    help_text = subprocess.run([*cmd[:4], "--help"], capture_output=True, text=True).stdout
    if "--no-time" in help_text:
        cmd.append("--no-time")
    walls = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
    result = {
        "benchmark": "zoobench profile --all (params + MACs, meta device, process start included)",
        "command": " ".join(cmd[2:]),
        "models": len(registry.all_specs()),
        "wall_s": walls,
        "median_s": statistics.median(walls),
        "target_s": 15.0,
        "environment": environment.collect(),
    }
    atomic_write(RESULT, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("models", "median_s", "target_s")}))


if __name__ == "__main__":
    main()
