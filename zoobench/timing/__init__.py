"""The latency engine: warm-up, calibrated blocks, adaptive stop, statistics, threads, devices. No formatting.

Modules, each usable alone (`loop` and `stats` import no torch):
- `loop`: `time_callable(fn, clock=..., sync=...)`, the measuring loop on any callable, and its `Policy`;
- `stats`: the CI of the median and the summary statistics;
- `config`: `BenchConfig` (what is measured) and `parse_threads`;
- `machine`: the load probe and busy verdict, thread pinning;
- `inprocess`: `measure_model(spec, config)`, one model in this process -> `Measurement`;
- `worker`: the same in a fresh `python -m zoobench.timing` subprocess (pyperf's isolation);
- `run`: `bench(specs, config, threads=[...])`, many models that record failures, save and resume;
- `baseline`: `load_baseline` and `compare(rows, baseline)`, the noisy A/B.

(`inprocess` and `baseline`, not `measure` and `compare`: a submodule would shadow the function of that name.)

The names below are loaded on first use, so `import zoobench.timing.stats` stays free of torch.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "loop": ("Clock", "Policy", "QUICK", "STOP_BUDGET", "STOP_CI", "STOP_RUNS", "Timing", "stability_warnings",
             "time_callable", "timer_overhead"),
    "stats": ("Stats", "Z95", "ci_of_median", "summarize"),
    "config": ("DEFAULT_CONFIG", "DEVICES", "DTYPES", "BenchConfig", "parse_threads"),
    "machine": ("BUSY", "LoadProbe", "LoadReport", "LoadSample", "ThreadState", "assess_load", "default_threads",
                "pinned_threads", "probe_load"),
    "inprocess": ("Measurement", "Setting", "Workload", "count_flops", "measure_model", "prepare"),
    "worker": ("measure_isolated",),
    "run": ("Failure", "Result", "bench", "failed_models", "load_previous", "measure", "merge_rows"),
    "baseline": ("COMPARED_SETTINGS", "check_tolerance", "compare", "load_baseline", "read_result"),
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
