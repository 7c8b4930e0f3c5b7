"""Regression gate: params and MACs at 224 for every registered model against a committed baseline CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zoobench.complexity import profile
from zoobench.errors import ZooError
from zoobench.registry import all_specs

BASELINE = Path("results/zoo.csv")
KEYS = ("params", "macs")


def current() -> pd.DataFrame:
    rows = profile(all_specs(), resolution=224)
    return pd.DataFrame(rows)[["model", "family", "year", "resolution", "params", "macs", "flops"]]


def read_baseline(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise ZooError(f"no baseline at {str(path)!r}; create it with `zoobench check --update`") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ZooError(f"cannot read baseline {str(path)!r}: {exc}") from exc
    missing = {"model", *KEYS} - set(df.columns)
    if missing:
        raise ZooError(f"baseline {str(path)!r} lacks column(s) {', '.join(sorted(missing))}")
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
