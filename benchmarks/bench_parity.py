"""Parity: our latency / torchvision's for every zoo model with a torchvision twin (ModelSpec.torchvision).

Both models live in one process with the same pinned threads, share torchvision's weights (our module names load its
state_dict), and are timed interleaved: rounds of short measurements alternating A-B, B-A so that drift hits both alike.
Samples are pooled per model; ratio = our pooled median / torchvision's; a two-sided Mann-Whitney U says whether the
difference is real. Target: ratio <= 1.02 at batch 1, fp32.
Writes results/parity.csv (the table) and results/parity.json (the same rows + machine metadata).
Usage: python benchmarks/bench_parity.py [--rounds 6] [--round-time 1.5] [--threads N] [--resolution 224] [MODELS...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

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
    policy = timing.Policy(max_time=args.round_time, warmup_min_time=0.1, warmup_share=0.3)
    samples: dict[str, list[float]] = {"ours": [], "theirs": []}
    start, begin = timing.probe_load(), time.perf_counter()
    for r in range(args.rounds):
        order = [("ours", ours), ("theirs", theirs)]
        for name, work in order if r % 2 == 0 else order[::-1]:
            with work.contexts():
                samples[name] += timing.time_callable(work.fn, policy=policy).samples
    load = timing.assess_load(start, timing.probe_load(), config.threads, cores)
    a, b = np.array(samples["ours"]) * 1e3, np.array(samples["theirs"]) * 1e3
    ratio = float(np.median(a) / np.median(b))
    return {
        "model": spec.name,
        "torchvision": spec.torchvision,
        "resolution": ours.resolution,
        "threads": config.threads,
        "ours_median_ms": float(np.median(a)),
        "torchvision_median_ms": float(np.median(b)),
        "ratio": ratio,
        "p_value": float(mannwhitneyu(a, b, alternative="two-sided").pvalue),
        "ours_runs": len(a),
        "torchvision_runs": len(b),
        "rounds": args.rounds,
        "weights_shared": shared,
        "passed": ratio <= TARGET,
        "busy": load.busy,
        "load_warnings": "; ".join(load.warnings),
        "wall_s": time.perf_counter() - begin,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="*", help="default: every model with a torchvision twin")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--round-time", type=float, default=1.5, help="seconds per model per round")
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
                f"ratio {row['ratio']:.3f}  p {row['p_value']:.2g}{'  BUSY' if row['busy'] else ''}",
                flush=True,
            )
            rows.append(row)
    meta = {
        "benchmark": "our latency / torchvision's, batch 1, fp32, interleaved in one process, shared weights",
        "target_ratio": TARGET,
        "rounds": args.rounds,
        "round_time_s": args.round_time,
        "environment": environment.collect(),
        "rows": rows,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out_dir / "parity.csv", pd.DataFrame(rows).to_csv(index=False))
    atomic_write(args.out_dir / "parity.json", json.dumps(meta, indent=2) + "\n")
    failed = [r["model"] for r in rows if not r["passed"]]
    print(json.dumps({"models": len(rows), "failed": failed, "busy": sum(r["busy"] for r in rows)}))


if __name__ == "__main__":
    main()
