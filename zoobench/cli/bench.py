"""`zoobench bench`: latency per model."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zoobench.cli.common import (
    AllModels,
    CacheDir,
    Calibration,
    Family,
    Format,
    Models,
    Native,
    Output,
    Precision,
    Resolution,
    app,
    as_flags,
    note,
    progress_for,
)
from zoobench.errors import ZooError
from zoobench.output import formats, views
from zoobench.output.progress import PREFIX

if TYPE_CHECKING:
    from zoobench import timing

# The library names its parameters; the command line says which flag sets each.
FLAGS = {
    "backend": "--backend",
    "batch": "--batch",
    "cache_dir": "--cache-dir",
    "calibration": "--calibration",
    "channels_last": "--layout",
    "device": "--device",
    "dtype": "--dtype",
    "layout": "--layout",
    "max_time": "--max-time",
    "mode": "--mode",
    "precision": "--precision",
    "processes": "--processes",
    "rounds": "--rounds",
    "resolution": "--resolution",
    "seed": "--seed",
    "threads": "--threads",
    "tolerance": "--tolerance",
}


def describe(m: timing.Measurement) -> str:
    """The line each finished measurement gets on stderr (after its model's name)."""
    return (
        views.backend_phrase(m)
        + ("nhwc, " if m.channels_last else "")
        + f"{m.mode}, {m.threads} thread(s): median {m.median_ms:.3f} ms, "
        + (f"a rerun within ±{m.rerun_pct:.1f}%, " if m.rerun_pct is not None else "")
        + f"95% CI ±{m.ci_pct:.1f}% (between {m.rounds} rounds in {m.processes} process(es)), "
        f"p10 {m.p10_ms:.3f} ms (best case), {m.runs} samples, stop: {m.stop}"
        + (
            f", x{m.reference} {m.relative:.4f} [{m.relative_ci_low:.4f}, {m.relative_ci_high:.4f}]"
            if m.relative is not None
            else ""
        )
        + (f", compiled in {m.compile_s:.1f} s" if m.compile_s is not None else "")
        + (
            f", batch {m.batch}: {m.images_per_s:.1f} images/s [{m.images_per_s_ci_low:.1f}, "
            f"{m.images_per_s_ci_high:.1f}]"
            if m.mode == "throughput" or m.batch > 1
            else ""
        )
    )


@app.command()  # long: one parameter per option, then options -> one library call -> emit
def bench(
    models: Models = None,
    all_models: AllModels = False,
    family: Family = None,
    batch: Annotated[
        str,
        typer.Option(
            "--batch",
            "-b",
            help="Images per forward pass; '1,8,32' sweeps (one row per batch, and the best batch by images/s).",
        ),
    ] = "1",
    resolution: Resolution = 224,
    native: Native = False,
    threads: Annotated[
        str | None,
        typer.Option(
            "--threads",
            "-t",
            help="Torch intra-op and inter-op threads, pinned to as many cores; '1,2,4' sweeps. "
            "Default: OMP_NUM_THREADS if set, else the usable cores that are idle when the run starts (said in a note "
            "when others keep some busy).",
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu|cuda.")] = "cpu",
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="latency|throughput. latency: each call alone, synchronised after it (one query at a time); "
            "throughput: on CUDA a sample's calls are queued back to back and synchronised once; images/s is the "
            "headline (on the cpu calls are synchronous, so only the report differs).",
        ),
    ] = "latency",
    dtype: Annotated[
        str,
        typer.Option(
            "--dtype",
            help="fp32|bf16|fp16 (bf16 and fp16 through autocast); 'fp32,bf16' sweeps (one row per dtype; with one "
            "model and --paired: the dtypes called alternately, ratio to the first).",
        ),
    ] = "fp32",
    layout: Annotated[
        str | None,
        typer.Option(
            "--layout",
            help="nchw|nhwc: the memory format of the model and its input (nhwc: channels_last); 'nchw,nhwc' sweeps "
            "(one row per layout; with one model and --paired: called alternately, ratio to the first).",
        ),
    ] = None,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="NHWC model and input: short for --layout nhwc.")
    ] = False,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="torch.compile first; compile time reported apart, never timed.")
    ] = False,
    tf32: Annotated[
        bool, typer.Option("--tf32", help="CUDA: allow TF32 matmuls and convolutions (off by default).")
    ] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="eager|compile|onnxruntime|openvino; 'eager,onnxruntime' sweeps. Converted once (cached), "
            "conversion and first call timed apart, outputs checked against eager fp32.",
        ),
    ] = None,
    precision: Precision = "fp32",
    calibration: Calibration = None,
    cache_dir: CacheDir = None,
    max_time: Annotated[
        float,
        typer.Option(
            "--max-time",
            help="Budget per model in seconds (warm-up + rounds, all processes); stops earlier once the "
            "between-rounds CI is within ±1%.",
        ),
    ] = 6.0,
    rounds: Annotated[
        int,
        typer.Option("--rounds", help="Timed rounds per model, spread over --max-time; the CI is from their spread."),
    ] = 6,
    processes: Annotated[
        int, typer.Option("--processes", help="Fresh worker processes per model; the rounds are split between them.")
    ] = 2,
    paired: Annotated[
        bool,
        typer.Option(
            "--paired",
            help="Call the models alternately in this process, call by call; report each one's median per-pair "
            "ratio to the first (B/A) with its 95% CI. Drift cancels within a pair.",
        ),
    ] = False,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="A model (e.g. resnet18) called alternately with each one, pair by pair, in the same process: "
            "each row adds its latency relative to it, with a 95% CI, which drift of the host cancels out of.",
        ),
    ] = None,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Measure in this process, not in a fresh one per model.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random weights and input.")] = 0,
    compare_to: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="Baseline JSON from `zoobench bench -f json`: faster / slower / not significant per model "
            "(two-sided t on log round medians with run-to-run drift inside, p < 0.05; no verdict when either "
            "side was busy).",
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", help="With --compare: exit 1 when a model is significantly slower by more than this."
        ),
    ] = 0.05,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="With -o FILE.json: keep the models FILE already holds at the same settings and measure the rest.",
        ),
    ] = False,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """Latency per model: rounds across time and processes, median with its 95% CI, p10, images/s, GFLOP/s, memory.

    Each model runs in --rounds rounds split between --processes fresh subprocesses with pinned threads
    (--in-process: in this one); the rounds of all models are interleaved, and the CI comes from the spread
    between rounds. The result carries the environment and warns when the machine was busy or the numbers look
    unstable. With several models, one that
    fails is a row with its error and the others go on (exit 2 at the end); -o is rewritten after every model.
    """
    from zoobench import backends, environment, registry, timing

    form = formats.preflight(fmt, output)  # a bad format or path fails now, not after minutes of measuring
    if resume and (output is None or form != "json"):
        raise ZooError("--resume needs -o FILE.json: the JSON results of the run to resume")
    with as_flags(FLAGS):
        if channels_last and layout is not None:
            raise ZooError("--channels-last is --layout nhwc: give one of them, not both")
        counts = timing.parse_threads(threads)
        sizes = timing.parse_batches(batch) or [1]
        dtypes = timing.parse_dtypes(dtype)
        layouts = timing.parse_layouts(layout) or [channels_last]
        names = backends.parse_backends(backend)
        config = timing.BenchConfig(
            backend=names[0] if names else "eager",
            precision=precision,
            calibration=calibration,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            device=device,
            dtype=dtypes[0],
            batch=sizes[0],
            resolution=None if native else resolution,
            threads=counts[0] if counts else None,
            channels_last=layouts[0],
            compile=compile_model,
            tf32=tf32,
            seed=seed,
            mode=mode,
            policy=timing.Policy(max_time=max_time, rounds=rounds, processes=processes),
        )
        # The swept settings (timing.SWEEPS), as the run, the table and the paired sweep take them.
        sweep = {"backend": names or None, "dtype": dtypes, "channels_last": layouts, "threads": counts,
                 "batch": sizes}  # fmt: skip
        for setting in timing.grid(config, sweep) if not paired else ():  # every row's setting, before any work
            replace(config, **setting).validate()
        timing.check_tolerance(tolerance)
    if reference is not None:
        reference = registry.get_spec(reference).name  # an unknown name fails now, with "did you mean"
        config = replace(config, reference=reference)
    specs = registry.select(models or [], all_models=all_models, family=family)
    paired_sweep = _paired_sweep(specs, sweep) if paired else None
    if paired and (compare_to is not None or resume or reference):
        raise ZooError("--paired compares the models with each other: not with --compare, --resume or --reference")
    baseline = timing.load_baseline(compare_to) if compare_to is not None else None
    if counts is None:  # the default: the cores idle now (decided once, for every model of the run)
        choice = timing.choose_threads()
        if choice.reduced:
            note(views.threads_note(choice))
        counts = sweep["threads"] = [choice.threads]
    if paired:
        _paired(specs, replace(config, threads=counts[0]), paired_sweep, fmt, output, native, resolution)
        return
    if baseline is not None and not {s.name for s in specs} & {b["model"] for b in baseline}:
        raise ZooError(f"baseline {str(compare_to)!r} has none of the selected models")
    previous = timing.load_previous(output, config) if resume else []
    notes = views.bench_notes(config, config.policy, sweep)
    env = environment.collect(device)
    res = "native res." if native else f"{resolution}px"

    def write(rows: list[dict], compared: bool = False) -> None:
        columns = views.bench_columns(compared, any(r.get("error") for r in rows), reference is not None,
                                      throughput=mode == "throughput",
                                      swept=[f for f, values in sweep.items() if len(values or ()) > 1])  # fmt: skip
        best = timing.best_batches(rows)
        shown_notes = notes + views.best_batch_notes(best)
        if names and names != ["eager"] or precision != "fp32":
            columns, shown_notes = views.with_backends(columns), notes + views.backend_notes(rows)
        formats.emit(
            rows,
            columns,
            fmt=fmt,
            output=output,
            title=f"zoobench bench: {mode} mode, batch {','.join(map(str, sizes))}, {res}, {','.join(dtypes)}"
            f"{views.layouts_phrase(layouts)}, {device} ({env['cpu']})",
            md=lambda r: formats.markdown_with_notes(r, columns, shown_notes),
            environment=env,
            json_extra={"notes": shown_notes, "config": config.to_dict(), "best_batch": [b.to_dict() for b in best]},
            schema_kind="bench",
        )

    with progress_for(describe) as shown:
        results = timing.bench(
            specs,
            config,
            sweep=sweep,
            isolate=not in_process,
            progress=shown,
            keep_going=True,
            show_warnings=True,
            previous=previous,
            checkpoint=write if output is not None else None,  # a killed run keeps every model it finished
        )
    rows = timing.merge_rows(previous, results)
    if baseline is not None:
        for row, verdict in zip(rows, timing.compare(rows, baseline, tolerance), strict=True):
            row.update({k: v for k, v in verdict.items() if k not in row})
            if verdict["setting_changes"]:
                note(f"{row['model']} vs its baseline: {', '.join(verdict['setting_changes'])}")
        if other := views.other_machine(timing.baseline_environment(compare_to), env):
            note(other)
    write(rows, compared=baseline is not None)
    for line in views.best_batch_notes(timing.best_batches(rows)) if form == "table" else ():
        note(line)  # the table has no footnotes: the best batch goes to stderr
    for warning in views.doctor_warnings(env.get("doctor", [])):  # once per run, after the measurements
        print(warning, file=sys.stderr, flush=True)
    _report(rows, results, tolerance, len(specs) * len(timing.grid(config, sweep)))


def _paired_sweep(specs: list, sweep: dict):
    """The one sweep of `bench MODEL --paired` as (field, values), None for models against the first; refusals."""
    from zoobench import timing

    if sweep["threads"] and len(sweep["threads"]) > 1:
        raise ZooError("--paired compares the models with each other in one process: a --threads sweep needs a "
                       "process per count; run one --threads count at a time")  # fmt: skip
    if len(sweep["batch"]) > 1:
        raise ZooError("--paired compares the models with each other at one batch size: not with a --batch sweep")
    swept = [(f, sweep[f]) for f in timing.SWEEPABLE if len(sweep.get(f) or ()) > 1]
    if len(swept) > 1:
        raise ZooError("--paired sweeps one setting at a time: one of --dtype, --backend or --layout, not two")
    if swept and len(specs) != 1:
        raise ZooError(f"--paired with a {FLAGS[swept[0][0]]} sweep takes one model, got {len(specs)}")
    if not swept and len(specs) < 2:
        raise ZooError("--paired needs at least two models, or one model and a --dtype, --backend or --layout sweep")
    return swept[0] if swept else None


def describe_pair(row: timing.PairedRow) -> str:
    if row.setting is not None:
        return (
            f"{row.model} {row.setting} / {row.reference_setting} = {row.ratio:.4f} (median of {row.pairs} per-pair "
            f"ratios), 95% CI [{row.ci_low:.4f}, {row.ci_high:.4f}] (between {row.rounds} rounds)"
        )
    return (
        f"{row.model} / {row.reference} = {row.ratio:.4f} (median of {row.pairs} per-pair ratios), 95% CI "
        f"[{row.ci_low:.4f}, {row.ci_high:.4f}] (between {row.rounds} rounds)"
    )


def _paired(
    specs: list, config: timing.BenchConfig, sweep, fmt: str | None, output: Path | None, native: bool, res: int
) -> None:
    """`--paired`: one library call, one table."""
    from zoobench import environment, timing

    with as_flags(FLAGS):  # every setting of the one sweep, before any work
        for value in sweep[1] if sweep is not None else [None]:
            (replace(config, **{sweep[0]: value}) if sweep is not None else config).validate()
    env = environment.collect(config.device)
    with progress_for(describe_pair) as shown:
        rows = [r.to_dict() for r in timing.bench_paired(specs, config, sweep=sweep, progress=shown)]
    against = specs[0].name if sweep is None else f"{specs[0].name} {timing.setting_label(sweep[0], sweep[1][0])}"
    notes = views.paired_notes(config, config.policy, against, sweep[0] if sweep else None)
    columns = views.PAIRED_COLUMNS if sweep is None else views.PAIRED_SWEEP_COLUMNS
    size = "native res." if native else f"{res}px"
    formats.emit(
        rows,
        columns,
        fmt=fmt,
        output=output,
        title=f"zoobench bench --paired: ratio to {against}, {config.mode} mode, batch {config.batch}, {size}, "
        f"{config.dtype if sweep is None or sweep[0] != 'dtype' else 'dtypes ' + ','.join(sweep[1])}"
        f"{views.layouts_phrase([config.channels_last] if sweep is None or sweep[0] != 'channels_last' else sweep[1])}"
        f", {config.device}",
        md=lambda r: formats.markdown_with_notes(r, columns, notes),
        environment=env,
        json_extra={"notes": notes, "config": config.to_dict()},
        schema_kind="bench-paired",
    )
    busy = sum(1 for r in rows if r["busy"])
    if busy:
        print(views.busy_warning(busy, len(rows)), file=sys.stderr, flush=True)


def _report(rows: list[dict], results: list, tolerance: float, total: int) -> None:
    """The closing lines: the busy summary, the A/B failure (exit 1), failed models (exit 2, which wins)."""
    from zoobench import timing

    busy = sum(1 for r in rows if r.get("busy"))
    if busy:
        print(views.busy_warning(busy, len(rows)), file=sys.stderr, flush=True)
    slower = [r for r in rows if r.get("fails")]
    failed = timing.failed_models(results)
    if slower:
        names = ", ".join(f"{r['model']} ({r['change_pct']:+.1f}%)" for r in slower)
        print(
            f"{PREFIX}: compare failed: significantly slower by more than {100 * tolerance:g}%: {names}",
            file=sys.stderr,
            flush=True,
        )
    if failed:
        raise ZooError(views.failed_summary(failed, total))
    if slower:
        raise typer.Exit(1)
