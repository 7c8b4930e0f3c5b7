"""The latency engine: rounds across time and processes, single timed calls, the between-rounds CI and the stop on
it, paired ratios, memory, threads, devices. No formatting.

Modules, each usable alone (`loop`, `stats`, `rounds` and `schedule` import no torch):
- `loop`: `time_callable(fn, clock=..., sync=...)`, the measuring loop on any callable, and its `Policy`;
- `stats`: the CI of the median (over calls, and between rounds) and the summary statistics;
- `rounds`: one round's samples and load (`Round`), and how rounds combine into the headline and its honest CI;
- `schedule`: the interleaving of rounds (A1 B1 C1 A2 …) over sessions, in waves of fresh processes;
- `measurement`: `Measurement`, and how an entry's rounds and sessions become one;
- `memory`: peak RSS above the state before the build, CUDA's peak, weight bytes;
- `config`: `BenchConfig` (what is measured, incl. the mode) and `parse_counts` (threads, batches);
- `machine`: the load probe and busy verdict, the default thread count (idle cores), thread pinning;
- `inprocess`: `LocalSession` (one build of one model) and `measure_model(spec, config)` -> `Measurement`;
- `worker`: the same session in a fresh `python -m zoobench.timing` subprocess (pyperf's isolation);
- `paired`: `bench_paired(specs, config)`, entries called alternately call by call, the median per-pair ratio;
- `run`: `bench(specs, config, threads=[...], batches=[...])`, many models that record failures, save and resume;
  `best_batches(rows)`, the best batch of a batch sweep;
- `baseline`: `load_baseline` and `compare(rows, baseline)`, the noisy A/B.

(`inprocess` and `baseline`, not `measure` and `compare`: a submodule would shadow the function of that name.)

The names below are loaded on first use, so `import zoobench.timing.stats` stays free of torch.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "loop": ("LATENCY", "MODES", "THROUGHPUT", "Clock", "Policy", "QUICK", "STOP_BUDGET", "STOP_CI", "STOP_RUNS",
             "Timing", "Warmup", "calls_per_sample", "sample_calls", "stability_warnings", "time_callable",
             "time_samples", "timer_overhead", "warm_up"),
    "stats": ("Stats", "Z95", "between_ci", "ci_of_median", "summarize", "t95"),
    "rounds": ("CI_CALLS", "CI_ROUNDS", "Round", "RoundStats", "combine", "relative"),
    "schedule": ("GROUP", "Outcome", "interleave", "rounds_per_process"),
    "measurement": ("MODE", "Measurement", "SessionInfo", "Setting"),
    "config": ("DEFAULT_CONFIG", "DEVICES", "DTYPES", "LAYOUTS", "BenchConfig", "parse_batches", "parse_counts",
               "parse_dtypes", "parse_layouts", "parse_threads", "setting_label"),
    "machine": ("BUSY", "IDLE_PROBE_S", "LoadProbe", "LoadReport", "LoadSample", "ThreadChoice", "ThreadState",
                "assess_load", "choose_threads", "default_threads", "pinned_threads", "probe_load"),
    "inprocess": ("Entry", "LocalSession", "Workload", "count_flops", "entry_for", "local_opener",
                  "measure_entries", "measure_model", "prepare"),
    "paired": ("SWEEPABLE", "PairTiming", "PairedRow", "Ratio", "alternate", "bench_paired", "ratio_of", "time_pairs"),
    "worker": ("RemoteSession", "measure_isolated", "remote_opener"),
    "run": ("BestBatch", "Failure", "Result", "bench", "best_batches", "failed_models", "grid", "load_previous",
            "measure", "merge_rows"),
    "baseline": ("COMPARED_SETTINGS", "ROW_DEFAULTS", "SWEEPS", "SWEPT_SETTINGS", "TEST_ROUNDS", "TEST_SAMPLES",
                 "baseline_environment", "check_tolerance",
                 "compare", "load_baseline", "read_result"),
}  # fmt: skip
_WHERE = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    if name in _NAMES:  # a submodule not imported yet
        return importlib.import_module(f"{__name__}.{name}")
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
