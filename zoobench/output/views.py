"""Every column and footnote spec in one place: what each command's table shows and how its numbers read.

Engines return rows of raw values; these specs turn them into headers, formatted cells and footnotes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoobench.output.columns import Column, integer, num, signed, text
from zoobench.output.progress import line

if TYPE_CHECKING:
    from zoobench import timing
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
        f"~{tc.budget_s:g} s per model; `zoobench bench` measures carefully (docs/methodology.md)."
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


# --- eval ---------------------------------------------------------------------------------------------------------

EVAL_COLUMNS = [
    Column("model", "Model", text),
    Column("weights", "Weights", text),
    Column("crops", "Crops", text),
    Column("crop_size", "Input", lambda r: "" if r is None else f"{r}x{r}"),
    Column("images", "Images", integer),
    Column("top1", "Top-1", num(2)),
    Column("top1_ci", "Top-1 95% CI", text),
    Column("top5", "Top-5", num(2)),
    Column("top5_ci", "Top-5 95% CI", text),
    Column("images_per_s", "Images/s", num(1)),
]
_CROP_GEOMETRY = {1: "centre crop", 5: "corners + centre", 10: "corners + centre and their horizontal flips"}


_LABEL_SETS = {
    "real": "ImageNet-ReaL labels (Beyer et al. 2020): a prediction is right when it is one of the image's real labels",
    "v2": "ImageNetV2: class folders named by class index, read as numbers",
    "a": "ImageNet-A: the 1000-way output scored over its 200 classes (the others' logits dropped before the softmax)",
    "r": "ImageNet-R: the 1000-way output scored over its 200 classes (the others' logits dropped before the softmax)",
}


def eval_columns(failed: bool) -> list[Column]:
    """The eval table; with an Error column when a model of a many-model run failed."""
    return [*EVAL_COLUMNS, Column("error", "Error", text)] if failed else EVAL_COLUMNS


def eval_display_row(row: dict) -> dict:
    """The result's row plus the interval columns as text (the table shows them; CSV and JSON keep both). A failed
    model's row (model and error only) stays as it is."""
    if row.get("error") is not None:
        return dict(row)
    return {
        **row,
        "top1_ci": f"[{row['top1_lo']:.2f}, {row['top1_hi']:.2f}]",
        "top5_ci": f"[{row['top5_lo']:.2f}, {row['top5_hi']:.2f}]",
    }


def eval_title(rows: list[dict]) -> str:
    ok = [r for r in rows if r.get("error") is None]
    what = rows[0]["model"] if len(rows) == 1 else f"{len(rows)} models"
    if not ok:
        return f"zoobench eval: {what}"
    return f"zoobench eval: {what} on {ok[0]['images']:,} images, {ok[0]['crops']}-crop"


def eval_notes(row: dict, skipped: list[tuple[str, str]]) -> list[str]:
    """The settings in sentences, for the Markdown footnotes and the JSON document."""
    notes = [
        f"Top-1/Top-5: % of {row['images']:,} images of {row['data']} ({row['classes']} classes, labels from "
        f"{row['classes_source']}); the brackets are the {row['ci']}.",
        f"{row['crops']}-crop: {row['resize']}, then {row['crop_size']}x{row['crop_size']} "
        f"{_CROP_GEOMETRY[row['crops']]}; {row['interpolation']}; decoder {row['decoder']}; crops averaged as "
        + ("softmax probabilities." if row["average"] == "softmax" else "logits, then softmax."),
        f"Weights: {row['weights']}" + (f" (sha256 {row['weights_sha256']})." if row["weights_sha256"] else "."),
        f"Images/s: {row['dataset_images']:,} images / {row['wall_s']:.1f} s wall on {row['device']}, {row['dtype']}, "
        f"batch {row['batch_size']} images, loader workers per process: {row['workers']}, torch threads: "
        f"{row['torch_threads']} ({row['loader_plan']}); decode + resize took {row['decode_s']:.1f} CPU s, "
        f"normalising and the model {row['model_s']:.1f} s"
        + (
            f"; {row['models_in_pass']} models shared each decoded image, and the wall time."
            if row["models_in_pass"] > 1
            else "."
        ),
    ]
    if row.get("preprocess") == "weights" or row.get("recipe_overrides"):
        notes.insert(2, _recipe_note(row))
    if row["labels"] in _LABEL_SETS:
        notes.append(
            _LABEL_SETS[row["labels"]]
            + (f"; {row['left_out']:,} images without a real label left out." if row["left_out"] else ".")
        )
    if row["random_init"]:
        notes.append("The model is randomly initialised (no --weights): these accuracies are chance level.")
    if skipped:
        files = [f for f, _ in skipped]
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        notes.append(
            f"{len(skipped)} unreadable images were skipped (--skip-bad) and left out of both denominators: {shown}"
        )
    if row["top5_k"] < 5:
        notes.append(f"Only {row['classes']} classes: 'top-5' is top-{row['top5_k']}.")
    if row["published_source"]:
        notes.append(
            f"Published: top-1 {row['published_top1']}, top-5 {row['published_top5']} ({row['published_source']}"
            + (f"; {row['published_protocol']}" if row.get("published_protocol") else "")
            + ")."
        )
    return notes


def _recipe_note(row: dict) -> str:
    """Whose preprocessing the model saw, and which options changed it."""
    whose = "the weights' own" if row["preprocess"] == "weights" else "the seed's (224 in 256, bilinear)"
    changed = f"; changed by {row['recipe_overrides']}" if row.get("recipe_overrides") else ""
    return (
        f"Preprocessing: {whose}, {row['recipe']}{changed}: {row['crop_size']} inside {row['resize_size']}, "
        f"{row['interpolation']}, mean {row['mean']}, std {row['std']}."
    )


def eval_many_notes(rows: list[dict], skipped: list[tuple[str, str]]) -> list[str]:
    """The notes of a many-model run: the settings once (from the first model evaluated), then each model's
    weights and published figures; a failed model's error."""
    ok = [r for r in rows if r.get("error") is None]
    if len(rows) == 1 and ok:
        return eval_notes(ok[0], skipped)
    own = ("Weights:", "Published:", "The model is randomly")
    notes = [n for n in eval_notes(ok[0], skipped) if not n.startswith(own)] if ok else []
    for r in rows:
        if r.get("error") is not None:
            notes.append(f"{r['model']}: failed: {r['error']}")
            continue
        weights = f"weights {r['weights']}" if not r["random_init"] else "randomly initialised (chance level)"
        published = (
            f"; published top-1 {r['published_top1']}, top-5 {r['published_top5']} ({r['published_source']})"
            if r["published_source"]
            else ""
        )
        notes.append(f"{r['model']}: {r['crop_size']}x{r['crop_size']} inside {r['resize']}, {weights}{published}.")
    return notes


def accuracy_recipes(recipes: dict[str, list[str]]) -> list[str]:
    """The report's footnotes on measured accuracy: per recipe (weights, preprocessing, result file), its models."""
    return [f"Measured top-1/top-5 of {', '.join(models)}: {recipe}." for recipe, models in recipes.items()]


# --- bench --------------------------------------------------------------------------------------------------------

BENCH_COLUMNS = [
    Column("model", "Model", text),
    Column("threads", "Threads", text),
    Column("median_ms", "Median/ms", num(3)),
    Column("ci_pct", "CI95 ±% (rounds)", num(1)),
    Column("p10_ms", "p10/ms (best case)", num(3)),
    Column("p90_ms", "p90/ms", num(3)),
    Column("p99_ms", "p99/ms", num(3)),
    Column("max_ms", "Max/ms", num(3)),
    Column("rounds", "Rounds", integer),
    Column("between_rounds_pct", "Between rounds %", num(1)),
    Column("images_per_s", "Images/s", num(1)),
    Column("gflops_per_s", "GFLOP/s", num(1)),
    Column("peak_share", "fp32 peak %", num(1, 0.01)),
    Column("rss_peak_bytes", "Peak RSS/MB", num(1, 1e6)),
    Column("stop", "Stop", text),
    Column("busy", "Busy", lambda v: "yes" if v else ""),
]
BENCH_COMPARE_COLUMNS = [
    Column("model", "Model", text),
    Column("threads", "Threads", text),
    Column("base_median_ms", "Baseline/ms", num(3)),
    Column("median_ms", "Now/ms", num(3)),
    Column("change_pct", "Change %", signed(1)),
    Column("p_value", "p (two-sided)", lambda v: "" if v is None else f"{v:.2g}"),
    Column("test", "Test", text),
    Column("verdict", "Verdict", text),
    Column("busy", "Busy", lambda v: "yes" if v else ""),
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
    Column("busy", "Busy", lambda v: "yes" if v else ""),
]


def bench_columns(compare: bool, failed: bool) -> list[Column]:
    """The bench table, with the A/B columns under --compare and an Error column only when some model failed."""
    columns = BENCH_COMPARE_COLUMNS if compare else BENCH_COLUMNS
    return [*columns, BENCH_ERROR] if failed else list(columns)


def bench_notes(config: timing.BenchConfig, policy: timing.Policy) -> list[str]:
    res = "each model's native resolution" if config.resolution is None else f"{config.resolution}x{config.resolution}"
    return [
        f"Latency of one forward pass (mode: latency, one call at a time): batch {config.batch}, {res}, "
        f"{config.dtype}, {config.device}, eval mode under torch.inference_mode, fixed-seed input; warm-up excluded "
        "(docs/methodology.md).",
        f"Median/ms: of every timed call in {policy.rounds} rounds spread over --max-time {policy.max_time:g} s, in "
        f"{policy.processes} fresh process(es), the rounds of all models interleaved. Each call is timed alone "
        "(calls_per_run 1) unless it is shorter than the clock can time well, then in blocks.",
        "CI95 ±% (rounds): half-width of the 95% CI of the median, % of it, from the spread between round medians "
        "(Student t on their logs): it covers the machine's drift across this run's rounds and processes, not "
        "a later run's conditions. calls_ci_pct in CSV/JSON is the call-level CI one process alone would state.",
        f"Stop = ci: that CI reached ±{100 * policy.rel_ci:g}% (from {policy.min_rounds} rounds in two processes); "
        "Stop = max_time: every round ran. Between rounds %: sd of the log round medians (drift); "
        "within_round_pct and between_processes_pct in CSV/JSON complete the split.",
        "p10/ms (best case): the 10th percentile of single calls, a robust best case that moves least on a noisy "
        "host; p90/p99/Max: of single calls.",
        "GFLOP/s: 2 x MACs per image x images/s. fp32 peak %: of cores x clock x FMA width from /proc/cpuinfo "
        "(assumptions in each row's peak_basis; an upper-bound peak, so the share is a lower bound).",
        "Peak RSS/MB: the measuring process's peak resident memory above its state before the model was built "
        "(rss_method says how; max over processes); weight_bytes and cuda_peak_bytes in CSV/JSON.",
    ]


def paired_notes(config: timing.BenchConfig, policy: timing.Policy, reference: str) -> list[str]:
    return [
        f"--paired: every model called alternately with {reference} (A) in one process, call by call (ABBA order), "
        f"batch {config.batch}, {config.dtype}, {config.device}; warm-up excluded.",
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
DOCTOR_NOTES = [
    "Verdict ok: no skew expected; warn: latencies can be skewed or vary from run to run (the fix says how to "
    "change it; fixes that write to /sys need root and last until reboot); info: recorded with every bench result.",
]


# --- report -------------------------------------------------------------------------------------------------------

PAPER = "†"  # marks a published (paper) accuracy in the report's table
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
