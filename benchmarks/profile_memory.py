"""The peak-activation estimate (`zoobench profile`, meta device) against the peak measured in a real fp32 forward.

Each model runs in a fresh subprocess: built with random weights, eval mode, torch.inference_mode, one warm-up
forward (lazy library set-up stays out of the measurement), then the peak resident set is reset
(/proc/self/clear_refs, Linux) and a second forward is measured as VmHWM - VmRSS before it, plus the input (the
estimate counts the input, whose pages were already resident). glibc is told to serve every block of 128 KiB or
more by mmap (MALLOC_MMAP_THRESHOLD_), so a freed activation leaves the resident set at once, as the estimate
assumes; smaller blocks stay in malloc's arenas, and library workspaces (oneDNN, im2col) are not activations at
all: the ratio says how far both are from the estimate. `--device cuda` measures torch.cuda.max_memory_allocated
instead. Run it on a quiet machine. Writes results/profile_memory.json (rows, the median ratio, machine metadata).
Usage: python benchmarks/profile_memory.py [MODEL ...] [--batch 1] [--resolution 224] [--threads 1] [--device cpu]
       [--output results/profile_memory.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

RESULT = Path(__file__).resolve().parents[1] / "results" / "profile_memory.json"
MMAP_THRESHOLD = 128 * 1024


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(name: str, batch: int, resolution: int, threads: int, device: str) -> dict:
    """Measure one model in this (fresh) process: the peak of its second forward above what was resident before."""
    import torch

    from zoobench import registry

    torch.set_num_threads(threads)
    model = registry.get_spec(name).build().eval().to(device)
    x = torch.randn(batch, 3, resolution, resolution, device=device)
    with torch.inference_mode():
        del_me = model(x)
        del del_me
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            out = model(x)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - before
        else:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
            before = _status_bytes("VmRSS")
            out = model(x)
            peak = _status_bytes("VmHWM") - before
    del out
    return {"measured_peak_bytes": peak + x.numel() * x.element_size(), "resident_before_bytes": before}


def measure(name: str, args: argparse.Namespace) -> dict:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, __file__, "--child", name, "--batch", str(args.batch), "--resolution", str(args.resolution)]
    cmd += ["--threads", str(args.threads), "--device", args.device]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"model": name, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return {"model": name, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="default: every registered model")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--output", type=Path, default=RESULT)
    parser.add_argument("--child", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.batch, args.resolution, args.threads, args.device)))
        return

    from zoobench import complexity, environment, registry
    from zoobench.output.files import atomic_write

    names = args.models or [spec.name for spec in registry.all_specs()]
    rows = []
    for name in names:
        spec = registry.get_spec(name)
        estimate = complexity.measure(spec, args.resolution, args.batch)
        row = {"model": name, "estimate_peak_bytes": estimate.peak_activation_bytes, **measure(name, args)}
        if "measured_peak_bytes" in row:
            row["ratio"] = row["measured_peak_bytes"] / row["estimate_peak_bytes"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    result = {
        "benchmark": "peak activation memory: meta-device estimate (zoobench profile) vs a real fp32 forward",
        "measured_as": "CUDA max_memory_allocated" if args.device == "cuda" else "VmHWM - VmRSS (+ input)",
        "settings": {
            "batch": args.batch,
            "resolution": args.resolution,
            "threads": args.threads,
            "device": args.device,
            "malloc_mmap_threshold": MMAP_THRESHOLD,
        },  # fmt: skip
        "rows": rows,
        "median_ratio": statistics.median(ratios) if ratios else None,
        "environment": environment.collect(),
    }
    atomic_write(args.output, json.dumps(result, indent=2) + "\n")
    print(json.dumps({"models": len(rows), "measured": len(ratios), "median_ratio": result["median_ratio"]}))


if __name__ == "__main__":
    main()
