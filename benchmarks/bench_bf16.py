"""bf16 (autocast) against fp32 for one model on the CPU, each measured in a fresh process, interleaved.

The issue's reference: resnet50 was 1.40x faster in bf16 than in fp32 when timed by hand on a CPU with AVX512-BF16.
Autocast re-casts the fp32 weights to bf16 on every call (that cost is part of what is measured). Without native bf16
instructions (avx512_bf16 / amx_bf16) oneDNN emulates bf16 and a slowdown is the expected answer; the result says
which case this CPU is. Writes results/bf16.json with machine metadata.
Usage: python benchmarks/bench_bf16.py [--model resnet50] [--rounds 2] [--max-time 8] [--threads N] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from zoobench import environment, registry, timing
from zoobench.output.files import atomic_write

RESULT = Path(__file__).resolve().parents[1] / "results" / "bf16.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--rounds", type=int, default=2, help="fp32/bf16 pairs, alternating order")
    parser.add_argument("--max-time", type=float, default=timing.Policy.max_time)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    spec = registry.get_spec(args.model)
    base = timing.BenchConfig(threads=args.threads or timing.default_threads(), policy=timing.Policy(args.max_time))
    runs: dict[str, list[timing.Measurement]] = {"fp32": [], "bf16": []}
    for r in range(args.rounds):
        for dtype in ("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32"):
            m = timing.measure(spec, replace(base, dtype=dtype))
            runs[dtype].append(m)
            print(f"{dtype}: median {m.median_ms:.2f} ms ±{m.ci_pct:.1f}% ({m.stop}){' BUSY' if m.busy else ''}")
    pooled = {k: float(np.median([s for m in v for s in m.samples_ms])) for k, v in runs.items()}
    flags = environment.cpu_flags()
    native = sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile"})
    result = {
        "benchmark": f"{spec.name}: bf16 autocast vs fp32, batch 1, 224x224, each in a fresh process, interleaved",
        "model": spec.name,
        "fp32_median_ms": pooled["fp32"],
        "bf16_median_ms": pooled["bf16"],
        "speedup": pooled["fp32"] / pooled["bf16"],
        "reference_speedup": 1.40,
        "cpu_bf16_flags": native,
        "cpu_note": (
            f"CPU has {', '.join(native)}: native bf16 dot products"
            if native
            else "CPU lacks AVX512-BF16 and AMX: bf16 is emulated, no speedup expected"
        ),
        "busy": any(m.busy for v in runs.values() for m in v),
        "runs": {k: [m.to_dict() for m in v] for k, v in runs.items()},
        "environment": environment.collect(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(result, indent=2) + "\n")
    keys = ("fp32_median_ms", "bf16_median_ms", "speedup", "cpu_bf16_flags", "busy")
    print(json.dumps({k: result[k] for k in keys}))


if __name__ == "__main__":
    main()
