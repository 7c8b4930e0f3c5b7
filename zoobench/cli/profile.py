"""`zoobench profile`: params, MACs/FLOPs and Time_cast per model."""

from __future__ import annotations

from typing import Annotated

import typer

from zoobench.cli.common import AllModels, Family, Format, Models, Native, Output, Resolution, app, err, progress_for
from zoobench.errors import ZooError
from zoobench.output import formats, views


@app.command()
def profile(
    models: Models = None,
    all_models: AllModels = False,
    family: Family = None,
    resolution: Resolution = 224,
    native: Native = False,
    layers: Annotated[
        bool, typer.Option("--layers", help="Per-layer breakdown: a tree on a terminal, a table with -f/-o.")
    ] = False,
    depth: Annotated[int, typer.Option("--depth", metavar="N", help="Levels shown by --layers.")] = 2,
    compare: Annotated[
        str | None,
        typer.Option("--compare", metavar="seed", help="'seed': show the seed's figures and our difference."),
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
    from zoobench import environment, profiling, registry

    if compare not in (None, "seed"):
        raise ZooError(f"--compare takes 'seed', not {compare!r}")
    if depth < 0:
        raise ZooError(f"--depth must be >= 0 (0 shows the whole model only), got {depth}")
    form = formats.preflight(fmt, output)  # a bad format or path fails before any work, not after
    specs = registry.select(models or [], all_models=all_models, family=family)
    res = None if native else resolution
    if layers:
        _layers(specs, res, depth, form, fmt, output)
        return
    with progress_for(lambda m: f"Time_cast {m.median_ms:.2f} ms") as shown:
        result = profiling.profile(specs, res, compare_seed=compare == "seed", time=not no_time, progress=shown)
    compared = compare == "seed"
    notes = views.profile_footnotes(res, compared, views.time_cast_note(result.time_cast))
    formats.emit(
        result.rows,
        views.profile_columns(compared, native),
        fmt=fmt,
        output=output,
        title="zoobench profile (MACs per image; FLOPs = 2 x MACs)",
        md=lambda r: formats.seed_markdown(r, views.profile_columns(compared, native, md=True), notes),
        environment=environment.collect(),
        json_extra={"notes": notes},
        schema_kind="profile",
    )
    if result.time_cast is not None and result.time_cast.busy:
        err.print(views.busy_warning(result.time_cast.busy, result.time_cast.timed), markup=False, highlight=False)
    if result.failed:
        raise ZooError(views.failed_summary(result.failed, len(specs)))


def _layers(specs: list, res: int | None, depth: int, form: str, fmt: str | None, output: object) -> None:
    """--layers: a rich tree per model on a terminal; rows of every model's modules in md/csv/json."""
    from zoobench import complexity

    costs = {spec.name: complexity.layer_costs(spec, res, depth) for spec in specs}
    if form == "table":
        from rich.console import Console

        out = Console()
        for spec in specs:
            rows = costs[spec.name]
            title = views.layer_title(spec.name, res or spec.resolution, rows[0].params, rows[0].macs)
            out.print(formats.layer_tree(title, rows, rows[0].macs))
        return
    rows = [
        views.layer_row(spec.name, res or spec.resolution, layer, costs[spec.name][0].macs)
        for spec in specs
        for layer in costs[spec.name]
    ]
    formats.emit(rows, views.LAYER_COLUMNS, fmt=fmt, output=output, schema_kind="profile-layers")
