"""`zoobench bench --all` at batch 1: the whole zoo, each model in its own process, and the wall time it takes.

Target: <= 15 minutes on 2 cores. Writes results/bench_all.json: zoobench's own JSON (rows with per-run samples,
environment) plus the wall time and the target.
Usage: python benchmarks/bench_all.py [--max-time S] [--threads N] [--out PATH] [-- extra zoobench bench options]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zoobench.output.files import atomic_write

RESULT = Path(__file__).resolve().parents[1] / "results" / "bench_all.json"
TARGET_S = 15 * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-time", type=float, default=None, help="per-model budget (default: zoobench's)")
    parser.add_argument("--threads", default=None)
    parser.add_argument("--models", nargs="*", default=None, help="a subset instead of --all (for a quick check)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    selection = args.models if args.models else ["--all"]
    extra = [
        *(["--max-time", str(args.max_time)] if args.max_time else []),
        *(["-t", args.threads] if args.threads else []),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [sys.executable, "-m", "zoobench", "bench", *selection, "-b", "1", *extra, "-f", "json", "-o", str(out)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - start
        doc = json.loads(out.read_text())
    doc.update(
        benchmark="zoobench bench --all at batch 1 (each model in a fresh process)",
        command=" ".join(["zoobench", "bench", *selection, "-b", "1", *extra]),
        wall_s=wall,
        target_s=TARGET_S,
        passed=wall <= TARGET_S,
        models=len(doc["rows"]),
        busy=sum(bool(r["busy"]) for r in doc["rows"]),
        stopped_by_budget=sum(r["stop"] == "max_time" for r in doc["rows"]),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(doc, indent=2) + "\n")
    keys = ("models", "wall_s", "target_s", "passed", "busy", "stopped_by_budget")
    print(json.dumps({k: doc[k] for k in keys}))


if __name__ == "__main__":
    main()
