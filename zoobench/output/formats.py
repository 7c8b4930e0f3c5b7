"""Rows (plain dicts) -> rich table, Markdown (the seed's layout), CSV or JSON. Writers never measure.

Files are written atomically (temp file + rename) so an interrupted or failed run never leaves half a result.
Every JSON document carries `"schema": "zoobench/<kind>/<version>"`; `schema_of` reads it back.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from zoobench.errors import ZooError
from zoobench.output.columns import Column, text
from zoobench.output.files import atomic_write, check_output

if TYPE_CHECKING:
    from rich.table import Table
    from rich.tree import Tree

FORMATS = ("table", "md", "csv", "json")
_SUFFIXES = {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json"}


@dataclass(frozen=True)
class Frame:
    """Formatted strings under human headers: what a table or Markdown shows."""

    headers: list[str]
    cells: list[list[str]]


def frame(rows: Sequence[dict], columns: Sequence[Column]) -> Frame:
    return Frame([c.header for c in columns], [[c.fmt(r.get(c.key)) for c in columns] for r in rows])


def markdown(df: Frame) -> str:
    from tabulate import tabulate

    # A `|` inside a cell (a user's model name, a file name) would end the cell: escape it as Markdown does.
    cells = [[cell.replace("|", "\\|") for cell in row] for row in df.cells]
    return tabulate(cells, headers=df.headers, tablefmt="pipe", disable_numparse=True) + "\n"


def markdown_with_notes(rows: Sequence[dict], columns: Sequence[Column], notes: Sequence[str]) -> str:
    """A plain Markdown table followed by its footnotes as a bullet list."""
    return markdown(frame(rows, columns)) + "\n" + "".join(f"- {n}\n" for n in notes)


def rich_table(rows: Sequence[dict], columns: Sequence[Column], title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for c in columns:
        table.add_column(c.header, justify="left" if c.fmt is text else "right")
    for values in frame(rows, columns).cells:
        table.add_row(*values)
    return table


def resolve_format(fmt: str | None, output: Path | None) -> str:
    """Explicit --format wins; else -o's extension; else a rich table on a terminal and Markdown when redirected."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ZooError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if fmt == "table" and output is not None:
            raise ZooError("the rich table is for terminals; write files as md, csv or json")
        return fmt
    if output is not None:
        try:
            return _SUFFIXES[output.suffix.lower()]
        except KeyError:
            raise ZooError(
                f"cannot tell the format of {str(output)!r} from its extension; use .md, .csv or .json, or --format"
            ) from None
    return "table" if sys.stdout.isatty() else "md"


def preflight(fmt: str | None, output: Path | None) -> str:
    """Everything about the output that can be refused before the work: the format and the target path."""
    form = resolve_format(fmt, output)
    if output is not None:
        check_output(output)
    return form


def _jsonable(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


SCHEMA_VERSION = 1
_SCHEMA = re.compile(r"zoobench/([a-z-]+)/(\d+)")


def schema(kind: str) -> str:
    return f"zoobench/{kind}/{SCHEMA_VERSION}"


def schema_of(doc: dict, where: str) -> str | None:
    """The kind a result document declares (None for the unversioned files written before schemas); a newer
    version than this zoobench reads is refused."""
    tag = doc.get("schema")
    if tag is None:
        return None
    m = _SCHEMA.fullmatch(tag) if isinstance(tag, str) else None
    if m is None:
        raise ZooError(f"{where}: unknown schema {tag!r}; expected zoobench/<kind>/<version>")
    if int(m.group(2)) > SCHEMA_VERSION:
        raise ZooError(
            f"{where}: written by a newer zoobench (schema {tag}); this one reads version {SCHEMA_VERSION} — upgrade"
        )
    return m.group(1)


def to_json(
    rows: Sequence[dict], environment: dict | None = None, *, schema_kind: str | None = None, **extra: object
) -> str:
    doc = {
        **({"schema": schema(schema_kind)} if schema_kind else {}),
        **extra,
        "environment": environment or {},
        "rows": [{k: _jsonable(v) for k, v in r.items()} for r in rows],
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_int(value: object) -> bool:
    """An integer that fits int64 (pandas keeps bigger ones as objects, written with str())."""
    integral = isinstance(value, numbers.Integral) and not isinstance(value, bool | _np_bool())
    return integral and -(2**63) <= value < 2**63  # type: ignore[operator]


def _is_real(value: object) -> bool:
    return _is_int(value) or (isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral))


def _np_bool() -> type:
    """numpy's bool scalar type when numpy is loaded (a row may carry one), else a type no value has."""
    np = sys.modules.get("numpy")
    return np.bool_ if np is not None else type("_NoBool", (), {})


def _cell_writer(values: list[object]) -> Callable[[object], str]:
    """How one column's cells are written: pandas's dialect for the column's inferred type (the committed CSV files
    were written by pandas), so that CSV costs no pandas import. Ints stay ints unless a blank is beside them
    (then, as in pandas, the column is float: 1.0); numbers mixed with floats are floats; anything else is str()."""
    present = [v for v in values if not _missing(v)]
    if present and all(_is_int(v) for v in present) and len(present) == len(values):
        return lambda v: str(int(v))  # type: ignore[call-overload]
    if present and all(_is_real(v) for v in present):
        return lambda v: "" if _missing(v) else repr(float(v))  # type: ignore[arg-type]
    return lambda v: "" if _missing(v) else str(v)


def to_csv(rows: Sequence[dict]) -> str:
    """Rows as CSV: the union of their keys in order of first appearance, a blank for a missing cell."""
    import csv
    import io

    names = list(dict.fromkeys(k for r in rows for k in r))
    columns = {k: [r.get(k) for r in rows] for k in names}
    writers = {k: _cell_writer(v) for k, v in columns.items()}
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(names)
    for i in range(len(rows)):
        out.writerow([writers[k](columns[k][i]) for k in names])
    return buf.getvalue()


def emit(
    rows: Sequence[dict],
    columns: Sequence[Column],
    *,
    fmt: str | None = None,
    output: Path | None = None,
    title: str | None = None,
    md: Callable[[Sequence[dict]], str] | None = None,
    environment: dict | None = None,
    json_extra: dict | None = None,
    schema_kind: str | None = None,
) -> None:
    """Render rows in the chosen format to stdout or atomically to `output`.

    CSV and JSON carry the raw machine values (all keys of each row); the table and Markdown show `columns`.
    """
    form = preflight(fmt, output)
    if form == "table":
        from rich.console import Console

        Console(soft_wrap=False).print(rich_table(rows, columns, title))
        return
    if form == "csv":
        content = to_csv(rows)
    elif form == "json":
        content = to_json(rows, environment, schema_kind=schema_kind, **(json_extra or {}))
    else:
        content = md(rows) if md is not None else markdown(frame(rows, columns))
    if output is None:
        sys.stdout.write(content)
    else:
        atomic_write(output, content)


# --- the seed's Markdown layout --------------------------------------------------------------------------------

# The seed README puts GoogLeNet/Inception in a table of its own.
SECOND_TABLE_FAMILIES = ("googlenet", "inception")


def _year_grouped(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    """Rows under a banner per year, years in order (a row without a year is left out, as before)."""
    df = frame(rows, columns)
    years = [r.get("year") for r in rows]
    cells = []
    for year in sorted({y for y in years if y is not None}):
        cells.append([f"--- **{year}** ---", *[""] * (len(columns) - 1)])
        cells += [row for row, y in zip(df.cells, years, strict=True) if y == year]
    return markdown(Frame(df.headers, cells)) if cells else ""


def seed_markdown(rows: Sequence[dict], columns: Sequence[Column], footnotes: Sequence[str]) -> str:
    """The seed README's layout: rows grouped by year, GoogLeNet/Inception in a second table, then footnotes."""
    main = [r for r in rows if r.get("family") not in SECOND_TABLE_FAMILIES]
    second = [r for r in rows if r.get("family") in SECOND_TABLE_FAMILIES]
    out = []
    if main:
        out.append(_year_grouped(main, columns))
    if second:
        out.append("### GoogLeNet / Inception V1-V4\n\n" + _year_grouped(second, columns))
    out.append("\n".join(f"- {note}" for note in footnotes) + "\n")
    return "\n".join(out)


def layer_tree(title: str, layers: Sequence, total_macs: int) -> Tree:
    """Per-layer breakdown (module, params, MACs, share of the total) as a rich tree."""
    from rich.tree import Tree

    root = Tree(title)
    nodes = {"": root}
    for layer in layers:
        if not layer.name:
            continue
        share = 100 * layer.macs / total_macs if total_macs else 0.0
        label = f"{layer.name.rsplit('.', 1)[-1]}  params {layer.params:,}  MACs {layer.macs:,}  ({share:.1f} %)"
        parent = nodes.get(layer.name.rsplit(".", 1)[0] if "." in layer.name else "", root)
        nodes[layer.name] = parent.add(label)
    return root
