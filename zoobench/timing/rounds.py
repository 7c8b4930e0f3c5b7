"""Rounds across time and processes: what one round of one model brings back, and how rounds combine. No torch.

A model is measured in several rounds spread over its budget, in more than one fresh process. The headline is the
median of every timed call; its 95 % CI comes from the spread BETWEEN round medians (Student t on their logs, the
method of batch means, docs/methodology.md), so the machine's drift over the run and the process-to-process
differences are inside it — the call-level CI of one process, which the seed reported, is kept as `calls_ci`.
The figure printed beside a median is the wider rerun interval: where a rerun's median lands (stats.between_ci).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from zoobench.timing.loop import spread_warnings
from zoobench.timing.stats import Stats, between_ci, ci_of_median, summarize

CI_ROUNDS = "rounds"  # the CI comes from the spread between round medians
CI_CALLS = "calls"  # one round only: the CI of the median over calls (covers none of the machine's drift)


@dataclass(frozen=True)
class Round:
    """One round of one model: its timed samples (seconds per call) and the load while it ran."""

    process: int  # which process (fresh worker, or session in this process) ran it, 0-based
    samples: list[float]
    calls_per_sample: int
    started: float  # time.time() when the round began
    loadavg: float | None
    others_cores: float | None
    own_cores: float | None
    busy: bool
    warnings: list[str]
    ratios: list[float] | None = None  # with a reference: this model's call / the reference's, per pair

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Round:
        return cls(**data)


@dataclass(frozen=True)
class RoundStats:
    """All rounds of one model combined (seconds; percentages are of the median)."""

    stats: Stats  # over every timed call of every round (the CI fields there are the call-level ones)
    ci_low: float
    ci_high: float
    ci_rel: float  # relative half-width of the wider side of the headline CI
    ci_method: str  # CI_ROUNDS or CI_CALLS
    rerun_low: float | None  # 95 % prediction interval for the median a rerun will find (>= 2 rounds; else None)
    rerun_high: float | None
    rerun_rel: float | None  # relative half-width of its wider side
    round_medians: list[float]
    round_processes: list[int]
    process_medians: list[float]  # median of every call each process timed, by process index
    between_rounds_pct: float | None  # sd of log round medians, % (round-to-round drift)
    between_processes_pct: float | None  # sd of log process medians, % (process-to-process differences)
    within_round_pct: float  # robust sd of calls inside a round (IQR / 1.349), % of its median; median over rounds
    disagree: bool  # some two rounds' own 95 % CIs do not overlap
    warnings: list[str]


def _log_sd_pct(values: Sequence[float]) -> float | None:
    return 100 * float(np.log(np.asarray(values, dtype=float)).std(ddof=1)) if len(values) >= 2 else None


def _disagree(rounds: Sequence[Round]) -> bool:
    """Some round's CI lies wholly above another's (rounds of one sample have no CI and are left out)."""
    cis = [ci_of_median(r.samples)[:2] for r in rounds if len(r.samples) >= 2]
    return len(cis) >= 2 and bool(max(lo for lo, _ in cis) > min(hi for _, hi in cis))


def relative(rounds: Sequence[Round]) -> tuple[float, float, float, float] | None:
    """With a reference: (median of every per-pair ratio, its 95 % CI low and high, relative half-width), the CI
    from the spread between the rounds' median ratios (one round: order statistics over the pairs); else None."""
    if not rounds or any(not r.ratios for r in rounds):
        return None
    ratios = [x for r in rounds for x in r.ratios or ()]
    center = float(np.median(ratios))
    if len(rounds) >= 2:
        low, high, rel = between_ci([float(np.median(r.ratios)) for r in rounds], center)
    else:
        low, high, rel = ci_of_median(ratios)
    return center, float(low), float(high), float(rel)


def combine(rounds: Sequence[Round]) -> RoundStats:
    """The headline median over all calls, its between-rounds 95 % CI, and the between/within split."""
    if not rounds:
        raise ValueError("no rounds")
    stats = summarize([s for r in rounds for s in r.samples])  # numpy floats stay floats: summarize casts
    medians = [float(np.median(r.samples)) for r in rounds]
    processes = sorted({r.process for r in rounds})
    by_process = [float(np.median([s for r in rounds if r.process == p for s in r.samples])) for p in processes]
    rerun: tuple[float, float, float] | tuple[None, None, None] = (None, None, None)
    if len(rounds) >= 2 and min(medians) > 0:
        low, high, rel = between_ci(medians, stats.median)
        rerun = between_ci(medians, stats.median, rerun=True)
        method = CI_ROUNDS
    else:
        low, high, rel, method = stats.ci_low, stats.ci_high, stats.ci_rel, CI_CALLS
    within = [
        (float(np.subtract(*np.percentile(r.samples, [75, 25]))) / 1.349) / m
        for r, m in zip(rounds, medians, strict=True)
        if m > 0
    ]
    disagree = _disagree(rounds)
    warnings = spread_warnings(stats)
    if method == CI_CALLS:
        warnings.append("one round only: the CI covers call-to-call noise, not the machine's drift over time")
    if disagree:
        warnings.append(
            f"rounds disagree: round medians {1e3 * min(medians):.4g}–{1e3 * max(medians):.4g} ms lie beyond each "
            "other's own 95 % CIs (the machine's speed drifted); the stated CI is from the spread between rounds"
        )
    return RoundStats(
        stats=stats,
        ci_low=low,
        ci_high=high,
        ci_rel=rel if math.isfinite(rel) else math.inf,
        ci_method=method,
        rerun_low=rerun[0],
        rerun_high=rerun[1],
        rerun_rel=rerun[2] if rerun[2] is None or math.isfinite(rerun[2]) else math.inf,
        round_medians=medians,
        round_processes=[r.process for r in rounds],
        process_medians=by_process,
        between_rounds_pct=_log_sd_pct(medians),
        between_processes_pct=_log_sd_pct(by_process),
        within_round_pct=100 * float(np.median(within)) if within else 0.0,
        disagree=disagree,
        warnings=warnings,
    )
