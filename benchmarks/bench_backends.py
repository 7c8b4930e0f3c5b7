"""Which runtime makes each seed model fastest here, and at what cost in agreement: eager fp32 against ONNX Runtime
and OpenVINO (fp32), over the 64 seed models, at 1 thread and at every core, with a short budget per backend.

Every measurement is zoobench's own (`zoobench.bench(..., backends=[...])`: each session in a fresh worker, rounds
interleaved, each conversion checked against eager fp32 — max logit difference, top-1/top-5 agreement). Writes ONE
file, results/backends.json: zoobench's bench JSON (every row: rounds, equivalence, conversion and first-call times,
the runtime settings the runtimes reported; environment; config) plus `summary`: per backend and thread count the
models converted / failed (first error line) / flagged not equivalent, each model's speed-up over eager, and the
speed-ups' median, p10–p90 and min–max across the zoo; and `markdown`, the summary table (also printed to stdout)
for the README. The file is rewritten after every measurement; rerunning the same command resumes (what is saved
is not measured again); --fresh starts over.

Usage: python benchmarks/bench_backends.py [--models resnet18 ...] [--threads 1,N] [--max-time 1.5] [--rounds 3]
       [--processes 1] [--backends eager,onnxruntime,openvino] [--out results/backends.json] [--fresh]
About 30-45 minutes on 2 cores for the 64 seed models at the defaults.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from zoobench import api, environment, registry, timing
from zoobench.output import formats
from zoobench.output.files import atomic_write
from zoobench.output.progress import Lines

RESULT = Path(__file__).resolve().parents[1] / "results" / "backends.json"
EAGER = ("eager", "fp32")


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the order statistics (numpy's default), without numpy."""
    xs = sorted(values)
    at = q * (len(xs) - 1)
    lo = int(at)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (at - lo)


def spread(values: list[float]) -> dict | None:
    if not values:
        return None
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p10": _quantile(values, 0.1),
        "p90": _quantile(values, 0.9),
        "min": min(values),
        "max": max(values),
    }


def summarise(rows: list[dict]) -> dict:
    """Per (backend, precision, threads): converted / failed / not equivalent and the speed-ups over eager at the same
    threads; per model, each backend's speed-up; every figure from the rows alone."""
    eager = {(r["model"], r["threads"]): r["median_ms"] for r in rows if _run(r) == EAGER and not r.get("error")}
    groups: dict[tuple, dict] = {}
    per_model: dict[str, dict] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        key = (*_run(r), r["threads"])
        g = groups.setdefault(key, {"converted": 0, "failed": 0, "not_equivalent": 0, "first_error": None,
                                    "speedups": [], "runtime_settings": None})  # fmt: skip
        if r.get("error"):
            g["failed"] += 1
            g["first_error"] = g["first_error"] or f"{r['model']}: {r['error']}"
            continue
        g["converted"] += 1
        g["not_equivalent"] += r.get("equivalent") is False
        g["runtime_settings"] = g["runtime_settings"] or r.get("runtime_settings")
        base = eager.get((r["model"], r["threads"]))
        if _run(r) != EAGER and base is not None:
            ratio = base / r["median_ms"]
            g["speedups"].append(ratio)
            per_model[r["model"]][str(r["threads"])][f"{r['backend']} {r['precision']}"] = ratio
    by_backend = []
    for (backend, precision, threads), g in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][:2] != EAGER)):
        speedups = g.pop("speedups")
        by_backend.append({"backend": backend, "precision": precision, "threads": threads, **g,
                           "speedup": spread(speedups) if (backend, precision) != EAGER else None})  # fmt: skip
    return {
        "speedup_is": "eager fp32 median / backend median, same model, threads, batch 1, 224x224 (above 1: faster)",
        "by_backend": by_backend,
        "speedup_per_model": {m: dict(v) for m, v in per_model.items()},
    }


def _run(row: dict) -> tuple[str, str]:
    return row.get("backend") or "eager", row.get("precision") or "fp32"


def markdown(summary: dict) -> str:
    head = "| Backend | Threads | Converted | Failed | Not equivalent | Median × eager | p10–p90 | min–max |\n"
    head += "|:--|--:|--:|--:|--:|--:|--:|--:|\n"
    lines = []
    for g in summary["by_backend"]:
        s = g["speedup"]
        cells = [f"{g['backend']} {g['precision']}", str(g["threads"]), str(g["converted"]), str(g["failed"]),
                 str(g["not_equivalent"]) if (g["backend"], g["precision"]) != EAGER else "",
                 f"{s['median']:.2f}×" if s else "", f"{s['p10']:.2f}–{s['p90']:.2f}×" if s else "",
                 f"{s['min']:.2f}–{s['max']:.2f}×" if s else ""]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    errors = [f"- {g['backend']} {g['precision']}, {g['threads']} thread(s), first failure: {g['first_error']}"
              for g in summary["by_backend"] if g["first_error"]]  # fmt: skip
    return head + "\n".join(lines) + "\n" + ("\n" + "\n".join(errors) + "\n" if errors else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None, help="a subset instead of the 64 seed models")
    parser.add_argument("--threads", default=None, help="thread counts (default: 1 and every usable core)")
    parser.add_argument("--backends", default="eager,onnxruntime,openvino")
    parser.add_argument("--max-time", type=float, default=1.5, help="seconds per model, thread count and backend")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming --out")
    args = parser.parse_args()

    specs = api.resolve(args.models) if args.models else [s for s in registry.all_specs() if s.seed]
    cores = environment.usable_cores()
    counts = timing.parse_threads(args.threads) or sorted({1, cores})
    names = args.backends.split(",")
    policy = timing.Policy(max_time=args.max_time, rounds=args.rounds, processes=args.processes)
    config = timing.BenchConfig(batch=1, resolution=224, threads=counts[0], backend=names[0], policy=policy)
    for name in names:  # every backend checked (and its runtime imported) before any work
        replace(config, backend=name).validate()
    previous = [] if args.fresh else timing.load_previous(args.out, config)
    env = environment.collect("cpu")
    settings = {"models": [s.name for s in specs], "threads": counts, "backends": names, "max_time_s": args.max_time,
                "rounds": args.rounds, "processes": args.processes, "batch": 1, "resolution": 224}  # fmt: skip
    started = time.time()

    def write(rows: list[dict]) -> dict:
        summary = summarise(rows)
        doc = dict(benchmark=__doc__.splitlines()[0], settings=settings, wall_s_this_run=time.time() - started,
                   config=config.to_dict(), summary=summary, markdown=markdown(summary))  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.out, formats.to_json(rows, env, schema_kind="bench", **doc))
        return summary

    results = timing.bench(
        specs,
        config,
        threads=counts,
        backends=names,
        progress=Lines(describe=lambda m: f"{m.backend} {m.threads}t {m.median_ms:.2f} ms"),
        keep_going=True,
        previous=previous,
        checkpoint=write,  # after every measurement: a killed run keeps what it finished
    )
    summary = write(timing.merge_rows(previous, results))
    print(markdown(summary), end="")
    if timing.failed_models(results):
        sys.exit(2)  # the rows record why; everything else was measured and kept


if __name__ == "__main__":
    main()
