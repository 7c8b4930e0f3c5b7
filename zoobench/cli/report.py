"""`zoobench report`: the zoo table, plots and HTML from result files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import Format, Output, app
from zoobench.output import formats, views
from zoobench.output.progress import line


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
            min=1,
            help="Time_cast and the latency plots from the runs at this thread count. "
            "Default: the setting that covers the most models, then the most threads.",
        ),
    ] = None,
    published: Annotated[
        str,
        typer.Option(
            "--published",
            help="all: every published figure (‡: not 1-crop at the table's resolution); 1crop: only comparable ones.",
        ),
    ] = "all",
    fmt: Format = None,
    output: Output = None,
) -> None:
    """The zoo table with measured Time_cast and top-1/top-5 (else the papers' figures, marked †), plots, HTML.

    Reads what profile, bench and eval wrote (each row recognised by its keys; junk files in a folder are skipped
    with a note). Plots: top-1 against GMACs, top-1 against latency with the Pareto front, params against latency,
    latency against threads from a sweep.
    """
    from zoobench import reporting

    # Every output path is checked before any file is read: bad input fails before anything is touched.
    reporting.check_targets(fmt, output, html_file, out_dir)
    report = reporting.build(
        paths or [],
        model or [],
        threads,
        plots=out_dir is not None,
        html=html_file is not None,
        outputs=[output],
        published=published,
    )
    found = report.results
    for text in found.warnings():
        print(line("warning", text), file=sys.stderr)
    for text in [*found.notes, *(report.not_drawn if out_dir is not None else [])]:
        print(line("note", text), file=sys.stderr)
    written = reporting.write(report, out_dir, html_file)
    if out_dir is not None:
        print(f"zoobench: wrote {len(written)} plot files to {out_dir}", file=sys.stderr)
    if html_file is not None:
        print(f"zoobench: wrote {html_file}", file=sys.stderr)
    formats.emit(
        report.rows,
        views.TABLE_COLUMNS,
        fmt=fmt,
        output=output,
        title=f"zoobench report: {len(report.rows)} models ({views.PAPER} = the paper's figure)",
        md=lambda _: report.markdown(),
        environment=found.main_environment(),
        json_extra={"kind": reporting.REPORT_KIND, "notes": report.notes, "files": found.files, **report.json_extra()},
        schema_kind=reporting.REPORT_SCHEMA_KIND,
    )
    if report.backends is not None and formats.resolve_format(fmt, output) == "table":  # md/json carry it already
        from rich.console import Console

        per_model, per_backend = report.backends.columns()
        console = Console(soft_wrap=False)
        console.print(formats.rich_table(report.backends.rows, per_model, "Backends: speed-up over eager fp32"))
        console.print(formats.rich_table(report.backends.counts, per_backend, "Backends: converted and failed"))
        for text in report.backends.notes():
            console.print(f"- {text}", highlight=False, markup=False)
