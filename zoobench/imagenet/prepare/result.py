"""What a prepare run returns: the table's rows, the problems, and per-split statistics (raw values only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SplitStats:
    classes: int = 0
    images: int = 0
    bytes: int = 0
    extracted: int = 0  # classes (train) or images (val) written by this run
    resumed: int = 0  # classes already done by an earlier run (train); val is all or nothing
    normalized: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PrepareResult:
    out: Path
    rows: list[dict]  # the table: one total row per split, md5 rows, then one row per problem
    problems: list[dict]
    stats: dict[str, SplitStats]

    @property
    def ok(self) -> bool:
        return not self.problems


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def human(n: float) -> str:
    """Bytes in decimal units, for messages: 1.5 MB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError
