"""Repeatability: two successive `zoobench bench MODEL` runs (each a fresh CLI process) agree on the median.

Target: within 3 % on an idle machine. Writes results/repeatability.json with both runs and machine metadata.
Usage: python benchmarks/bench_repeatability.py [--model resnet18] [--max-time 8] [--threads N] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from zoobench import environment
from zoobench.output.files import atomic_write

RESULT = Path(__file__).resolve().parents[1] / "results" / "repeatability.json"
KEEP = ("median_ms", "ci_pct", "mean_ms", "std_ms", "min_ms", "runs", "stop", "threads", "busy", "warnings")


def bench_once(model: str, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        cmd = [sys.executable, "-m", "zoobench", "bench", model, "-f", "json", "-o", str(out), *extra]
        subprocess.run(cmd, check=True, stderr=sys.stderr)
        [row] = json.loads(out.read_text())["rows"]
    return {k: row[k] for k in KEEP}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--max-time", type=float, default=None, help="per-run budget (default: zoobench's)")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--target", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    extra = [
        *(["--max-time", str(args.max_time)] if args.max_time else []),
        *(["-t", args.threads] if args.threads else []),
    ]
    first, second = bench_once(args.model, extra), bench_once(args.model, extra)
    a, b = first["median_ms"], second["median_ms"]
    diff = abs(a - b) / min(a, b)
    result = {
        "benchmark": f"two successive `zoobench bench {args.model}` runs, median agreement",
        "command": " ".join(["zoobench", "bench", args.model, *extra]),
        "runs": [first, second],
        "difference": diff,
        "target": args.target,
        "passed": diff <= args.target,
        "busy": first["busy"] or second["busy"],
        "environment": environment.collect(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps({"medians_ms": [a, b], "difference_pct": 100 * diff, "passed": result["passed"]}))


if __name__ == "__main__":
    main()
