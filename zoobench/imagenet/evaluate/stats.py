"""Accuracy with its uncertainty: top-k counts and Wilson score intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

from zoobench.timing.stats import Z95

CI_METHOD = "Wilson score interval, 95%"


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials, in percent; (nan, nan) when n is 0."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


@dataclass(frozen=True)
class Score:
    """`correct` of `images` right, in percent, with its 95 % interval."""

    correct: int
    images: int

    @property
    def pct(self) -> float:
        return 100 * self.correct / self.images if self.images else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        return wilson(self.correct, self.images)


@dataclass(frozen=True)
class Accuracy:
    """Top-1 and top-k (k = 5, or the class count when there are fewer classes)."""

    top1: Score
    top5: Score
    k: int

    @property
    def images(self) -> int:
        return self.top1.images
