"""`zoobench list`: the registry as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import Family, Format, Output, app
from zoobench.errors import ZooError
from zoobench.output import formats, views


@app.command("list")
def list_cmd(
    patterns: Annotated[list[str] | None, typer.Argument(help="Glob patterns over canonical names.")] = None,
    family: Family = None,
    year: Annotated[int | None, typer.Option("--year", help="Only models from this year.")] = None,
    weights: Annotated[
        bool,
        typer.Option(
            "--weights", help="Every released weight (torchvision, timm, pytorchcv), accuracy, preprocessing."
        ),
    ] = False,
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
    if weights:
        _list_weights(specs, fmt, output)
        return
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
    formats.emit(rows, views.LIST_COLUMNS, fmt=fmt, output=output, title=f"zoobench: {len(rows)} models")


def _list_weights(specs: list, fmt: str | None, output: Path | None) -> None:
    from zoobench.weights.catalog import catalog

    rows, missing = catalog(specs)
    notes = views.weights_notes(rows, len(specs), missing)
    formats.emit(
        rows,
        views.WEIGHTS_COLUMNS,
        fmt=fmt,
        output=output,
        title=f"zoobench: {len(rows)} released weights",
        md=lambda r: formats.markdown_with_notes(r, views.WEIGHTS_COLUMNS, notes),
        json_extra={"notes": notes},
    )
