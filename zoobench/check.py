"""Regression gate: params and MACs at 224 for every registered model against a committed baseline CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zoobench.errors import ZooError
from zoobench.profiling import profile
from zoobench.registry import all_specs

# The committed baseline of this checkout, found from the package rather than the working directory, so that
# `zoobench check` and the advice it prints work from any folder.
BASELINE = Path(__file__).resolve().parents[1] / "results" / "zoo.csv"
KEYS = ("params", "macs")


def current() -> pd.DataFrame:
    rows = profile(all_specs(), 224, time=False).rows
    return pd.DataFrame(rows)[["model", "family", "year", "resolution", "params", "macs", "flops"]]


def read_baseline(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise ZooError(f"no baseline at {str(path)!r}; create it with `zoobench check --update`") from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ZooError(f"cannot read baseline {str(path)!r}: {exc}") from exc
    missing = {"model", *KEYS} - set(df.columns)
    if missing:
        raise ZooError(f"baseline {str(path)!r} lacks column(s) {', '.join(sorted(missing))}")
    for key in KEYS:
        values = pd.to_numeric(df[key], errors="coerce")
        bad = df["model"][values.isna() | (values < 0) | (values != values.round())]
        if len(bad):
            raise ZooError(f"baseline {str(path)!r}: {key} of {bad.iloc[0]!r} is not a whole number")
        df[key] = values.astype("int64")
    twice = df["model"][df["model"].duplicated()]
    if len(twice):
        raise ZooError(f"baseline {str(path)!r} lists {twice.iloc[0]!r} twice")
    return df


def differences(now: pd.DataFrame, baseline: pd.DataFrame) -> list[dict]:
    """One row per model whose params or MACs changed, or that appeared or disappeared."""
    merged = now.merge(baseline, on="model", how="outer", suffixes=("", "_baseline"), indicator=True)
    diffs = []
    for r in merged.to_dict("records"):
        status = {"left_only": "new", "right_only": "removed"}.get(r["_merge"])
        if status is None and all(int(r[k]) == int(r[f"{k}_baseline"]) for k in KEYS):
            continue
        row = {"model": r["model"], "status": status or "changed"}
        for k in KEYS:
            ours, base = r.get(k), r.get(f"{k}_baseline")
            row[k] = None if pd.isna(ours) else int(ours)
            row[f"{k}_baseline"] = None if pd.isna(base) else int(base)
        diffs.append(row)
    return diffs
