"""A column of a table: its row key, its header and how its value reads. No pandas or rich: every engine may use it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


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
