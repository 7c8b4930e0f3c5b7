"""`zoobench report` as a library: result files -> the seed-style table, plots and one self-contained HTML page.

reading (files -> rows, trusting nothing) -> results (merge + queries) -> table / plots / html. Never measures.
`check_targets` refuses bad output paths before any work; `build` renders everything in memory; `write` then writes
the files, each whole or not at all. Heavy imports (pandas, matplotlib) happen inside, when needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zoobench.errors import ZooError
from zoobench.output import formats
from zoobench.reporting.reading import REPORT_KIND, REPORT_SCHEMA_KIND
from zoobench.reporting.results import Results, collect

__all__ = ["REPORT_KIND", "REPORT_SCHEMA_KIND", "Report", "Results", "build", "check_targets", "collect", "write"]


@dataclass
class Report:
    results: Results
    rows: list[dict]
    notes: list[str]  # the table's footnotes
    plots: list = field(default_factory=list)  # plots.Plot, rendered when asked for
    not_drawn: list[str] = field(default_factory=list)  # why a plot is missing
    page: str | None = None  # the HTML, when asked for
    backends: object = None  # reporting.backends.BackendTable when the results have backend rows, else None

    def markdown(self) -> str:
        """The seed-style table and its footnotes, then the backend tables when the results have backend rows."""
        from zoobench.output import views

        out = formats.seed_markdown(self.rows, views.TABLE_COLUMNS, self.notes)
        return out + (self.backends.markdown() if self.backends is not None else "")

    def json_extra(self) -> dict:
        """The backend tables for the report's JSON ({} without backend rows: the JSON is unchanged)."""
        if self.backends is None:
            return {}
        return {"backends": {"rows": self.backends.rows, "counts": self.backends.counts}}


def check_targets(fmt: str | None, output: Path | None, html: Path | None = None, out_dir: Path | None = None) -> str:
    """The table's format, after refusing every output that cannot be written where asked (see formats.preflight,
    html.check_target, plots.check_dir), and two outputs aimed at the same file."""
    form = formats.preflight(fmt, output)
    if html is not None:
        from zoobench.reporting import html as page

        page.check_target(html)
        if output is not None and Path(output).absolute() == Path(html).absolute():
            raise ZooError(f"the table and the HTML report would both be written to {str(html)!r}")
    if out_dir is not None:
        from zoobench.reporting import plots

        plots.check_dir(out_dir)
    return form


def build(
    paths: Sequence[Path] = (),
    patterns: Iterable[str] = (),
    threads: int | None = None,
    *,
    plots: bool = False,
    html: bool = False,
    outputs: Iterable[Path | None] = (),
    published: str = "all",
) -> Report:
    """Read and merge the results, make the table, and (when asked) the plots and the HTML page, all in memory.
    An output among `outputs` that is one of the result files read is refused: a report never overwrites its data."""
    from zoobench.reporting import table

    found = collect(paths, patterns, threads)
    inputs = {Path(f).resolve() for f in found.files}
    for out in outputs:
        if out is not None and Path(out).resolve() in inputs:
            raise ZooError(f"output {str(out)!r} is one of the result files read; write the report elsewhere")
    from zoobench.reporting.backends import backend_table

    rows, notes = table.table(found, published)  # published: "all" or "1crop" (table.PUBLISHED)
    report = Report(found, rows, notes, backends=backend_table(found))
    if plots or html:
        from zoobench.reporting import plots as plotting

        report.plots, report.not_drawn = plotting.render(found, report.backends)
        if plots and not report.plots:
            raise ZooError(f"nothing to plot: {'; '.join(report.not_drawn)}")
    if html:
        from zoobench.reporting import html as page

        report.page = page.render(found, rows, notes, report.plots, backends=report.backends)
    return report


def write(report: Report, out_dir: Path | None = None, html: Path | None = None) -> list[Path]:
    """The plot files and the HTML page, each atomically; returns the plot files written."""
    from zoobench.output.files import atomic_write

    written = []
    if out_dir is not None:
        from zoobench.reporting import plots

        written = plots.write(report.plots, out_dir)
    if html is not None and report.page is not None:
        atomic_write(html, report.page)
    return written
