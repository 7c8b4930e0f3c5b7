"""bench's and doctor's columns and notes (re-exported by views, like every other command's specs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from zoobench.output.columns import Column, integer, num, signed, text
from zoobench.output.progress import line

if TYPE_CHECKING:
    from zoobench import timing

# --- bench --------------------------------------------------------------------------------------------------------


def _equivalent(value: object) -> str:
    return "" if value is None else ("yes" if value else "NO")


def _share(value: object) -> str:
    return "" if value is None else f"{100 * float(value):.0f}%"  # type: ignore[arg-type]


BACKEND_KEY = [Column("backend", "Backend", text), Column("precision", "Precision", text)]
BACKEND_COLUMNS = [
    Column("convert_s", "Convert/s", num(2)),
    Column("first_call_s", "First call/ms", num(1, 1e-3)),
    Column("max_abs_diff", "Max abs Δlogit", lambda v: "" if v is None else f"{v:.2g}"),
    Column("top1_agree", "Top-1 agree", _share),
    Column("top5_agree", "Top-5 agree", _share),
    Column("equivalent", "Equivalent", _equivalent),
]


# The report's backend table (reporting/backends.py): per model and backend, and per backend the conversions.
_SPEEDUP = Column("speedup", "× eager", lambda v: "" if v is None else f"{v:.2f}×")
BACKEND_REPORT_COLUMNS = [
    Column("model", "Model", text),
    Column("threads", "Threads", text),
    *BACKEND_KEY,
    Column("median_ms", "Median/ms", num(3)),
    _SPEEDUP,
    *BACKEND_COLUMNS[2:],
]
BACKEND_COUNT_COLUMNS = [
    *BACKEND_KEY,
    Column("threads", "Threads", text),
    Column("converted", "Converted", integer),
    Column("flagged", "Not equivalent", integer),
    Column("failed", "Failed", integer),
    Column("median_speedup", "Median × eager", lambda v: "" if v is None else f"{v:.2f}×"),
    Column("min_speedup", "Min ×", lambda v: "" if v is None else f"{v:.2f}×"),
    Column("max_speedup", "Max ×", lambda v: "" if v is None else f"{v:.2f}×"),
    Column("first_error", "First error", text),
]


def backend_report_notes(settings: list[str], machines: dict[str, str]) -> list[str]:
    """What the backend table's columns mean; `settings` the device/batch/resolution of its rows, in words."""
    notes = [
        "× eager: eager fp32's median over this backend's, same model, machine, threads, batch and resolution "
        "(above 1: faster than eager; blank: no eager run to compare with). Measured by `zoobench bench --backend`"
        + (f" at {'; '.join(settings)}." if settings else "."),
        "Max abs Δlogit, Top-1/Top-5 agree: against eager fp32 on fixed-seed inputs; Equivalent = NO: beyond the "
        "precision's tolerance, so that row's latency is not the same model's.",
    ]
    if machines:
        notes.append("Machines: " + "; ".join(f"{tag} = {label}" for label, tag in machines.items()) + ".")
    return notes


_BENCH_KEY = [Column("model", "Model", text), Column("threads", "Threads", text)]
_BUSY = Column("busy", "Busy", lambda v: "yes" if v else "")
BENCH_COLUMNS = [
    *_BENCH_KEY,
    Column("median_ms", "Median/ms", num(3)),
    Column("rerun_pct", "Rerun95 ±%", num(1)),
    Column("ci_pct", "CI95 ±% (rounds)", num(1)),
    Column("p10_ms", "p10/ms (best case)", num(3)),
    *(Column(f"{k}_ms", f"{k}/ms", num(3)) for k in ("p90", "p99")),
    Column("max_ms", "Max/ms", num(3)),
    Column("rounds", "Rounds", integer),
    Column("between_rounds_pct", "Between rounds %", num(1)),
    Column("images_per_s", "Images/s", num(1)),
    Column("gflops_per_s", "GFLOP/s", num(1)),
    Column("peak_share", "fp32 peak %", num(1, 0.01)),
    Column("rss_peak_bytes", "Peak RSS/MB", num(1, 1e6)),
    Column("stop", "Stop", text),
    _BUSY,
]
BENCH_COMPARE_COLUMNS = [
    *_BENCH_KEY,
    Column("base_median_ms", "Baseline/ms", num(3)),
    Column("median_ms", "Now/ms", num(3)),
    Column("change_pct", "Change %", signed(1)),
    Column("p_value", "p (two-sided)", lambda v: "" if v is None else f"{v:.2g}"),
    Column("test", "Test", text),
    Column("verdict", "Verdict", text),
    _BUSY,
]
BENCH_ERROR = Column("error", "Error", text)  # a model that failed: its row has this instead of figures
PAIRED_COLUMNS = [
    Column("model", "Model (B)", text),
    Column("reference", "Against (A)", text),
    Column("ratio", "Ratio B/A (median of pairs)", num(4)),
    Column("ci_low", "CI95 low", num(4)),
    Column("ci_high", "CI95 high", num(4)),
    Column("pairs", "Pairs", integer),
    Column("median_ms", "B median/ms", num(3)),
    Column("reference_median_ms", "A median/ms", num(3)),
    _BUSY,
]
PAIRED_SWEEP_COLUMNS = [  # one model at each setting of a --dtype or --backend sweep, against the first
    Column("model", "Model", text),
    Column("setting", "Setting (B)", text),
    Column("reference_setting", "Against (A)", text),
    *PAIRED_COLUMNS[2:],
]
BENCH_RELATIVE = [
    Column("relative", "x reference (median of pairs)", num(4)),
    Column("relative_ci_low", "x ref. CI95 low", num(4)),
    Column("relative_ci_high", "x ref. CI95 high", num(4)),
]


BATCH = Column("batch", "Batch", text)
# The column of each swept setting (timing.SWEEPS) that the table adds beside Threads when a run sweeps it, like
# Batch; a single value is in the title. Threads is the key (always shown); Backend with its Precision whenever the
# run is not plain eager fp32 (views.with_backends).
SWEPT_COLUMNS = {
    "dtype": Column("dtype", "Dtype", text),
    "channels_last": Column("channels_last", "Layout", lambda v: "nhwc" if v else "nchw"),
    "batch": BATCH,
}
THROUGHPUT_HEAD = [
    Column("images_per_s", "Images/s", num(1)),
    Column("images_per_s_ci_low", "Images/s CI95 low", num(1)),
    Column("images_per_s_ci_high", "Images/s CI95 high", num(1)),
]


def bench_columns(
    compare: bool, failed: bool, reference: bool = False, *, throughput: bool = False, swept: Sequence[str] = ()
) -> list[Column]:
    """The bench table, with the A/B columns under --compare, the relative ones with --reference, and an Error
    column only when some model failed; throughput mode leads with images/s and its CI; each swept setting of
    `swept` (dtype, channels_last, batch) adds its column after Threads."""
    columns = list(BENCH_COMPARE_COLUMNS if compare else BENCH_COLUMNS)
    if reference and not compare:
        columns[4:4] = BENCH_RELATIVE  # beside the absolute median and its CI
    if throughput and not compare:
        columns = [c for c in columns if c.key != "images_per_s"]
        columns[2:2] = THROUGHPUT_HEAD  # the headline first
    columns[2:2] = [column for key, column in SWEPT_COLUMNS.items() if key in swept]
    return [*columns, BENCH_ERROR] if failed else columns


def layouts_phrase(layouts: Sequence[bool]) -> str:
    """', nhwc' or ', layouts nchw,nhwc' in a title (nothing for plain NCHW)."""
    names = ["nhwc" if v else "nchw" for v in layouts]
    return "" if names == ["nchw"] else f", {'layouts ' if len(names) > 1 else ''}{','.join(names)}"


def threads_note(choice: timing.ThreadChoice) -> str:
    """The line a run gets when others keep some cores busy and the default thread count leaves them out."""
    return (
        f"{choice.usable - choice.threads} of {choice.usable} cores are busy; measuring with {choice.threads} "
        "thread(s) (set --threads to override)"
    )


def best_batch_notes(best: list[timing.BestBatch]) -> list[str]:
    """One line per model and setting of the other sweeps: its best batch, and whether that is clear."""
    out = []
    for b in best:
        runner = (
            f"; its CI overlaps batch {b.next_batch}'s ({b.next_images_per_s:.1f} images/s): not a clear winner"
            if b.overlaps
            else (f"; clear of batch {b.next_batch}'s {b.next_images_per_s:.1f} images/s" if b.next_batch else "")
        )
        out.append(
            f"Best batch: {b.model}, {b.threads} thread(s){'' if b.backend == 'eager' else ', ' + b.backend}"
            f"{'' if b.dtype == 'fp32' else ', ' + b.dtype}{', nhwc' if b.channels_last else ''}: "
            f"batch {b.batch}, {b.images_per_s:.1f} images/s (95% CI {b.ci_low:.1f} .. {b.ci_high:.1f}){runner}."
        )
    return out


def bench_notes(
    config: timing.BenchConfig, policy: timing.Policy, sweep: Mapping[str, Sequence[object] | None] | None = None
) -> list[str]:
    """The notes of a bench table; `sweep` (field -> values, as timing.bench takes it) names the swept batches,
    dtypes and layouts."""
    sweep = sweep or {}
    batches = ",".join(map(str, sweep.get("batch") or [config.batch]))
    dtypes = ",".join(map(str, sweep.get("dtype") or [config.dtype]))
    layouts = [("nhwc" if v else "nchw") for v in sweep.get("channels_last") or [config.channels_last]]
    layout = "" if layouts == ["nchw"] else f", layout {','.join(layouts)} (nhwc: channels_last model and input)"
    res = "each model's native resolution" if config.resolution is None else f"{config.resolution}x{config.resolution}"
    mode = (
        "mode: throughput, each sample's calls issued back to back and synchronised once; images/s = batch / "
        "latency, its CI from the latency's"
        if config.mode == "throughput"
        else "mode: latency, one call at a time"
    )
    return [
        f"Latency of one forward pass ({mode}): batch {batches}, {res}, {dtypes}{layout}, {config.device}, eval mode "
        "under torch.inference_mode, fixed-seed input; warm-up excluded (docs/methodology.md).",
        f"Median/ms: of every timed call in {policy.rounds} rounds spread over --max-time {policy.max_time:g} s, in "
        f"{policy.processes} fresh process(es), the rounds of all models interleaved. Each call is timed alone "
        "(calls_per_run 1) unless it is shorter than the clock can time well, then in blocks.",
        "Rerun95 ±%: where a rerun's median lands, 95% prediction interval, % of the median: Student t on the log "
        "round medians with width sd x sqrt(2 (1 + 1/rounds)), since a host drifts between runs about as much as "
        "between rounds (docs/methodology.md, rerun interval). CI95 ±% (rounds): the narrower 95% CI of this run's "
        "median (sd / sqrt(rounds)); it covers the drift across this run's rounds and processes, not a later run's "
        "conditions. calls_ci_pct in CSV/JSON is the call-level CI one process alone would state.",
        f"Stop = ci: that CI reached ±{100 * policy.rel_ci:g}% (looked at from {policy.min_rounds} rounds, in two "
        "processes where there are two); "
        "Stop = max_time: every round ran. Between rounds %: sd of the log round medians (drift); "
        "within_round_pct and between_processes_pct in CSV/JSON complete the split.",
        "p10/ms (best case): the 10th percentile of single calls, a robust best case that moves least on a noisy "
        "host; p90/p99/Max: of single calls.",
        "GFLOP/s: 2 x MACs per image x images/s. fp32 peak %: of cores x clock x FMA width from /proc/cpuinfo "
        "(assumptions in each row's peak_basis; an upper-bound peak, so the share is a lower bound).",
        "Peak RSS/MB: the measuring process's peak resident memory above its state before the model was built "
        "(rss_method says how; max over processes); weight_bytes and cuda_peak_bytes in CSV/JSON.",
    ] + (
        [
            f"x reference: each model's latency relative to {config.reference}, called alternately with it pair by "
            "pair in the same process (the median of the per-pair ratios; its 95% CI from the spread between "
            "rounds): the host's drift cancels within a pair, so this figure stays put across runs. The reference "
            "shares the budget, so each model gets about half the calls."
        ]
        if config.reference
        else []
    )


def paired_notes(
    config: timing.BenchConfig, policy: timing.Policy, reference: str, swept: str | None = None
) -> list[str]:
    entries = f"every {'layout' if swept == 'channels_last' else swept} of the sweep" if swept else "every model"
    return [
        f"--paired: {entries} called alternately with {reference} (A) in one process, call by call (ABBA order), "
        f"mode {config.mode}, batch {config.batch}, {config.dtype if swept != 'dtype' else 'its dtype'}, "
        f"{config.device}; warm-up excluded.",
        "Ratio B/A: median over pairs of (B's call time / A's call time in the same pair): drift of the machine "
        f"cancels within a pair. CI95: from the spread between the ratios of {policy.rounds} rounds (Student t on "
        "their logs), covering drift of the ratio over the run.",
    ]


# --- doctor -------------------------------------------------------------------------------------------------------

DOCTOR_COLUMNS = [
    Column("check", "Check", text),
    Column("value", "Value", text),
    Column("verdict", "Verdict", text),
    Column("fix", "Fix", text),
]


def doctor_warnings(rows: list[dict]) -> list[str]:
    """bench's once-per-run lines about what on this machine can skew its latencies (`zoobench doctor` rows)."""
    return [
        line("warning", f"{r['check']}: {r['value']}: can skew these latencies (`zoobench doctor` says how to fix it)")
        for r in rows
        if isinstance(r, dict) and r.get("verdict") == "warn"
    ]


def other_machine(base: dict, now: dict) -> str | None:
    """The note when a baseline came from another machine: drift and change cannot be told apart."""
    keys = ("hostname", "cpu", "cores")
    if not base or all(base.get(k) == now.get(k) for k in keys):
        return None
    was, is_ = (", ".join(f"{k} {env.get(k)}" for k in keys) for env in (base, now))
    return (
        f"the baseline was measured on another machine ({was}; now {is_}): the comparison cannot separate the "
        "machines' difference and drift from a change of the code"
    )


DOCTOR_NOTES = [
    "Verdict ok: no skew expected; warn: latencies can be skewed or vary from run to run (the fix says how to "
    "change it; fixes that write to /sys need root and last until reboot); info: recorded with every bench result.",
]
