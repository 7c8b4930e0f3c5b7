"""Parity: our latency / torchvision's for every zoo model with a torchvision twin (ModelSpec.torchvision).

Both models live in one process with the same pinned threads, share torchvision's weights (our module names load its
state_dict), and are timed paired (`zoobench bench --paired`'s engine, timing/paired.py): called alternately, call
by call (A B, B A, ...), so drift cancels within each pair. ratio = median of the per-pair ratios ours / torchvision's,
its 95 % CI from the spread between rounds; the CI should include 1.00 for every twin whose weights and kernels are
the same. Target: ratio <= 1.02 at batch 1, fp32.
Writes results/parity.csv (the table) and results/parity.json (the same rows + machine metadata).
Usage: python benchmarks/bench_parity.py [--rounds 6] [--time 6] [--threads N] [--resolution 224] [MODELS...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from zoobench import environment, registry, timing
from zoobench.output.files import atomic_write

RESULTS = Path(__file__).resolve().parents[1] / "results"
TARGET = 1.02


def pair(spec: registry.ModelSpec, args: argparse.Namespace, config: timing.BenchConfig, cores: int) -> dict:
    twin = registry.get_spec(f"torchvision:{spec.torchvision}")
    ours, theirs = timing.prepare(spec, config), timing.prepare(twin, config)
    try:
        ours.model.load_state_dict(theirs.model.state_dict())
        shared = True
    except RuntimeError:
        shared = False  # still comparable: latency does not depend on the weights' values, only their shapes
    policy = timing.Policy(max_time=args.time, rounds=args.rounds, processes=1, warmup_min_time=0.1)
    start, begin = timing.probe_load(), time.perf_counter()
    with ours.contexts():
        pt = timing.time_pairs([theirs.fn, ours.fn], sync=ours.sync, policy=policy)
    load = timing.assess_load(start, timing.probe_load(), config.threads, cores)
    r = timing.ratio_of(pt, 1)
    return {
        "model": spec.name,
        "torchvision": spec.torchvision,
        "resolution": ours.resolution,
        "threads": config.threads,
        "ours_median_ms": 1e3 * float(np.median(pt.times[1])),
        "torchvision_median_ms": 1e3 * float(np.median(pt.times[0])),
        "ratio": r.ratio,
        "ratio_ci_low": r.ci_low,
        "ratio_ci_high": r.ci_high,
        "ci_includes_1": r.ci_low <= 1.0 <= r.ci_high,
        "ci_method": r.ci_method,
        "pairs": r.pairs,
        "round_ratios": r.round_ratios,
        "rounds": args.rounds,
        "weights_shared": shared,
        "passed": r.ratio <= TARGET,
        "busy": load.busy,
        "load_warnings": "; ".join(load.warnings),
        "wall_s": time.perf_counter() - begin,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="*", help="default: every model with a torchvision twin")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--time", type=float, default=6.0, help="seconds per model of each pair (both: twice that)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    specs = registry.select(args.models) if args.models else registry.all_specs()
    specs = [s for s in specs if s.torchvision]
    config = timing.BenchConfig(resolution=args.resolution, threads=args.threads or timing.default_threads())
    rows = []
    cores = environment.usable_cores()  # before pinning, which narrows this process's CPU set
    with timing.pinned_threads(config.threads):
        for spec in specs:
            row = pair(spec, args, config, cores)
            print(
                f"{row['model']:<20} ours {row['ours_median_ms']:.3f} ms  tv {row['torchvision_median_ms']:.3f} ms  "
                f"ratio {row['ratio']:.4f} [{row['ratio_ci_low']:.4f}, {row['ratio_ci_high']:.4f}]"
                f"{'  BUSY' if row['busy'] else ''}",
                flush=True,
            )
            rows.append(row)
    meta = {
        "benchmark": "our latency / torchvision's, batch 1, fp32, paired call by call in one process, shared weights",
        "method": "median of per-pair ratios; 95 % CI from the spread between rounds (Student t on log ratios)",
        "target_ratio": TARGET,
        "rounds": args.rounds,
        "time_s": args.time,
        "environment": environment.collect(),
        "rows": rows,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out_dir / "parity.csv", pd.DataFrame(rows).to_csv(index=False))
    atomic_write(args.out_dir / "parity.json", json.dumps(meta, indent=2) + "\n")
    failed = [r["model"] for r in rows if not r["passed"]]
    outside = [r["model"] for r in rows if not r["ci_includes_1"]]
    print(
        json.dumps(
            {"models": len(rows), "failed": failed, "ci_excludes_1": outside, "busy": sum(r["busy"] for r in rows)}
        )
    )


if __name__ == "__main__":
    main()
