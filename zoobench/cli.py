"""The `zoobench` command line: parse options, call the library, hand rows to report. No logic here.

stdout carries data only; progress, logs and warnings go to stderr. Exit 0 success, 1 a check found a
difference, 2 bad usage or bad input (one line on stderr; `--debug` shows the traceback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from zoobench import report
from zoobench.errors import ZooError

# torch takes seconds to import: commands import the modules that need it themselves, so that
# `zoobench --help` and `zoobench prepare-imagenet` start at once.
if TYPE_CHECKING:
    from zoobench import timing

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Benchmark a zoo of ImageNet CNNs: params, MACs/FLOPs, latency, accuracy.",
)
err = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}
# Typer vendors click in recent releases and uses the click package in older ones: take the class from Typer.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

# Shared option types, so every command spells them the same way.
Models = Annotated[
    list[str] | None,
    typer.Argument(help="Model names, aliases, globs ('resnet*'), torchvision:<name> or package.module:callable."),
]
AllModels = Annotated[bool, typer.Option("--all", help="Every registered model.")]
Family = Annotated[str | None, typer.Option("--family", help="Only this family (see `zoobench list`).")]
Format = Annotated[
    str | None,
    typer.Option("--format", "-f", help="table|md|csv|json. Default: table on a terminal, md when redirected."),
]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (format from its extension).")]
Resolution = Annotated[int, typer.Option("--resolution", "-r", help="Input height = width in pixels.")]
Native = Annotated[
    bool,
    typer.Option("--native-resolution", help="Use each model's native resolution instead of --resolution."),
]


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug


LIST_COLUMNS = [
    report.Column("name", "Name", report.text),
    report.Column("aliases", "Aliases", report.text),
    report.Column("family", "Family", report.text),
    report.Column("year", "Year", report.text),
    report.Column("resolution", "Native res.", report.text),
    report.Column("paper", "Paper", report.text),
    report.Column("arxiv", "arXiv", report.text),
]


@app.command("list")
def list_cmd(
    patterns: Annotated[list[str] | None, typer.Argument(help="Glob patterns over canonical names.")] = None,
    family: Family = None,
    year: Annotated[int | None, typer.Option("--year", help="Only models from this year.")] = None,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """The registry: every model with its aliases, family, year, native resolution and paper."""
    from zoobench import registry

    specs = registry.select(patterns or [], all_models=not patterns, family=family)
    if year is not None:
        specs = [s for s in specs if s.year == year]
    if not specs:
        raise ZooError("no model matches that selection")
    rows = [
        {
            "name": s.name,
            "aliases": ", ".join(s.aliases),
            "family": s.family,
            "year": s.year,
            "resolution": s.resolution,
            "paper": s.paper.title,
            "arxiv": s.paper.arxiv,
            "torchvision_twin": s.torchvision,
        }
        for s in specs
    ]
    report.emit(rows, LIST_COLUMNS, fmt=fmt, output=output, title=f"zoobench: {len(rows)} models")


def _profile_columns(compare: bool, native: bool, md: bool = False) -> list[report.Column]:
    """The seed's columns (the Markdown table keeps exactly those), plus input size, fp32 size and seed figures."""
    cols = [
        report.SEED_COLUMNS[0],
        report.Column("resolution", "Input", lambda r: f"{r}x{r}"),
        *report.SEED_COLUMNS[1:4],
        report.Column("size_mb", "Size/MB (fp32)", report.num(1)),
        *report.SEED_COLUMNS[4:],
    ]
    if not native:
        cols.pop(1)
    if md:
        cols = [c for c in cols if c.key != "size_mb"]
    if compare:
        cols += [
            report.Column("seed_model", "Seed row", report.text),
            report.Column("seed_params", "Seed Params/Million", report.num(6, 1e6)),
            report.Column("d_params", "ΔParams", report.integer),
            report.Column("seed_flops", "Seed FLOPs/G", report.num(5, 1e9)),
            report.Column("d_flops", "ΔFLOPs/G", report.signed(5, 1e9)),
        ]
    return cols


def _profile_footnotes(resolution: int | None, compare: bool, time_cast: str | None = None) -> list[str]:
    at = "each model's native resolution (Input column)" if resolution is None else f"{resolution}x{resolution}"
    notes = [
        "Params/Million: all parameters (weights and biases), in millions.",
        f"MACs/G: multiply-accumulates of convolutions, linear layers and matmuls per image (batch 1) at {at}, "
        "in 10^9, counted at the aten level on the meta device. FLOPs/G = 2 x MACs/G.",
        time_cast or "Time_cast/ms: not measured (--no-time); `zoobench bench` measures latency, nothing is estimated.",
        "Top-1/Top-5: published ImageNet-1k val accuracy from each model's paper (`zoobench list` names it), "
        "not measured by this table.",
    ]
    if compare:
        notes.append(
            "Seed columns: the seed README's figures; its FLOPs include BN/ReLU/pool elements and miss convolutions "
            "that module hooks cannot see (docs/seed-reconciliation.md)."
        )
    return notes


@app.command()
def profile(
    models: Models = None,
    all_models: AllModels = False,
    family: Family = None,
    resolution: Resolution = 224,
    native: Native = False,
    layers: Annotated[bool, typer.Option("--layers", help="Per-layer breakdown as a tree.")] = False,
    depth: Annotated[int, typer.Option("--depth", help="Levels shown by --layers.")] = 2,
    compare: Annotated[
        str | None, typer.Option("--compare", help="'seed': show the seed's figures and our difference.")
    ] = None,
    no_time: Annotated[
        bool, typer.Option("--no-time", help="Skip the quick latency measurement that fills Time_cast.")
    ] = False,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """Params, MACs and FLOPs per image (MACs = multiply-accumulates of conv/linear/matmul; FLOPs = 2 x MACs).

    Counted at the aten level on the meta device, at --resolution (default 224, the seed's setting) or each
    model's native resolution, batch 1.
    """
    from zoobench import complexity, environment, registry, timing

    if compare not in (None, "seed"):
        raise ZooError(f"--compare takes 'seed', not {compare!r}")
    specs = registry.select(models or [], all_models=all_models, family=family)
    res = None if native else resolution
    if layers:
        out = Console()
        for spec in specs:
            costs = complexity.layer_costs(spec, res, depth)
            total = costs[0].macs
            title = f"{spec.name} at {res or spec.resolution}px: {costs[0].params:,} params, {total:,} MACs per image"
            out.print(report.layer_tree(title, costs, total))
        return
    rows = complexity.profile(specs, res, compare_seed=compare == "seed")
    time_note = None
    if not no_time:  # Time_cast: a quick in-process latency median per model (timing.QUICK budget)
        report.resolve_format(fmt, output)  # a bad format or path fails before the measuring, not after
        with err.status("Time_cast: measuring latency") as status:
            measured = timing.bench(
                specs,
                timing.BenchConfig(resolution=res, policy=timing.QUICK),
                isolate=False,
                on_result=lambda m: status.update(f"Time_cast: {m.model} {m.median_ms:.2f} ms"),
            )
        for row, m in zip(rows, measured, strict=True):
            row["time_ms"] = m.median_ms
        busy = sum(m.busy for m in measured)
        time_note = (
            "Time_cast/ms: measured median latency of one forward pass in ms (batch 1, fp32, eval mode, "
            f"torch.inference_mode, warm-up excluded) with {measured[0].threads} pinned thread(s) on "
            f"{environment.cpu_model()} ({environment.usable_cores()} usable cores), a quick budget of "
            f"~{timing.QUICK.max_time:g} s per model; `zoobench bench` measures carefully (docs/methodology.md)."
            + (f" {busy} of {len(measured)} models were timed while the machine was busy." if busy else "")
        )
    columns = _profile_columns(compare == "seed", native)
    notes = _profile_footnotes(res, compare == "seed", time_note)
    report.emit(
        rows,
        columns,
        fmt=fmt,
        output=output,
        title="zoobench profile (MACs per image; FLOPs = 2 x MACs)",
        md=lambda r: report.seed_markdown(r, _profile_columns(compare == "seed", native, md=True), notes),
        environment=environment.collect(),
        json_extra={"notes": notes},
    )


CHECK_COLUMNS = [
    report.Column("model", "Model", report.text),
    report.Column("status", "Status", report.text),
    report.Column("params_baseline", "Params (baseline)", report.integer),
    report.Column("params", "Params (now)", report.integer),
    report.Column("macs_baseline", "MACs@224 (baseline)", report.integer),
    report.Column("macs", "MACs@224 (now)", report.integer),
]


@app.command()
def check(
    baseline: Annotated[Path, typer.Option("--baseline", help="Baseline CSV.")] = Path("results/zoo.csv"),
    update: Annotated[bool, typer.Option("--update", help="Rewrite the baseline from the current code.")] = False,
    fmt: Format = None,
) -> None:
    """Regression gate: params and MACs at 224 of every model against the committed baseline; exit 1 on a difference."""
    from zoobench import check as checking

    now = checking.current()
    if update:
        report.atomic_write(baseline, now.to_csv(index=False))
        err.print(f"baseline {baseline} updated: {len(now)} models")
        return
    diffs = checking.differences(now, checking.read_baseline(baseline))
    if not diffs:
        err.print(f"check passed: {len(now)} models match {baseline}")
        return
    report.emit(diffs, CHECK_COLUMNS, fmt=fmt, title=f"{len(diffs)} model(s) differ from {baseline}")
    err.print(f"check failed: {len(diffs)} model(s) differ from {baseline}; `zoobench check --update` accepts them")
    raise typer.Exit(1)


EVAL_COLUMNS = [
    report.Column("model", "Model", report.text),
    report.Column("weights", "Weights", report.text),
    report.Column("crops", "Crops", report.text),
    report.Column("crop_size", "Input", lambda r: f"{r}x{r}"),
    report.Column("images", "Images", report.integer),
    report.Column("top1", "Top-1", report.num(2)),
    report.Column("top1_ci", "Top-1 95% CI", report.text),
    report.Column("top5", "Top-5", report.num(2)),
    report.Column("top5_ci", "Top-5 95% CI", report.text),
    report.Column("images_per_s", "Images/s", report.num(1)),
]


def _floats3(value: str | None, option: str) -> tuple[float, float, float] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise ZooError(f"{option} takes three comma-separated numbers (R,G,B), not {value!r}")
    return parts  # type: ignore[return-value]


@app.command("eval")
def eval_cmd(
    model: Annotated[str, typer.Argument(help="Model name or alias, torchvision:<name> or package.module:callable.")],
    data: Annotated[
        Path, typer.Option("--data", help="OUT/val from prepare-imagenet (OUT/classes.json gives labels).")
    ],
    crops: Annotated[int, typer.Option("--crops", help="1 (centre), 5 (corners + centre) or 10 (+ flips).")] = 1,
    resize: Annotated[
        str, typer.Option("--resize", help="shorter: shorter side to 256 (default); square: whole image to 256x256.")
    ] = "shorter",
    resolution: Annotated[
        int | None, typer.Option("--resolution", "-r", help="Crop size; the resize scales with it (299 in 342).")
    ] = None,
    native: Native = False,
    resize_size: Annotated[
        int | None, typer.Option("--resize-size", help="Override the resize (default round(crop x 256 / 224)).")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights", help="A state_dict / checkpoint file, or torchvision[:ENUM] (default IMAGENET1K_V1)."
        ),
    ] = None,
    average: Annotated[
        str, typer.Option("--average", help="softmax: mean of crop probabilities (default); logits: mean logits.")
    ] = "softmax",
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Images per batch (default: 64 crops' worth).")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Loader processes (default: cores).")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda[:N].")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, bf16 or fp16 (autocast).")] = "fp32",
    decoder: Annotated[
        str, typer.Option("--decoder", help="pil (default, PIL decode + antialiased resize) or torchvision.")
    ] = "pil",
    mean: Annotated[str | None, typer.Option("--mean", help="Normalisation mean R,G,B (default ImageNet's).")] = None,
    std: Annotated[str | None, typer.Option("--std", help="Normalisation std R,G,B (default ImageNet's).")] = None,
    classes: Annotated[
        Path | None, typer.Option("--classes", help="classes.json (default: beside or inside --data).")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip and count unreadable images instead of stopping.")
    ] = False,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Write each image's top-5 and probabilities (.csv or .json).")
    ] = None,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """ImageNet top-1 / top-5 (95% CI) with 1-, 5- or 10-crop; `torchrun --nproc-per-node N -m zoobench eval` splits
    the set exactly over N processes.
    """
    from zoobench import environment
    from zoobench.imagenet import evaluate as evaluation
    from zoobench.imagenet.transforms import IMAGENET_MEAN, IMAGENET_STD

    try:
        result = evaluation.evaluate(
            model,
            data,
            crops=crops,
            resize=resize,
            resolution=resolution,
            native_resolution=native,
            resize_size=resize_size,
            weights=weights,
            average=average,
            batch_size=batch_size,
            workers=workers,
            device=device,
            dtype=dtype,
            decoder=decoder,
            mean=_floats3(mean, "--mean") or IMAGENET_MEAN,
            std=_floats3(std, "--std") or IMAGENET_STD,
            classes_file=classes,
            skip_bad=skip_bad,
            predictions=predictions,
            progress=True,
        )
    except evaluation.CollectiveError:
        # Every rank knows this error and rank 0 reports it (exit 2, which fails the torchrun job): the others
        # leave quietly, so torchrun names rank 0, the one with the message, as the root cause.
        if evaluation.env_rank() != 0:
            raise typer.Exit(0) from None
        raise
    if not result.is_main:
        return
    if result.skipped:
        err.print(f"zoobench: warning: skipped {len(result.skipped)} unreadable image(s):", markup=False)
        for name, reason in result.skipped:
            err.print(f"  {name}: {reason}", markup=False, soft_wrap=True)
    row = result.row
    row["top1_ci"] = f"[{row['top1_lo']:.2f}, {row['top1_hi']:.2f}]"
    row["top5_ci"] = f"[{row['top5_lo']:.2f}, {row['top5_hi']:.2f}]"
    notes = result.notes
    report.emit(
        [row],
        EVAL_COLUMNS,
        fmt=fmt,
        output=output,
        title=f"zoobench eval: {row['model']} on {row['images']:,} images, {row['crops']}-crop",
        md=lambda r: report.markdown(report.frame(r, EVAL_COLUMNS)) + "\n" + "\n".join(f"- {n}" for n in notes) + "\n",
        environment=environment.collect(),
        json_extra={"notes": notes, "skipped_files": [{"file": f, "reason": why} for f, why in result.skipped]},
    )


BENCH_COLUMNS = [
    report.Column("model", "Model", report.text),
    report.Column("threads", "Threads", report.text),
    report.Column("median_ms", "Median/ms", report.num(3)),
    report.Column("ci_pct", "CI95 ±%", report.num(1)),
    report.Column("mean_ms", "Mean/ms", report.num(3)),
    report.Column("std_ms", "Std/ms", report.num(3)),
    report.Column("iqr_ms", "IQR/ms", report.num(3)),
    report.Column("min_ms", "Min/ms", report.num(3)),
    report.Column("max_ms", "Max/ms", report.num(3)),
    report.Column("p90_ms", "p90/ms", report.num(3)),
    report.Column("p99_ms", "p99/ms", report.num(3)),
    report.Column("runs", "Runs", report.integer),
    report.Column("images_per_s", "Images/s", report.num(1)),
    report.Column("gflops_per_s", "GFLOP/s", report.num(1)),
    report.Column("peak_share", "fp32 peak %", report.num(1, 0.01)),
    report.Column("stop", "Stop", report.text),
    report.Column("busy", "Busy", lambda v: "yes" if v else ""),
]
BENCH_COMPARE_COLUMNS = [
    report.Column("model", "Model", report.text),
    report.Column("threads", "Threads", report.text),
    report.Column("base_median_ms", "Baseline/ms", report.num(3)),
    report.Column("median_ms", "Now/ms", report.num(3)),
    report.Column("change_pct", "Change %", report.signed(1)),
    report.Column("p_value", "p (Mann-Whitney)", lambda v: "" if v is None else f"{v:.2g}"),
    report.Column("verdict", "Verdict", report.text),
    report.Column("busy", "Busy", lambda v: "yes" if v else ""),
]


def _bench_notes(config: timing.BenchConfig, policy: timing.Policy) -> list[str]:
    res = "each model's native resolution" if config.resolution is None else f"{config.resolution}x{config.resolution}"
    return [
        f"Latency of one forward pass: batch {config.batch}, {res}, {config.dtype}, {config.device}, eval mode under "
        "torch.inference_mode, fixed-seed input; warm-up excluded (docs/methodology.md).",
        f"Median of runs (each run a block of calls lasting >= {1e3 * policy.min_block_time:g} ms); stops when the 95% "
        f"CI of the median is within ±{100 * policy.rel_ci:g}% (Stop = ci) or after --max-time {policy.max_time:g} s "
        "(Stop = max_time).",
        "GFLOP/s: 2 x MACs per image x images/s. fp32 peak %: of cores x clock x FMA width from /proc/cpuinfo "
        "(assumptions in each row's peak_basis; an upper-bound peak, so the share is a lower bound).",
    ]


@app.command()
def bench(
    models: Models = None,
    all_models: AllModels = False,
    family: Family = None,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Images per forward pass.")] = 1,
    resolution: Resolution = 224,
    native: Native = False,
    threads: Annotated[
        str | None,
        typer.Option(
            "--threads",
            "-t",
            help="Torch intra-op and inter-op threads, pinned to as many cores; '1,2,4' sweeps. "
            "Default: OMP_NUM_THREADS if set, else every usable core.",
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu|cuda.")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="fp32|bf16|fp16 (bf16 and fp16 through autocast).")] = "fp32",
    channels_last: Annotated[bool, typer.Option("--channels-last", help="NHWC model and input.")] = False,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="torch.compile first; compile time reported apart, never timed.")
    ] = False,
    tf32: Annotated[
        bool, typer.Option("--tf32", help="CUDA: allow TF32 matmuls and convolutions (off by default).")
    ] = False,
    max_time: Annotated[
        float,
        typer.Option(
            "--max-time", help="Budget per model in seconds (warm-up + runs); stops earlier once the CI is within ±1%."
        ),
    ] = 6.0,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Measure in this process, not in a fresh one per model.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random weights and input.")] = 0,
    compare_to: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="Baseline JSON from `zoobench bench -f json`: faster / slower / not significant per model "
            "(two-sided Mann-Whitney U on the per-run samples, p < 0.05).",
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", help="With --compare: exit 1 when a model is significantly slower by more than this."
        ),
    ] = 0.05,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """Latency per model: warm-up, calibrated runs, median with its 95% CI, images/s, GFLOP/s, share of peak.

    Each model runs in a fresh subprocess with pinned threads (--in-process to skip); the result carries the
    environment and warns when the machine was busy or the numbers look unstable.
    """
    from zoobench import environment, registry, timing

    report.resolve_format(fmt, output)  # a bad format or path fails now, not after minutes of measuring
    if output is not None and not output.absolute().parent.is_dir():
        raise ZooError(f"cannot write {str(output)!r}: its folder does not exist")
    counts = timing.parse_threads(threads)
    policy = timing.Policy(max_time=max_time)
    config = timing.BenchConfig(
        device=device,
        dtype=dtype,
        batch=batch,
        resolution=None if native else resolution,
        threads=counts[0] if counts else None,
        channels_last=channels_last,
        compile=compile_model,
        tf32=tf32,
        seed=seed,
        policy=policy,
    )
    config.validate()
    if not tolerance >= 0:
        raise ZooError(f"--tolerance must be a non-negative fraction such as 0.05, got {tolerance}")
    baseline = timing.load_baseline(compare_to) if compare_to is not None else None
    specs = registry.select(models or [], all_models=all_models, family=family)
    if baseline is not None and not {s.name for s in specs} & {b["model"] for b in baseline}:
        raise ZooError(f"baseline {str(compare_to)!r} has none of the selected models")

    total = len(specs) * len(counts or [1])
    done = []

    def log(m: timing.Measurement) -> None:
        done.append(m)
        err.print(
            f"[{len(done)}/{total}] {m.model}, {m.threads} thread(s): median {m.median_ms:.3f} ms "
            f"±{m.ci_pct:.1f}% ({m.runs} runs, stop: {m.stop})"
            + (f", compiled in {m.compile_s:.1f} s" if m.compile_s is not None else ""),
            highlight=False,
        )
        for w in m.warnings:
            err.print(f"  warning: {w}", highlight=False, markup=False)

    results = timing.bench(specs, config, threads=counts, isolate=not in_process, on_result=log)
    rows = [m.to_dict() for m in results]
    columns = BENCH_COLUMNS
    failed = []
    if baseline is not None:
        for row, verdict in zip(rows, timing.compare(rows, baseline, tolerance), strict=True):
            row.update({k: v for k, v in verdict.items() if k not in row})
        columns = BENCH_COMPARE_COLUMNS
        failed = [r for r in rows if r["fails"]]
        for r in rows:
            if r["setting_changes"]:
                err.print(f"note: {r['model']} vs its baseline: {', '.join(r['setting_changes'])}", markup=False)
    notes = _bench_notes(config, policy)
    env = environment.collect(device)
    res = "native res." if native else f"{resolution}px"
    report.emit(
        rows,
        columns,
        fmt=fmt,
        output=output,
        title=f"zoobench bench: batch {batch}, {res}, {dtype}, {device} ({env['cpu']})",
        md=lambda r: report.markdown(report.frame(r, columns)) + "\n" + "\n".join(f"- {n}" for n in notes) + "\n",
        environment=env,
        json_extra={"notes": notes, "config": config.to_dict()},
    )
    busy = sum(1 for r in rows if r["busy"])
    if busy:
        err.print(f"warning: {busy} of {len(rows)} measurement(s) ran on a busy machine; rerun on a quiet one")
    if failed:
        names = ", ".join(f"{r['model']} ({r['change_pct']:+.1f}%)" for r in failed)
        err.print(f"compare failed: significantly slower by more than {100 * tolerance:g}%: {names}")
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Result files (CSV/JSON written by profile, bench, eval) or folders. Default: results/."),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Only models matching this glob (repeatable).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Write the plots to this folder, each as PNG and SVG.")
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Write one self-contained HTML report (tables + inline SVG, offline).")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            "-t",
            help="Time_cast and the latency plots from the runs at this thread count. "
            "Default: the setting that covers the most models, then the most threads.",
        ),
    ] = None,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """The zoo table with measured Time_cast and top-1/top-5 (else the papers' figures, marked †), plots, HTML.

    Reads what profile, bench and eval wrote (each row recognised by its keys). Plots: top-1 against GMACs, top-1
    against latency with the Pareto front, params against latency, latency against threads from a sweep.
    """
    from zoobench import html_report, plots, results

    report.resolve_format(fmt, output)
    if html_file is not None:
        html_report.check_target(html_file)
    if out_dir is not None:
        plots.check_dir(out_dir)
    found = results.collect(paths or [], model or [], threads)
    rows, notes = results.table(found)
    figures, not_drawn = plots.render(found) if out_dir is not None or html_file is not None else ([], [])
    if out_dir is not None and not figures:
        raise ZooError(f"nothing to plot: {'; '.join(not_drawn)}")
    page = html_report.render(found, rows, notes, figures) if html_file is not None else None
    for line in found.warnings():
        print(f"zoobench: warning: {line}", file=sys.stderr)
    for line in [*found.notes, *(not_drawn if out_dir is not None else [])]:
        print(f"zoobench: note: {line}", file=sys.stderr)
    # Everything was rendered in memory above: bad input fails before any file is touched.
    if out_dir is not None:
        written = plots.write(figures, out_dir)
        print(f"zoobench: wrote {len(written)} plot files to {out_dir}", file=sys.stderr)
    if page is not None:
        report.atomic_write(html_file, page)
        print(f"zoobench: wrote {html_file}", file=sys.stderr)
    report.emit(
        rows,
        results.TABLE_COLUMNS,
        fmt=fmt,
        output=output,
        title=f"zoobench report: {len(rows)} models ({results.PAPER} = the paper's figure)",
        md=lambda r: report.seed_markdown(r, results.TABLE_COLUMNS, notes),
        environment=found.main_environment(),
        json_extra={"kind": results.REPORT_KIND, "notes": notes, "files": found.files},
    )


@app.command("prepare-imagenet")
def prepare_imagenet(
    src: Annotated[
        Path,
        typer.Argument(
            help="Folder holding ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz "
            "(or train/ and val/ folders those tars were extracted into)."
        ),
    ],
    out: Annotated[Path, typer.Argument(help="Output: OUT/train/<wnid>/, OUT/val/<wnid>/ and OUT/classes.json.")],
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", help="Classes extracted at once (default: the usable cores).")
    ] = None,
    splits: Annotated[str, typer.Option("--splits", help="train,val (default), train or val.")] = "train,val",
    train: Annotated[
        Path | None, typer.Option("--train", help="The train tar (or folder of <wnid>.tar files), if not in SRC.")
    ] = None,
    val: Annotated[
        Path | None, typer.Option("--val", help="The val tar (or flat folder of its JPEGs), if not in SRC.")
    ] = None,
    devkit: Annotated[Path | None, typer.Option("--devkit", help="The devkit tar.gz, if not in SRC.")] = None,
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Extract nothing: check OUT against the archives.")
    ] = False,
    md5: Annotated[
        bool, typer.Option("--md5", help="Check the archives' published MD5s first (verdict cached by size, mtime).")
    ] = False,
    normalize_images: Annotated[
        bool,
        typer.Option(
            "--normalize-images",
            help="Re-encode CMYK, grayscale and PNG-named-.JPEG images as RGB JPEG (default: bytes copied verbatim).",
        ),
    ] = False,
    fmt: Format = None,
) -> None:
    """The official ILSVRC2012 archives -> OUT/train/<wnid>/, OUT/val/<wnid>/, OUT/classes.json, verified.

    Streams the train tar (inner tars never land on disk), works on several classes at once, resumes after a kill,
    refuses unsafe members, and never touches the archives. The table on stdout is the verification; exit 1 when it
    finds a problem.
    """
    from zoobench.imagenet import prepare as prep

    result = prep.prepare(
        src,
        out,
        train=train,
        val=val,
        devkit=devkit,
        splits=[s.strip() for s in splits.split(",") if s.strip()],
        workers=workers,
        normalize_images=normalize_images,
        md5=md5,
        verify_only=verify_only,
        console=err,
    )
    title = f"zoobench prepare-imagenet {out}: {'verified' if result.ok else f'{len(result.problems)} problems'}"
    report.emit(result.rows, prep.COLUMNS, fmt=fmt, title=title)
    if not result.ok:
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and exit 2 for bad usage or input, unless --debug."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or bool(os.environ.get("ZOOBENCH_DEBUG"))
    try:
        code = app(args=argv, prog_name="zoobench", standalone_mode=False)
        # Without standalone mode, Typer returns the code of a `typer.Exit` instead of exiting.
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("zoobench: interrupted; nothing was written", file=sys.stderr)
        sys.exit(2)
    except _UsageError as exc:
        if debug:
            raise
        print(f"zoobench: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except ZooError as exc:
        if debug:
            raise
        print(f"zoobench: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("zoobench: interrupted; nothing was written", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
