"""`zoobench check`: params and MACs against the committed baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import Format, Output, app, err, note
from zoobench.output import files, formats, views


@app.command()
def check(
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", metavar="CSV", help="Baseline CSV (default: results/zoo.csv of this checkout)."),
    ] = None,
    update: Annotated[bool, typer.Option("--update", help="Rewrite the baseline from the current code.")] = False,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """Regression gate: params and MACs at 224 of every model against the committed baseline; exit 1 on a difference."""
    from zoobench import check as checking

    baseline = baseline or checking.BASELINE
    formats.preflight(fmt, output)
    if update:
        files.check_output(baseline)
    else:
        old = checking.read_baseline(baseline)  # a bad baseline fails before the zoo is counted
    now = checking.current()
    if update:
        formats.atomic_write(baseline, now.to_csv(index=False))
        note(f"baseline {baseline} updated: {len(now)} models")
        return
    diffs = checking.differences(now, old)
    if not diffs:
        note(f"check passed: {len(now)} models match {baseline}")
        return
    title = f"{len(diffs)} model(s) differ from {baseline}"
    formats.emit(diffs, views.CHECK_COLUMNS, fmt=fmt, output=output, title=title, schema_kind="check")
    err.print(
        f"zoobench: check failed: {len(diffs)} model(s) differ from {baseline}; "
        f"`zoobench check --update{'' if baseline == checking.BASELINE else f' --baseline {baseline}'}` accepts them",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(1)
