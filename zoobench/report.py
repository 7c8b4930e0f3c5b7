"""Rows (plain dicts) -> rich table, Markdown (the seed's layout), CSV or JSON. Writers never measure.

Files are written atomically (temp file + rename) so an interrupted or failed run never leaves half a result.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from zoobench.errors import ZooError

FORMATS = ("table", "md", "csv", "json")
_SUFFIXES = {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json"}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: Callable[[object], str] = str


def _blank_if_missing(fn: Callable[[float], str]) -> Callable[[object], str]:
    def fmt(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return fn(value)  # type: ignore[arg-type]

    return fmt


def num(decimals: int, scale: float = 1.0) -> Callable[[object], str]:
    """Formatter: value / scale with fixed decimals; blank for a missing value (never a made-up number)."""
    return _blank_if_missing(lambda v: f"{v / scale:.{decimals}f}")


def signed(decimals: int, scale: float = 1.0) -> Callable[[object], str]:
    return _blank_if_missing(lambda v: f"{v / scale:+.{decimals}f}")


def integer(value: object) -> str:
    return _blank_if_missing(lambda v: f"{int(v):,}")(value)


def text(value: object) -> str:
    return "" if value is None else str(value)


def frame(rows: Sequence[dict], columns: Sequence[Column]) -> pd.DataFrame:
    """Display frame: formatted strings under human headers."""
    return pd.DataFrame(
        {c.header: [c.fmt(r.get(c.key)) for r in rows] for c in columns},
        columns=[c.header for c in columns],
    )


def markdown(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, disable_numparse=True) + "\n"


def rich_table(rows: Sequence[dict], columns: Sequence[Column], title: str | None = None) -> Table:
    table = Table(title=title, header_style="bold")
    for c in columns:
        table.add_column(c.header, justify="left" if c.fmt is text else "right")
    df = frame(rows, columns)
    for values in df.itertuples(index=False):
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


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write a whole file or nothing (text as UTF-8, bytes as they are): temp file in the same folder, fsync, rename
    over the target, with the mode a plain open() would give."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ZooError(f"cannot write {str(path)!r}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ZooError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content if isinstance(content, bytes) else content.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file owner-only; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ZooError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
        raise


def _jsonable(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(rows: Sequence[dict], environment: dict | None = None, **extra: object) -> str:
    doc = {
        **extra,
        "environment": environment or {},
        "rows": [{k: _jsonable(v) for k, v in r.items()} for r in rows],
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def to_csv(rows: Sequence[dict]) -> str:
    return pd.DataFrame(list(rows)).to_csv(index=False)


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
) -> None:
    """Render rows in the chosen format to stdout or atomically to `output`.

    CSV and JSON carry the raw machine values (all keys of each row); the table and Markdown show `columns`.
    """
    kind = resolve_format(fmt, output)
    if kind == "table":
        Console(soft_wrap=False).print(rich_table(rows, columns, title))
        return
    if kind == "csv":
        content = to_csv(rows)
    elif kind == "json":
        content = to_json(rows, environment, **(json_extra or {}))
    else:
        content = md(rows) if md is not None else markdown(frame(rows, columns))
    if output is None:
        sys.stdout.write(content)
    else:
        atomic_write(output, content)


# --- the seed's Markdown layout --------------------------------------------------------------------------------

SEED_COLUMNS = [
    Column("model", "Model", text),
    Column("params", "Params/Million", num(6, 1e6)),
    Column("macs", "MACs/G", num(5, 1e9)),
    Column("flops", "FLOPs/G", num(5, 1e9)),
    Column("time_ms", "Time_cast/ms", num(2)),
    Column("top1", "Top-1", num(2)),
    Column("top5", "Top-5", num(2)),
]

# The seed README puts GoogLeNet/Inception in a table of its own.
SECOND_TABLE_FAMILIES = ("googlenet", "inception")


def _year_grouped(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    df = frame(rows, columns)
    parts = []
    for year, group in df.groupby(pd.Series([r.get("year") for r in rows]), sort=True):
        banner = {c.header: "" for c in columns}
        banner[columns[0].header] = f"--- **{year}** ---"
        parts.append(pd.DataFrame([banner]))
        parts.append(group)
    return markdown(pd.concat(parts, ignore_index=True)) if parts else ""


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
