"""One self-contained HTML report: the zoo table, the plots as inline SVG, the measurements and the machines.

No script, no external stylesheet, font, image or link: the file opens offline in any browser and can be mailed.
Every value is escaped; paper references are shown as arXiv ids, not links.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from zoobench.errors import ZooError
from zoobench.output import formats as report
from zoobench.output import views
from zoobench.output.files import check_output
from zoobench.reporting import plots as plotting
from zoobench.reporting import results as res

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1a1a1a; background: #ffffff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; }
th { background: #f0f3f7; text-align: left; }
td.num { text-align: right; }
tr.year td { background: #fafafa; font-weight: bold; }
.paper { color: #8a5a00; }
.muted { color: #666666; font-size: 0.92em; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #444444; font-size: 0.92em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""

LATENCY_COLUMNS = [
    ("model", "Model"),
    ("machine", "Machine"),
    ("setting", "Setting"),
    ("median_ms", "Median/ms"),
    ("ci", "95% CI of the median/ms"),
    ("runs", "Runs"),
    ("stop", "Stopped by"),
    ("source", "Source"),
    ("warnings", "Warnings"),
]
ACCURACY_SETTINGS = ("crops", "resize", "average", "dtype", "device", "weights", "images", "classes")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool], cls: str = "") -> str:
    """Cells are already escaped HTML."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if num else f"<td>{c}</td>" for c, num in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def zoo_table(rows: Sequence[dict]) -> str:
    """The seed-style table, grouped by year like the Markdown, with the paper marker styled."""
    columns = views.TABLE_COLUMNS
    df = report.frame(rows, columns)
    numeric = [c.fmt is not report.text or c.key.endswith("_text") for c in columns]
    head = "".join(f"<th>{_e(c.header)}</th>" for c in columns)
    body = []
    year = object()
    for row, values in zip(rows, df.cells, strict=True):
        if row.get("year") != year:
            year = row.get("year")
            body.append(f'<tr class="year"><td colspan="{len(columns)}">{_e(year)}</td></tr>')
        cells = []
        for c, value, num in zip(columns, values, numeric, strict=True):
            text = _e(value)
            if c.key.endswith("_text") and views.PAPER in value:
                text = f'<span class="paper">{text}</span>'
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        body.append(f'<tr data-model="{_e(row["model"])}">{"".join(cells)}</tr>')
    return f'<table class="zoo"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10 ** (digits + 1) else f"{value:.0f}"
    return str(value)


def latency_table(results: res.Results, tags: dict[str, str]) -> str:
    rows = []
    for lat in results.latencies:
        r = lat.row
        low, high = r.get("ci_low_ms"), r.get("ci_high_ms")
        ci = f"{_fmt(low, 4)} – {_fmt(high, 4)}" if low is not None and high is not None else ""
        warnings = r.get("warnings")
        if isinstance(warnings, list):
            warnings = "; ".join(str(w) for w in warnings)
        values = {
            "model": lat.model,
            "machine": tags.get(lat.machine.label, lat.machine.label),
            "setting": lat.setting.describe(),
            "median_ms": f"{lat.median_ms:.3f}",
            "ci": ci,
            "runs": _fmt(r.get("runs")),
            "stop": _fmt(r.get("stop")),
            "source": f"{lat.source}: {Path(lat.path).name}",
            "warnings": _fmt(warnings),
        }
        rows.append([_e(values[k]) for k, _ in LATENCY_COLUMNS])
    numeric = [k in ("median_ms", "ci", "runs") for k, _ in LATENCY_COLUMNS]
    return _table([h for _, h in LATENCY_COLUMNS], rows, numeric, "latency")


def accuracy_table(results: res.Results) -> str:
    keys = [k for k in ACCURACY_SETTINGS if any(k in a.row for a in results.accuracies)]
    headers = ["Model", "Top-1/%", "Top-5/%", *keys, "In the table", "Source"]
    chosen = results.chosen_accuracy()
    rows = []
    for a in results.accuracies:
        cells = [a.model, _fmt(a.top1, 4), _fmt(a.top5, 4), *(_fmt(a.row.get(k)) for k in keys)]
        if chosen.get(a.model) is a:
            shown = "yes"
        else:
            shown = f"no: {a.excluded}" if a.excluded else "no: another eval of this model is shown"
        cells += [shown, Path(a.path).name]
        rows.append([_e(c) for c in cells])
    numeric = [False, True, True, *(False for _ in keys), False, False]
    return _table(headers, rows, numeric, "accuracy")


def backend_section(table: object) -> str:
    """The backend tables (reporting.backends.BackendTable) and their notes."""
    per_model, per_backend = table.columns()
    parts = []
    for rows, columns, cls in ((table.rows, per_model, "backends"), (table.counts, per_backend, "backend-counts")):
        df = report.frame(rows, columns)
        numeric = [c.fmt is not report.text for c in columns]
        parts.append(_table(df.headers, [[_e(v) for v in cells] for cells in df.cells], numeric, cls))
    notes = "".join(f"<li>{_e(n)}</li>" for n in table.notes())
    return "".join(parts) + f"<ul class='notes'>{notes}</ul>"


def machines_section(results: res.Results, tags: dict[str, str]) -> str:
    parts = []
    for label, env in results.machines.items():
        tag = f"{tags[label]}: " if label in tags and len(tags) > 1 else ""
        small = {k: v for k, v in env.items() if k != "parallel_info"}
        items = "".join(
            f"<tr><th>{_e(k)}</th><td>{_e(json.dumps(v) if isinstance(v, list | dict) else v)}</td></tr>"
            for k, v in small.items()
        )
        parts.append(f"<h3>{_e(tag + label)}</h3>")
        parts.append(
            f'<table class="env">{items}</table>' if items else '<p class="muted">No environment recorded.</p>'
        )
        if env.get("parallel_info"):
            parts.append(
                f"<details><summary>torch parallel info</summary><pre>{_e(env['parallel_info'])}</pre></details>"
            )
    return "".join(parts)


def render(
    results: res.Results,
    rows: Sequence[dict],
    footnotes: Sequence[str],
    plots: Sequence[plotting.Plot],
    title: str = "zoobench report",
    *,
    backends: object = None,
) -> str:
    """The whole page as one string."""
    labels = list(results.machines)
    tags = results.machine_tags()
    machines = "; ".join(f"{tags[lbl]} = {lbl}" if lbl in tags else lbl for lbl in labels) or "none recorded"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">{len(rows)} models from {len(results.files)} result file(s). Latency measured on: '
        f"{_e(machines)}.</p>",
        "<h2>Models</h2>",
        zoo_table(rows),
        "<ol class='notes'>" + "".join(f"<li>{_e(n)}</li>" for n in footnotes) + "</ol>",
    ]
    if plots:
        body.append("<h2>Plots</h2>")
        for plot in plots:
            body.append(
                f'<figure id="{_e(plot.name)}">{plotting.inline_svg(plot)}'
                f"<figcaption><b>{_e(plot.title)}.</b> {_e(plot.caption)}</figcaption></figure>"
            )
    if backends is not None:
        body += ["<h2>Backends</h2>", backend_section(backends)]
    if results.latencies:
        body += ["<h2>Latency measurements</h2>", latency_table(results, tags)]
    if results.accuracies:
        body += ["<h2>Accuracy measurements</h2>", accuracy_table(results)]
    if results.machines:
        body += ["<h2>Machines</h2>", machines_section(results, tags)]
    body += ["<h2>Sources</h2>", "<ul>" + "".join(f"<li>{_e(f)}</li>" for f in results.files) + "</ul>"]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n"
        f"<body>\n{chr(10).join(body)}\n</body></html>\n"
    )


def check_target(path: Path) -> None:
    """Fail before any work when the HTML report cannot go to `path` (a folder, a symlink, a FIFO or device, a
    missing or read-only folder)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise ZooError(f"HTML report target {str(path)!r} is a folder; give a file name such as report.html")
    check_output(path)
