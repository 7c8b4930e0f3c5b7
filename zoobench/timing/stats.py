"""Statistics of per-run samples: the distribution-free CI of the median and the summary a Measurement reports.

No torch here (numpy only): the A/B compare, the loop and offline re-analysis import this alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def ci_of_median(samples: Sequence[float]) -> tuple[float, float, float]:
    """Distribution-free 95 % CI of the median from order statistics: (low, high, half-width / median).

    Ranks n/2 ∓ 1.96·√n/2 (normal approximation to Binomial(n, 1/2), Conover 1999), widened outward to whole ranks,
    so coverage is at least 95 % for n >= 10. Below that the interval is the sample range.
    """
    xs = sorted(samples)
    n = len(xs)
    half = Z95 * math.sqrt(n) / 2
    lo = max(1, math.floor(n / 2 - half))
    hi = min(n, math.ceil(1 + n / 2 + half))
    low, high = xs[lo - 1], xs[hi - 1]
    med = float(np.median(xs))
    rel = max(med - low, high - med) / med if med > 0 else (0.0 if high == low else math.inf)
    return low, high, rel


@dataclass(frozen=True)
class Stats:
    median: float
    mean: float
    std: float
    iqr: float
    min: float
    max: float
    p90: float
    p99: float
    runs: int
    ci_low: float
    ci_high: float
    ci_rel: float  # half-width of the CI / median


def summarize(samples: Sequence[float]) -> Stats:
    if not samples:
        raise ValueError("no samples")
    xs = np.asarray(samples, dtype=float)
    q25, q75, p90, p99 = np.percentile(xs, [25, 75, 90, 99])
    low, high, rel = ci_of_median(xs)
    return Stats(
        median=float(np.median(xs)),
        mean=float(xs.mean()),
        std=float(xs.std(ddof=1)) if len(xs) > 1 else 0.0,
        iqr=float(q75 - q25),
        min=float(xs.min()),
        max=float(xs.max()),
        p90=float(p90),
        p99=float(p99),
        runs=len(xs),
        ci_low=float(low),
        ci_high=float(high),
        ci_rel=float(rel),
    )
