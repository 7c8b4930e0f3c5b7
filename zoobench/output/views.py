"""Every column and footnote spec in one place: what each command's table shows and how its numbers read.

Engines return rows of raw values; these specs turn them into headers, formatted cells and footnotes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoobench.output.columns import Column, integer, num, signed, text
from zoobench.output.progress import line
from zoobench.output.views_bench import (  # noqa: F401 (bench/doctor specs, reachable as views.<name>)
    _BENCH_KEY,
    _BUSY,
    BACKEND_COLUMNS,
    BACKEND_COUNT_COLUMNS,
    BACKEND_KEY,
    BACKEND_REPORT_COLUMNS,
    BENCH_COLUMNS,
    BENCH_COMPARE_COLUMNS,
    BENCH_ERROR,
    BENCH_RELATIVE,
    DOCTOR_COLUMNS,
    DOCTOR_NOTES,
    PAIRED_COLUMNS,
    PAIRED_SWEEP_COLUMNS,
    backend_report_notes,
    bench_columns,
    bench_notes,
    best_batch_notes,
    doctor_warnings,
    layouts_phrase,
    other_machine,
    paired_notes,
    threads_note,
)
from zoobench.output.views_eval import (  # noqa: F401 (eval's specs, reachable as views.<name> like every other)
    EVAL_COLUMNS,
    accuracy_recipes,
    eval_columns,
    eval_display_row,
    eval_many_notes,
    eval_notes,
    eval_title,
)

if TYPE_CHECKING:
    from zoobench.profiling import TimeCast

# --- the seed's Markdown layout ----------------------------------------------------------------------------------

SEED_COLUMNS = [
    Column("model", "Model", text),
    Column("params", "Params/Million", num(6, 1e6)),
    Column("macs", "MACs/G", num(5, 1e9)),
    Column("flops", "FLOPs/G", num(5, 1e9)),
    Column("time_ms", "Time_cast/ms", num(2)),
    Column("top1", "Top-1", num(2)),
    Column("top5", "Top-5", num(2)),
]


# --- list ---------------------------------------------------------------------------------------------------------

LIST_COLUMNS = [
    Column("name", "Name", text),
    Column("aliases", "Aliases", text),
    Column("family", "Family", text),
    Column("year", "Year", text),
    Column("resolution", "Native res.", text),
    Column("paper", "Paper", text),
    Column("arxiv", "arXiv", text),
]

WEIGHTS_COLUMNS = [
    Column("model", "Model", text),
    Column("weights", "Weights", text),
    Column("top1", "Top-1", num(2)),
    Column("top5", "Top-5", num(2)),
    Column("protocol", "Published as", text),
    Column("recipe", "Preprocessing", text),
    Column("normalisation", "Mean / std", text),
]


def weights_notes(rows: list[dict], models: int, missing: dict[str, str]) -> list[str]:
    """The footnotes of `list --weights`: what each column means, and which sources could not be listed."""
    covered = len({r["model"] for r in rows})
    notes = [
        f"{len(rows)} released weights for {covered} of {models} models; `zoobench eval MODEL --weights WEIGHTS` "
        "loads one (mapped strictly into the zoo model) and evaluates it with its own preprocessing.",
        "Top-1/Top-5: the accuracy the source publishes for those weights (torchvision: meta['_metrics']; "
        "pytorchcv: its model store's top-5 error); timm ships no accuracy table in its wheel. Published as: "
        "crops, test resolution and publisher.",
        "Preprocessing: crop inside resize (shorter side; 'squash': the whole image to a square), interpolation, "
        "taken from the source (torchvision weights.transforms(), timm pretrained_cfg, pytorchcv's model store); "
        "CSV/JSON carry crop_pct, mean, std and where each came from.",
    ]
    notes += [f"Not listed: {why}" for why in missing.values()]
    return notes


# --- profile ------------------------------------------------------------------------------------------------------

MEMORY_COLUMNS = [
    Column("weight_bytes", "Weights/MB", num(1, 1e6)),
    Column("activation_bytes", "Activations/MB", num(1, 1e6)),
    Column("peak_activation_bytes", "Peak act./MB", num(1, 1e6)),
]
PROFILE_EXTRA_COLUMNS = {"memory": MEMORY_COLUMNS}  # --columns NAME: groups the table adds (CSV/JSON carry all)


def profile_columns(compare: bool, native: bool, md: bool = False, extra: tuple[str, ...] = ()) -> list[Column]:
    """The seed's columns (the Markdown table keeps exactly those), plus input size, fp32 size, the `extra` groups
    (PROFILE_EXTRA_COLUMNS) and seed figures."""
    cols = [
        SEED_COLUMNS[0],
        Column("resolution", "Input", lambda r: f"{r}x{r}"),
        *SEED_COLUMNS[1:4],
        Column("size_mb", "Size/MB (fp32)", num(1)),
        *SEED_COLUMNS[4:],
    ]
    if not native:
        cols.pop(1)
    if md:
        cols = [c for c in cols if c.key != "size_mb"]
    cols += [c for group in extra for c in PROFILE_EXTRA_COLUMNS[group]]
    if compare:
        cols += [
            Column("seed_model", "Seed row", text),
            Column("seed_params", "Seed Params/Million", num(6, 1e6)),
            Column("d_params", "ΔParams", integer),
            Column("seed_flops", "Seed FLOPs/G", num(5, 1e9)),
            Column("d_flops", "ΔFLOPs/G", signed(5, 1e9)),
        ]
    return cols


def profile_footnotes(
    resolution: int | None,
    compare: bool,
    time_cast: str | None = None,
    *,
    batch: int = 1,
    uncounted: dict | None = None,
) -> list[str]:
    """`uncounted`: operator kind without a MAC formula -> how many of the table's models ran it."""
    at = "each model's native resolution (Input column)" if resolution is None else f"{resolution}x{resolution}"
    per = "per image (batch 1)" if batch == 1 else f"per image (the forward ran at batch {batch})"
    notes = [
        "Params/Million: all parameters (weights and biases), in millions.",
        f"MACs/G: multiply-accumulates of convolutions, linear layers and matmuls {per} at {at}, "
        "in 10^9, counted at the aten level on the meta device. FLOPs/G = 2 x MACs/G.",
        time_cast or "Time_cast/ms: not measured (--no-time); `zoobench bench` measures latency, nothing is estimated.",
        "Top-1/Top-5: published ImageNet-1k val accuracy from each model's paper (`zoobench list` names it), "
        "not measured by this table.",
        "Memory (CSV/JSON weight_bytes, activation_bytes, peak_activation_bytes; the table's with --columns memory): "
        f"fp32 parameters and buffers; the bytes of every operator output of one forward at batch {batch}, summed "
        "(in-place results included, views not); the most activation memory alive at once (the input included, "
        "weights not), by tensor lifetimes on the meta device, freed as eager inference frees them.",
    ]
    if uncounted:
        kinds = sorted(uncounted, key=lambda k: (-uncounted[k], k))
        notes.append(
            f"Not in MACs: {len(kinds)} aten operator kind(s) ran without a MAC formula ({', '.join(kinds[:5])}"
            f"{', …' if len(kinds) > 5 else ''}); `zoobench profile --ops` lists each with its calls and elements."
        )
    if compare:
        notes.append(
            "Seed columns: the seed README's figures; its FLOPs include BN/ReLU/pool elements and miss convolutions "
            "that module hooks cannot see (docs/seed-reconciliation.md)."
        )
    return notes


def time_cast_note(tc: TimeCast | None) -> str | None:
    """Time_cast's footnote: how it was measured, or None (the default note says it was not)."""
    if tc is None:
        return None
    return (
        f"Time_cast/ms: measured median latency of one forward pass in ms (batch {tc.batch}, fp32, eval mode, "
        f"torch.inference_mode, warm-up excluded) with {tc.threads} pinned thread(s) on "
        f"{tc.cpu} ({tc.cores} usable cores), a quick budget of "
        f"~{tc.budget_s:g} s per model in {tc.rounds} rounds; `zoobench bench` measures carefully "
        "(docs/methodology.md)."
        + (
            f" Precision reached: a rerun lands within ±{tc.rerun_pct:.0f}% (95% rerun interval from the spread "
            f"between rounds; median over the models, widest ±{tc.widest_pct:.0f}% for {tc.widest_model})."
            if tc.rerun_pct is not None
            else " Precision: unknown (one round per model gives no spread between rounds)."
        )
        + (f" {tc.busy} of {tc.timed} models were timed while the machine was busy." if tc.busy else "")
    )


def busy_warning(busy: int, total: int) -> str:
    """The one wording of "the machine was busy", for every command that times."""
    return line("warning", f"{busy} of {total} measurement(s) ran on a busy machine; rerun on a quiet one")


def failed_summary(failed: list[str], total: int) -> str:
    """The closing line of a bulk run in which some models failed (each already had its own error line)."""
    return f"{len(failed)} of {total} model(s) failed: {', '.join(failed)}"


LAYER_COLUMNS = [
    Column("model", "Model", text),
    Column("module", "Module", text),
    Column("type", "Type", text),
    Column("depth", "Depth", text),
    Column("output_shape", "Output", text),
    Column("params", "Params", integer),
    Column("macs", "MACs", integer),
    Column("share_pct", "Share %", num(1)),
    Column("act_elements", "Act. elements", integer),
    Column("act_bytes", "Act./MB", num(3, 1e6)),
]


def layer_title(model: str, resolution: int, params: int, macs: int) -> str:
    return f"{model} at {resolution}px: {params:,} params, {macs:,} MACs per image"


def layer_notes(batch: int) -> list[str]:
    return [
        "Output: the shape of the module's first call (Calls in CSV/JSON counts them). MACs: per image, of every "
        "operator that ran while the module's forward did (its children's included); Share %: of the whole model.",
        f"Act.: elements and bytes the module's operators wrote in one forward at batch {batch} (in-place results "
        "included, views not); the whole model's row is the profile's activation_bytes.",
    ]


OPS_COLUMNS = [
    Column("model", "Model", text),
    Column("operator", "Operator", text),
    Column("counted", "In MACs", lambda v: "yes" if v else "no"),
    Column("calls", "Calls", integer),
    Column("macs", "MACs", integer),
    Column("share_pct", "Share %", num(1)),
    Column("elements_read", "Elements read", integer),
    Column("elements_written", "Elements written", integer),
]


def ops_notes(uncounted: list[str], batch: int) -> list[str]:
    return [
        f"{len(uncounted)} operator kind(s) ran without a MAC formula and are in no MACs figure: "
        f"{', '.join(uncounted) or 'none'}.",
        "MACs: per image, from torch's FLOP formulas (torch.utils.flop_counter), overloads merged; Share %: of the "
        f"model's MACs. Elements: of the operator's tensor inputs and outputs over one forward at batch {batch}; "
        "views (view, t, transpose, …) move no data and read and write none.",
    ]


def _minus_from_100(v: float | None) -> float | None:
    return None if v is None else round(100 - v, 3)


def _scaled(v: float | None, scale: float) -> float | None:
    return None if v is None else v / scale


# --format timm-csv: the columns of timm's benchmark-infer-*.csv, then results-imagenet.csv's, from a profile row.
# infer_step_time is Time_cast (ms per batch; blank with --no-time); infer_macts (fvcore's activation count) is not
# counted here and stays blank; param_count is in millions and infer_gmacs in 10^9 MACs per image, as timm's are.
TIMM_FIELDS = {
    "model": lambda r: r["model"],
    "infer_samples_per_sec": lambda r: 1e3 * r["batch"] / r["time_ms"] if r.get("time_ms") else None,
    "infer_step_time": lambda r: r.get("time_ms"),
    "infer_batch_size": lambda r: r.get("batch"),
    "infer_img_size": lambda r: r.get("resolution"),
    "infer_gmacs": lambda r: _scaled(r.get("macs"), 1e9),
    "infer_macts": lambda r: None,
    "param_count": lambda r: _scaled(r.get("params"), 1e6),
    "img_size": lambda r: r.get("resolution"),
    "top1": lambda r: r.get("top1"),
    "top1_err": lambda r: _minus_from_100(r.get("top1")),
    "top5": lambda r: r.get("top5"),
    "top5_err": lambda r: _minus_from_100(r.get("top5")),
}


def timm_rows(rows: list[dict]) -> list[dict]:
    return [{k: f(r) for k, f in TIMM_FIELDS.items()} | ({"error": r["error"]} if "error" in r else {}) for r in rows]


# --- check --------------------------------------------------------------------------------------------------------

CHECK_COLUMNS = [
    Column("model", "Model", text),
    Column("status", "Status", text),
    Column("params_baseline", "Params (baseline)", integer),
    Column("params", "Params (now)", integer),
    Column("macs_baseline", "MACs@224 (baseline)", integer),
    Column("macs", "MACs@224 (now)", integer),
]


# --- eval: zoobench/output/views_eval.py (imported above: views.EVAL_COLUMNS and the rest work as before) ---


# --- bench and doctor: zoobench/output/views_bench.py (imported above) ---


# --- backends (bench --backend, eval --backend) --------------------------------------------------------------------


def with_backends(columns: list[Column]) -> list[Column]:
    """A bench table with the backend and precision beside the threads and the conversion and equivalence
    figures after the statistics (before Busy and Error, which stay last)."""
    keys = [c.key for c in columns]
    at = keys.index("threads") + 1 if "threads" in keys else 1
    out = [*columns[:at], *BACKEND_KEY, *columns[at:]]
    tail = next((i for i, c in enumerate(out) if c.key in ("busy", "error")), len(out))
    return [*out[:tail], *BACKEND_COLUMNS, *out[tail:]]


def backend_phrase(m: object) -> str:
    """'onnxruntime int8, ' before a bench progress line (nothing for plain eager fp32)."""
    backend, precision = getattr(m, "backend", "eager"), getattr(m, "precision", "fp32")
    return "" if (backend, precision) == ("eager", "fp32") else f"{backend} {precision}, "


# What each runtime says about its threads and precision, for the notes (every setting is in CSV/JSON).
_REPORTED = {
    "onnxruntime": ("intra_op_num_threads", "inter_op_num_threads", "execution_mode", "os_threads_started"),
    "openvino": ("INFERENCE_NUM_THREADS", "NUM_STREAMS", "INFERENCE_PRECISION_HINT", "ENABLE_CPU_PINNING",
                 "os_threads_started"),
}  # fmt: skip


def backend_notes(rows: list[dict]) -> list[str]:
    """What the backend columns mean, and what each runtime reported as its threads (from the rows)."""
    notes = [
        "Backend: eager (PyTorch), compile (torch.compile), onnxruntime or openvino (both from one torch.onnx.export "
        "file, cached per model, weights, settings and versions under --cache-dir); int8 is onnxruntime's static "
        "QDQ quantization with the calibration named in the row. Convert/s: export (or cache load) and session "
        "creation; First call/ms: the first call alone; neither is in the timed rounds.",
        "Max abs Δlogit, Top-1/Top-5 agree: against eager fp32 on fixed-seed inputs; Equivalent = NO (and a warning) "
        "beyond the precision's tolerance (tolerance in CSV/JSON, relative to the largest eager logit): "
        "that row's latency is not the same model's.",
    ]
    seen: dict[str, str] = {}
    for r in rows:
        keys = _REPORTED.get(r.get("backend") or "")
        settings = r.get("runtime_settings") or {}
        if keys and settings and r["backend"] not in seen:
            seen[r["backend"]] = f"{r['backend']}: " + ", ".join(f"{k} {settings.get(k)}" for k in keys)
    if seen:
        notes.append("As the runtimes reported them: " + "; ".join(seen.values()) + ".")
    return notes


# --- report -------------------------------------------------------------------------------------------------------

PAPER = "†"  # marks a published (paper) accuracy in the report's table
NOT_1CROP = "‡"  # marks a published figure that is not 1-crop at the table's resolution (10-crop, dense, 600 px)
TABLE_COLUMNS = [
    *SEED_COLUMNS[:5],
    Column("top1_text", SEED_COLUMNS[5].header, text),
    Column("top5_text", SEED_COLUMNS[6].header, text),
]
# Who measured a latency the report shows, by the source the reader gave it.
LATENCY_SOURCES = {
    "bench": "`zoobench bench`",
    "parity": "benchmarks/bench_parity.py's runs interleaved with torchvision",
    "profile": "`zoobench profile`'s quick timing",
}
BUSY_NOTE = (
    "{busy} of {n} latencies were measured while the machine was busy (bench warned of load from other processes): "
    "rerun them on a quiet machine before trusting them."
)


def measured_by(sources: list[str]) -> str:
    return " and ".join(LATENCY_SOURCES.get(s, s) for s in sources)


def report_footnotes(
    *,
    resolutions: list[int],
    time_cast: tuple[str, str, str] | None,
    rows: int,
    missing: int,
    busy: int,
    other_machines: list[str],
    crops: list[int],
    measured: bool,
    ignored: list[str],
) -> list[str]:
    """The report table's footnotes. `time_cast` is (who measured, setting, machine) or None without latencies;
    `missing` counts the `rows` without one; `ignored` names the eval results not shown as accuracy, with why."""
    at = ", ".join(f"{r}x{r}" for r in resolutions) or "the resolution each result file states"
    notes = [
        "Params/Million: all parameters, in millions. MACs/G: multiply-accumulates of convolutions, linear layers and "
        f"matmuls per image (batch 1) at {at}, in 10^9, as `zoobench profile` counts them; FLOPs/G = 2 x MACs/G.",
    ]
    if time_cast is None:
        notes.append("Time_cast/ms: blank: no bench results were given (never estimated).")
    else:
        by, setting, machine = time_cast
        notes.append(
            f"Time_cast/ms: median latency of one forward pass measured by {by} ({setting}) on {machine}"
            + (f"; blank for the {missing} model(s) not measured at that setting." if missing else ".")
        )
        if busy:
            notes.append(BUSY_NOTE.format(busy=busy, n=rows - missing))
        if other_machines:
            notes.append(
                f"Latencies from other machines are in the plots and the HTML report: {'; '.join(other_machines)}."
            )
    how = f"{'/'.join(str(c) for c in crops)}-crop" if crops else "settings in the eval results"
    if measured:
        notes.append(
            f"Top-1/Top-5: ImageNet-1k val accuracy in %, measured by `zoobench eval` ({how}) where unmarked; "
            f"{PAPER} marks the paper's published figure (not measured here); blank: neither."
        )
    else:
        notes.append(
            f"Top-1/Top-5 {PAPER}: the papers' published ImageNet-1k val accuracy in %, not measured here "
            "(no eval results were given); blank: none published."
        )
    if ignored:
        notes.append(f"Eval results not shown as ImageNet accuracy: {', '.join(ignored)}.")
    return notes


def protocol_notes(*, marked: list[str], left_out: bool) -> list[str]:
    """What ‡ means and which figures carry it; or, with --published 1crop, that the others were left out."""
    if left_out:
        return [
            "--published 1crop: only published figures measured 1-crop at the table's resolution are shown; "
            "10-crop, dense, multi-scale and other-resolution figures are left blank."
        ]
    if not marked:
        return []
    shown = ", ".join(marked[:8]) + (f" and {len(marked) - 8} more" if len(marked) > 8 else "")
    return [
        f"{NOT_1CROP}: a published figure not measured 1-crop at the table's resolution (10-crop, dense evaluation, "
        f"another test size; or a protocol not stated), so not comparable with a 1-crop measurement: {shown}. "
        "`zoobench list --weights` and profile's CSV name each figure's protocol; --published 1crop leaves them out."
    ]


# --- prepare-imagenet ---------------------------------------------------------------------------------------------


def _count_or_text(value: object) -> str:
    """Counts with thousands separators; an MD5 row's hex digests as they are; blank where a row has none."""
    if value is None or value == "":
        return ""
    return f"{value:,}" if isinstance(value, int) else str(value)


PREPARE_COLUMNS = [
    Column("split", "Split", text),
    Column("class", "Class", text),
    Column("expected", "Expected", _count_or_text),
    Column("found", "Found", _count_or_text),
    Column("status", "Status", text),
    Column("extracted", "Written now", _count_or_text),
    Column("resumed", "Done before", _count_or_text),
    Column("bytes", "Size/MB", num(1, 1e6)),
    Column("seconds", "Time/s", num(1)),
]
