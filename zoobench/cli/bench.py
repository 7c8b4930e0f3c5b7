"""`zoobench bench`: latency per model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zoobench.cli.common import AllModels, Family, Format, Models, Native, Output, Resolution, app, err
from zoobench.errors import ZooError
from zoobench.output import formats, views

if TYPE_CHECKING:
    from zoobench import timing


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

    formats.resolve_format(fmt, output)  # a bad format or path fails now, not after minutes of measuring
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
    columns = views.BENCH_COLUMNS
    failed = []
    if baseline is not None:
        for row, verdict in zip(rows, timing.compare(rows, baseline, tolerance), strict=True):
            row.update({k: v for k, v in verdict.items() if k not in row})
        columns = views.BENCH_COMPARE_COLUMNS
        failed = [r for r in rows if r["fails"]]
        for r in rows:
            if r["setting_changes"]:
                err.print(f"note: {r['model']} vs its baseline: {', '.join(r['setting_changes'])}", markup=False)
    notes = views.bench_notes(config, policy)
    env = environment.collect(device)
    res = "native res." if native else f"{resolution}px"
    formats.emit(
        rows,
        columns,
        fmt=fmt,
        output=output,
        title=f"zoobench bench: batch {batch}, {res}, {dtype}, {device} ({env['cpu']})",
        md=lambda r: formats.markdown_with_notes(r, columns, notes),
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
