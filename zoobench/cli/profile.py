"""`zoobench profile`: params, MACs/FLOPs, memory and Time_cast per model; per module (--layers) or operator (--ops)."""

from __future__ import annotations

from typing import Annotated

import typer

from zoobench.cli.common import AllModels, Family, Models, Native, Output, Resolution, app, err, progress_for
from zoobench.errors import ZooError
from zoobench.output import formats, views

TIMM_CSV = "timm-csv"
ProfileFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table|md|csv|json|timm-csv (timm's benchmark CSV column names). Default: table on a terminal, md "
        "when redirected.",
    ),
]


@app.command()
def profile(
    models: Models = None,
    all_models: AllModels = False,
    family: Family = None,
    resolution: Resolution = 224,
    native: Native = False,
    batch: Annotated[
        int, typer.Option("--batch", "-b", metavar="N", help="Batch of the counted forward (activation memory).")
    ] = 1,
    layers: Annotated[
        bool,
        typer.Option("--layers", help="Per-module breakdown: a tree on a terminal, a table with -f/-o."),
    ] = False,
    depth: Annotated[int, typer.Option("--depth", metavar="N", help="Levels shown by --layers.")] = 2,
    ops: Annotated[
        bool, typer.Option("--ops", help="Per aten operator: MACs, and every operator MACs leave out.")
    ] = False,
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", metavar="memory", help="Add column groups to the table: 'memory'."),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option("--compare", metavar="seed", help="'seed': show the seed's figures and our difference."),
    ] = None,
    no_time: Annotated[
        bool, typer.Option("--no-time", help="Skip the quick latency measurement that fills Time_cast.")
    ] = False,
    published: Annotated[
        str,
        typer.Option("--published", help="all (default) or 1crop: only published figures 1-crop at this resolution."),
    ] = "all",
    fmt: ProfileFormat = None,
    output: Output = None,
) -> None:
    """Params, MACs and FLOPs per image (MACs = multiply-accumulates of conv/linear/matmul; FLOPs = 2 x MACs),
    weight and activation memory.

    Counted at the aten level on the meta device, at --resolution (default 224, the seed's setting) or each
    model's native resolution; activations at --batch (default 1), fp32.
    """
    from zoobench import environment, profiling, registry

    extra = tuple(g for c in columns or () for g in c.split(",") if g)
    _check_options(compare, depth, extra, layers, ops, fmt)
    if published not in ("all", "1crop"):
        raise ZooError(f"--published takes 'all' or '1crop', not {published!r}")
    timm = fmt == TIMM_CSV
    fmt = "csv" if timm else fmt
    form = formats.preflight(fmt, output)  # a bad format or path fails before any work, not after
    specs = registry.select(models or [], all_models=all_models, family=family)
    res = None if native else resolution
    if layers or ops:
        _breakdown(specs, res, batch, depth if layers else None, form, fmt, output)
        return
    with progress_for(lambda m: f"Time_cast {m.median_ms:.2f} ms") as shown:
        result = profiling.profile(
            specs, res, compare_seed=compare == "seed", time=not no_time, batch=batch, progress=shown
        )
    compared = compare == "seed"
    notes = views.profile_footnotes(
        res, compared, views.time_cast_note(result.time_cast), batch=batch, uncounted=result.uncounted
    )
    rows = result.rows if published == "all" else profiling.published_1crop(result.rows)
    if published == "1crop":
        notes += views.protocol_notes(marked=[], left_out=True)
    cols = views.profile_columns(compared, native, extra=extra)
    formats.emit(
        views.timm_rows(rows) if timm else rows,
        cols,
        fmt=fmt,
        output=output,
        title="zoobench profile (MACs per image; FLOPs = 2 x MACs)",
        md=lambda r: formats.seed_markdown(r, views.profile_columns(compared, native, md=True, extra=extra), notes),
        environment=environment.collect(),
        json_extra={"notes": notes},
        schema_kind="profile",
    )
    if result.time_cast is not None and result.time_cast.busy:
        err.print(views.busy_warning(result.time_cast.busy, result.time_cast.timed), markup=False, highlight=False)
    if result.failed:
        raise ZooError(views.failed_summary(result.failed, len(specs)))


def _check_options(
    compare: str | None, depth: int, extra: tuple[str, ...], layers: bool, ops: bool, fmt: str | None
) -> None:
    if compare not in (None, "seed"):
        raise ZooError(f"--compare takes 'seed', not {compare!r}")
    if depth < 0:
        raise ZooError(f"--depth must be >= 0 (0 shows the whole model only), got {depth}")
    for group in extra:
        if group not in views.PROFILE_EXTRA_COLUMNS:
            raise ZooError(f"--columns takes {', '.join(map(repr, views.PROFILE_EXTRA_COLUMNS))}, not {group!r}")
    if layers and ops:
        raise ZooError("--layers and --ops are two tables; ask for one at a time")
    if fmt == TIMM_CSV and (layers or ops):
        raise ZooError("--format timm-csv is the per-model table; --layers and --ops write md, csv or json")


def _breakdown(specs: list, res: int | None, batch: int, depth: int | None, form: str, fmt: str | None, output) -> None:
    """--layers (depth given) or --ops: a rich tree per model for --layers on a terminal (no -f), else a table."""
    from zoobench import environment, profiling

    with progress_for(lambda _: "") as shown:
        if depth is None:
            result = profiling.operators(specs, res, batch=batch, progress=shown)
        else:
            result = profiling.layers(specs, res, depth=depth, batch=batch, progress=shown)
    if depth is not None and form == "table" and fmt is None:
        from rich.console import Console

        out = Console()
        for m in result.models:
            if m.error is None:
                title = views.layer_title(m.model, m.resolution, m.layers[0].params, m.macs)
                out.print(formats.layer_tree(title, m.layers, m.macs))
    else:
        rows, cols, notes = (
            (result.op_rows(), views.OPS_COLUMNS, views.ops_notes(result.uncounted_kinds(), batch))
            if depth is None
            else (result.layer_rows(), views.LAYER_COLUMNS, views.layer_notes(batch))
        )
        formats.emit(
            rows,
            cols,
            fmt=fmt,
            output=output,
            md=lambda r: formats.markdown_with_notes(r, cols, notes),
            environment=environment.collect(),
            json_extra={"notes": notes},
            schema_kind="profile-ops" if depth is None else "profile-layers",
        )
    if result.failed:
        raise ZooError(views.failed_summary(result.failed, len(specs)))
