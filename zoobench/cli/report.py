"""`zoobench report`: the zoo table, plots and HTML from result files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import Format, Output, app
from zoobench.errors import ZooError
from zoobench.output import formats


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

    formats.resolve_format(fmt, output)
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
        formats.atomic_write(html_file, page)
        print(f"zoobench: wrote {html_file}", file=sys.stderr)
    formats.emit(
        rows,
        results.TABLE_COLUMNS,
        fmt=fmt,
        output=output,
        title=f"zoobench report: {len(rows)} models ({results.PAPER} = the paper's figure)",
        md=lambda r: formats.seed_markdown(r, results.TABLE_COLUMNS, notes),
        environment=found.main_environment(),
        json_extra={"kind": results.REPORT_KIND, "notes": notes, "files": found.files},
    )
