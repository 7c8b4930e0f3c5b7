"""`zoobench profile`: params, MACs/FLOPs and Time_cast per model."""

from __future__ import annotations

from typing import Annotated

import typer

from zoobench.cli.common import AllModels, Family, Format, Models, Native, Output, Resolution, app, err
from zoobench.errors import ZooError
from zoobench.output import formats, views


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
        from rich.console import Console

        out = Console()
        for spec in specs:
            costs = complexity.layer_costs(spec, res, depth)
            total = costs[0].macs
            title = f"{spec.name} at {res or spec.resolution}px: {costs[0].params:,} params, {total:,} MACs per image"
            out.print(formats.layer_tree(title, costs, total))
        return
    rows = complexity.profile(specs, res, compare_seed=compare == "seed")
    time_note = None
    if not no_time:  # Time_cast: a quick in-process latency median per model (timing.QUICK budget)
        formats.resolve_format(fmt, output)  # a bad format or path fails before the measuring, not after
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
    columns = views.profile_columns(compare == "seed", native)
    notes = views.profile_footnotes(res, compare == "seed", time_note)
    formats.emit(
        rows,
        columns,
        fmt=fmt,
        output=output,
        title="zoobench profile (MACs per image; FLOPs = 2 x MACs)",
        md=lambda r: formats.seed_markdown(r, views.profile_columns(compare == "seed", native, md=True), notes),
        environment=environment.collect(),
        json_extra={"notes": notes},
    )
