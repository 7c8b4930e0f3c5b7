"""Statistics of per-run samples: the distribution-free CI of the median and the summary a Measurement reports.

No torch here (numpy only): the A/B compare, the loop and offline re-analysis import this alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
# Student t 0.975 quantiles for 1..30 degrees of freedom (scipy.stats.t.ppf; scipy costs a second to import).
T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604,
        2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518,
        2.0484, 2.0452, 2.0423)  # fmt: skip


def t95(df: int) -> float:
    """Two-sided 95 % Student t quantile for `df` degrees of freedom (the normal one beyond 30: within 4 %)."""
    if df < 1:
        raise ValueError("t95 needs at least one degree of freedom")
    return T975[df - 1] if df <= len(T975) else Z95 + 2.4 / df  # 2.4/df: the first-order correction, within 0.1 %


def between_ci(groups: Sequence[float], center: float, *, rerun: bool = False) -> tuple[float, float, float]:
    """95 % interval of `center` from the spread of independent group estimates (round medians, round ratios):
    (low, high, relative half-width of the wider side).

    Student t on the logs of the group estimates (noise on latency is multiplicative), the method of batch means:
    centre x exp(±t(k-1) · sd(log groups) · w), needs k >= 2 groups. w = 1/√k gives the CI of this run's centre;
    `rerun` gives the prediction interval for the centre a rerun will find, w = √(2 (1 + 1/k)): a host's speed
    drifts between runs as much as between the rounds of one run (measured: docs/methodology.md, "The rerun
    interval"), so each run's centre is off the long-run one by sd·√(1 + 1/k), and two runs differ by √2 that.
    """
    k = len(groups)
    if k < 2:
        raise ValueError("a CI from groups needs at least two")
    logs = np.log(np.asarray(groups, dtype=float))
    width = math.sqrt(2 * (1 + 1 / k)) if rerun else 1 / math.sqrt(k)
    half = t95(k - 1) * float(logs.std(ddof=1)) * width
    return center * math.exp(-half), center * math.exp(half), math.expm1(half)


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
    p10: float
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
    p10, q25, q75, p90, p99 = np.percentile(xs, [10, 25, 75, 90, 99])
    low, high, rel = ci_of_median(xs)
    return Stats(
        median=float(np.median(xs)),
        mean=float(xs.mean()),
        std=float(xs.std(ddof=1)) if len(xs) > 1 else 0.0,
        iqr=float(q75 - q25),
        min=float(xs.min()),
        max=float(xs.max()),
        p10=float(p10),
        p90=float(p90),
        p99=float(p99),
        runs=len(xs),
        ci_low=float(low),
        ci_high=float(high),
        ci_rel=float(rel),
    )
