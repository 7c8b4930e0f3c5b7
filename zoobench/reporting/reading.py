"""Result files -> plain rows, trusting nothing in them. Never measures, never imports torch.

A result file is JSON {"schema": ..., "environment": {...}, "rows": [...], ...} (a bare list of rows too) or a CSV of
raw rows (no environment). Whatever a file holds, reading it gives a `ResultFile`, None (well-formed but no rows to
report, such as a benchmark summary or the report's own output) or one ZooError: never another exception, a hang on
a FIFO or a traceback from a 100,000-level nesting.
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoobench.errors import ZooError, first_line
from zoobench.output import formats

DEFAULT_DIR = Path("results")
SUFFIXES = (".json", ".csv")
REPORT_KIND = "zoobench report"  # marks the report's own JSON output (with schema kind "report"), so it is skipped
REPORT_SCHEMA_KIND = "report"
REPORT_MARKER = "top1_origin"  # a key only the report's own rows carry: its CSV output is skipped too
MAX_DEPTH = 64  # result files nest 3-4 levels; deeper is hostile, and printing it could blow the stack later
MAX_NAME = 200  # characters of a model name; longer is not a name
OWN_OUTPUT = "zoobench report's own output, not a result"


@dataclass
class ResultFile:
    path: Path
    environment: dict
    rows: list[dict]


class Skipped(ZooError):
    """A file that cannot be reported (junk, or a result with a bad value): a folder scan passes over it with a note
    `skipped FILE: reason`; named explicitly, it is an error (the message)."""

    def __init__(self, where: str, reason: str, form: str = "{where} is {reason}") -> None:
        super().__init__(form.format(where=where, reason=reason))
        self.reason = reason


def shown(path: Path | str) -> str:
    """A path as a message shows it: as is, or quoted with escapes when it holds a newline or control character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def one_line(value: object, limit: int = 100) -> str:
    """A value from a file as text for a label or a message: control characters blanked, at most `limit` long, so a
    CPU name with a newline cannot split a stderr line or a footnote."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def discover(paths: Sequence[Path]) -> list[tuple[Path, bool]]:
    """(file, named explicitly) for every result file: named files as given, folders searched for *.json / *.csv
    (hidden files and folders below them passed over: atomic_write's temp files are hidden)."""
    found: list[tuple[Path, bool]] = []
    for path in map(Path, paths):
        try:
            st = path.stat()
        except FileNotFoundError:
            if path == DEFAULT_DIR:
                raise ZooError(
                    "no results/ folder here: give result files or folders (CSV/JSON from profile, bench, eval)"
                ) from None
            raise ZooError(f"no such result file or folder: {str(path)!r}") from None
        except OSError as exc:
            raise ZooError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            found.extend((p, False) for p in _scan(path))
        elif path.suffix.lower() not in SUFFIXES:
            raise ZooError(f"{str(path)!r} is not a result file: give .json or .csv files, or a folder")
        elif not stat.S_ISREG(st.st_mode):
            raise ZooError(f"{str(path)!r} is not a regular file (a FIFO or device): give result files or folders")
        else:
            found.append((path, True))
    if not found:
        raise ZooError(f"no CSV or JSON result files in {', '.join(repr(str(p)) for p in paths)}")
    return list(dict.fromkeys(found))


def _scan(folder: Path) -> list[Path]:
    try:
        inside = [
            p
            for p in folder.rglob("*")
            if p.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
            and p.is_file()  # a FIFO or device found in a folder is passed over, never opened
        ]
    except OSError as exc:
        raise ZooError(f"cannot search {str(folder)!r}: {exc.strerror or exc}") from None
    return sorted(inside)


def read(path: Path) -> ResultFile:
    """Parse one file into rows; `Skipped` (a ZooError) for junk and for files with no rows to report (a benchmark
    summary, the report's own output)."""
    where = repr(str(path))
    text = _text(path, where)
    if path.suffix.lower() == ".json":
        doc = _json(text, where)
        if isinstance(doc, list):
            doc = {"rows": doc}
        if not isinstance(doc, dict):
            kind = (
                "null"
                if doc is None
                else "boolean"
                if isinstance(doc, bool)
                else "string"
                if isinstance(doc, str)
                else "number"
            )
            raise Skipped(where, f"a JSON {kind}, not a result document (an object with 'rows')")
        if formats.schema_of(doc, where) == REPORT_SCHEMA_KIND or doc.get("kind") == REPORT_KIND:
            raise Skipped(where, OWN_OUTPUT)
        if not isinstance(doc.get("rows"), list):
            raise Skipped(where, "no result rows", "{where} holds no result rows (expected JSON with a 'rows' list)")
        env = doc.get("environment") if isinstance(doc.get("environment"), dict) else {}
        rows = doc["rows"]
    else:
        rows, env = _csv(text, where), {}
    if rows and isinstance(rows[0], dict) and REPORT_MARKER in rows[0]:
        raise Skipped(where, OWN_OUTPUT)
    for i, row in enumerate(rows):
        _check_row(row, i, where)
    return ResultFile(path, env, rows)


def _text(path: Path, where: str) -> str:
    try:
        # O_NONBLOCK: a FIFO swapped in after discovery must not hang the report; regular files ignore it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise Skipped(where, "not a regular file")
            data = fh.read()
    except OSError as exc:
        raise Skipped(where, f"cannot read it: {exc.strerror or exc}", "{where}: {reason}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Skipped(where, "not UTF-8 text") from None
    if not text.strip():
        raise Skipped(where, "empty")
    return text


def _json(text: str, where: str) -> object:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Skipped(where, f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise Skipped(where, "not a result file: JSON nested too deep") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise Skipped(where, f"not valid JSON: {first_line(exc)}") from None
    if _too_deep(doc):
        raise Skipped(where, f"not a result file: JSON nested more than {MAX_DEPTH} levels")
    return doc


def _too_deep(doc: object) -> bool:
    """Iteratively, so that checking a deep document cannot itself overflow the stack."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False


def _csv(text: str, where: str) -> list[dict]:
    import pandas as pd  # its dialect (ints stay ints beside blanks) is the one the writers use

    try:
        df = pd.read_csv(io.StringIO(text))
    except Exception as exc:  # pandas raises many types for malformed text (ParserError, ValueError, ...)
        raise Skipped(where, f"not a valid CSV: {first_line(exc)}") from None
    df = df.astype(object).where(pd.notna(df), None)
    return df.to_dict(orient="records")


def _check_row(row: object, i: int, where: str) -> None:
    name = row.get("model") if isinstance(row, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise Skipped(where, f"row {i + 1} has no model name", "{where}: {reason}")
    if len(name) > MAX_NAME or not name.isprintable():
        why = f"row {i + 1}: the model name is not one line of at most {MAX_NAME} characters"
        raise Skipped(where, why, "{where}: {reason}")
