"""`zoobench check`: params and MACs against the committed baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import Format, app, err
from zoobench.output import formats, views


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
        formats.atomic_write(baseline, now.to_csv(index=False))
        err.print(f"baseline {baseline} updated: {len(now)} models")
        return
    diffs = checking.differences(now, checking.read_baseline(baseline))
    if not diffs:
        err.print(f"check passed: {len(now)} models match {baseline}")
        return
    formats.emit(diffs, views.CHECK_COLUMNS, fmt=fmt, title=f"{len(diffs)} model(s) differ from {baseline}")
    err.print(f"check failed: {len(diffs)} model(s) differ from {baseline}; `zoobench check --update` accepts them")
    raise typer.Exit(1)
