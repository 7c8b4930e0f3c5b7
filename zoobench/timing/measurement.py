"""The result of measuring one model at one setting: `Measurement`, and how rounds and sessions become one.

`build` turns an entry's rounds (timing/rounds.py) and what each of its sessions learnt (`SessionInfo`: threads,
warm-up, compile time, memory) into a Measurement with times in ms; the parent of isolated workers builds it from
what they send back, in-process runs from their own sessions.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import MISSING, asdict, dataclass, fields

import numpy as np

from zoobench import environment
from zoobench.errors import ZooError
from zoobench.timing.loop import STOP_BUDGET, Policy
from zoobench.timing.rounds import Round, combine, relative

MODE = "latency"  # the default mode (loop.MODES): one query at a time (MLPerf's SingleStream), named in every result


@dataclass(frozen=True)
class Setting:
    """Which model at which setting: the fields every bench row starts with, measured or failed."""

    model: str
    device: str
    dtype: str
    batch: int
    resolution: int
    threads: int


@dataclass(frozen=True)
class SessionInfo:
    """What one session (one process, or one build in this process) learnt besides its rounds."""

    threads: int
    interop_threads: int
    affinity: list[int] | None
    thread_warnings: list[str]
    warmup_calls: int
    warmup_s: float
    warmup_settled: bool
    warmup_limit_s: float
    compile_s: float | None
    elapsed_s: float  # warm-up + rounds (rewarm calls included)
    weight_bytes: int
    rss_peak_bytes: int | None  # peak RSS above the state before the build
    rss_method: str
    cuda_peak_bytes: int | None
    gpu: str | None
    backend: dict | None = None  # zoobench.backends.Prepared.report(): conversion, runtime settings, equivalence

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Measurement(Setting):
    """One model at one setting: the statistics, the rates, and what is needed to judge them. Times in ms."""

    mode: str  # "latency": each call alone, synchronised; "throughput": a sample's calls queued, synchronised once
    interop_threads: int
    affinity: list[int] | None
    channels_last: bool
    compiled: bool
    tf32: bool
    isolation: str  # "subprocess" or "in-process"
    median_ms: float  # of every timed call of every round
    ci_low_ms: float  # the 95 % CI of the median, from the spread between rounds (ci_method)
    ci_high_ms: float
    ci_pct: float  # half-width of the wider side of that CI, % of the median
    ci_method: str  # "rounds" (between-rounds t) or "calls" (one round: call-level order statistics)
    calls_ci_pct: float  # the call-level CI half-width, %: what one process alone would claim
    mean_ms: float
    std_ms: float
    iqr_ms: float
    min_ms: float
    p10_ms: float  # a robust best case: moves least on a noisy host
    p90_ms: float
    p99_ms: float
    max_ms: float
    runs: int  # timed samples (single calls unless calls_per_run > 1)
    calls_per_run: int  # 1: per-call percentiles; > 1: calls too short to time alone were timed in blocks
    rounds: int
    processes: int
    round_medians_ms: list[float]
    round_processes: list[int]
    round_sizes: list[int]  # samples per round: samples_ms split back into rounds
    process_medians_ms: list[float]
    between_rounds_pct: float | None  # sd of log round medians, %
    between_processes_pct: float | None  # sd of log process medians, %
    within_round_pct: float  # robust sd of calls inside a round, % of its median
    rounds_disagree: bool
    reference: str | None  # --reference: the model called alternately with this one, pair by pair
    relative: float | None  # median over pairs of (this call / the reference's call): drift cancels within a pair
    relative_ci_low: float | None  # its 95 % CI, from the spread between rounds
    relative_ci_high: float | None
    round_relatives: list[float] | None  # each round's median ratio: what --compare tests between two runs
    warmup_calls: int
    warmup_s: float
    compile_s: float | None
    stop: str
    max_time_s: float
    elapsed_s: float
    images_per_s: float
    flops_per_image: int  # 2 x MACs (complexity.measure)
    gflops_per_s: float
    peak_gflops: float | None
    peak_share: float | None  # achieved / peak, 0..1
    peak_basis: str | None
    weight_bytes: int
    rss_peak_bytes: int | None  # the worker's peak RSS above its state before the model was built (max over sessions)
    rss_method: str
    cuda_peak_bytes: int | None
    loadavg: float | None  # the highest of the rounds
    others_cores: float | None  # the highest of the rounds
    own_cores: float | None  # the lowest of the rounds
    busy: bool  # any round was busy
    warnings: list[str]
    samples_ms: list[float]  # every sample of every round, in order, for --compare and re-analysis
    gpu: str | None
    seed: int
    # --backend (zoobench/backends): who ran it, its conversion and first call timed apart, what the runtime
    # reports as its settings, and the equivalence with eager fp32 (None for plain eager: nothing converted).
    backend: str = "eager"
    precision: str = "fp32"
    convert_s: float | None = None
    first_call_s: float | None = None
    cache_hit: bool | None = None
    artifact: str | None = None
    runtime_settings: dict | None = None
    calibration: str | None = None
    quant_method: str | None = None
    max_abs_diff: float | None = None
    rel_diff: float | None = None
    top1_agree: float | None = None
    top5_agree: float | None = None
    equivalent: bool | None = None
    tolerance: float | None = None
    min_top1_agree: float | None = None
    compared_images: int | None = None
    # The 95 % prediction interval for the median a rerun will find (>= 2 rounds; stats.between_ci): the precision
    # printed beside the median. None in files written before it existed.
    rerun_low_ms: float | None = None
    rerun_high_ms: float | None = None
    rerun_pct: float | None = None  # half-width of its wider side, % of the median
    images_per_s_ci_low: float | None = None  # batch / the latency CI's high end (older files lack it)
    images_per_s_ci_high: float | None = None  # batch / its low end

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        names = {f.name for f in fields(cls)}
        missing = {f.name for f in fields(cls) if f.default is MISSING} - set(data)  # older files lack the defaults
        if missing:
            raise ZooError(f"measurement lacks {', '.join(sorted(missing))}")
        return cls(**{k: data[k] for k in names if k in data})


def _load_warnings(rounds: list[Round]) -> list[str]:
    """Each distinct load warning once, with how many rounds raised it."""
    counts = Counter(w for r in rounds for w in r.warnings)
    return [w + (f" (in {n} of {len(rounds)} rounds)" if len(rounds) > 1 else "") for w, n in counts.items()]


def _optional(values: list[float | None], pick) -> float | None:
    known = [v for v in values if v is not None]
    return pick(known) if known else None


def build(
    setting: Setting,
    config: object,
    rounds: list[Round],
    sessions: list[SessionInfo],
    *,
    stop: str,
    flops: int,
    isolation: str,
) -> Measurement:
    """Statistics, rates, peak share, memory and warnings of one entry's rounds, as a Measurement (times in ms).

    Long because it names every field of Measurement once; the logic is in rounds.combine and the helpers above."""
    policy: Policy = config.policy  # type: ignore[attr-defined]
    rs = combine(rounds)
    stats, first = rs.stats, sessions[0]
    images_per_s = setting.batch / stats.median if stats.median > 0 else math.inf
    gflops = flops * images_per_s / 1e9
    cpu = setting.device == "cpu"
    peak, basis = environment.peak_fp32_gflops(first.threads) if cpu else (None, None)
    share = gflops / peak if peak else None
    warnings = [*first.thread_warnings, *rs.warnings]
    if stop == STOP_BUDGET and rs.ci_rel > policy.rel_ci:
        warnings.append(
            f"stopped by --max-time ({policy.max_time:g} s) with the 95 % CI of the median (between rounds) at "
            f"±{100 * rs.ci_rel:.1f} % (target ±{100 * policy.rel_ci:g} %)"
        )
    unsettled = [s for s in sessions if not s.warmup_settled]
    if unsettled:
        warnings.append(
            f"warm-up did not settle within {unsettled[0].warmup_limit_s:.3g} s in {len(unsettled)} of "
            f"{len(sessions)} process(es)"
        )
    warnings += _load_warnings(rounds)
    backend = dict(first.backend or {})
    warnings += backend.pop("backend_warnings", [])  # an export that changed the model: flagged, said first
    if share is not None and share > 1:
        warnings.append(f"achieved {gflops:.0f} GFLOP/s exceeds the assumed fp32 peak {peak:.0f}: see peak_basis")
    dtype = config.dtype  # type: ignore[attr-defined]
    if cpu and dtype != "fp32" and peak:
        basis = f"{basis}; the peak is fp32's, the run used {dtype}"
    ms = 1e3
    samples = [s for r in rounds for s in r.samples]
    rel = relative(rounds)
    return Measurement(
        **asdict(setting),
        mode=getattr(config, "mode", MODE),
        interop_threads=first.interop_threads,
        affinity=first.affinity,
        channels_last=config.channels_last,  # type: ignore[attr-defined]
        compiled=config.compile,  # type: ignore[attr-defined]
        tf32=config.tf32 if setting.device == "cuda" else False,  # type: ignore[attr-defined]
        isolation=isolation,
        median_ms=stats.median * ms,
        ci_low_ms=rs.ci_low * ms,
        ci_high_ms=rs.ci_high * ms,
        ci_pct=100 * rs.ci_rel,
        ci_method=rs.ci_method,
        calls_ci_pct=100 * stats.ci_rel,
        rerun_low_ms=None if rs.rerun_low is None else rs.rerun_low * ms,
        rerun_high_ms=None if rs.rerun_high is None else rs.rerun_high * ms,
        rerun_pct=None if rs.rerun_rel is None else 100 * rs.rerun_rel,
        mean_ms=stats.mean * ms,
        std_ms=stats.std * ms,
        iqr_ms=stats.iqr * ms,
        min_ms=stats.min * ms,
        p10_ms=stats.p10 * ms,
        p90_ms=stats.p90 * ms,
        p99_ms=stats.p99 * ms,
        max_ms=stats.max * ms,
        runs=stats.runs,
        calls_per_run=max(r.calls_per_sample for r in rounds),
        rounds=len(rounds),
        processes=len(sessions),
        round_medians_ms=[m * ms for m in rs.round_medians],
        round_processes=rs.round_processes,
        round_sizes=[len(r.samples) for r in rounds],
        process_medians_ms=[m * ms for m in rs.process_medians],
        between_rounds_pct=rs.between_rounds_pct,
        between_processes_pct=rs.between_processes_pct,
        within_round_pct=rs.within_round_pct,
        rounds_disagree=rs.disagree,
        reference=config.reference if rel else None,  # type: ignore[attr-defined]
        relative=rel[0] if rel else None,
        relative_ci_low=rel[1] if rel else None,
        relative_ci_high=rel[2] if rel else None,
        round_relatives=[float(np.median(r.ratios)) for r in rounds if r.ratios] if rel else None,
        warmup_calls=sum(s.warmup_calls for s in sessions),
        warmup_s=sum(s.warmup_s for s in sessions),
        compile_s=first.compile_s,
        stop=stop,
        max_time_s=policy.max_time,
        elapsed_s=sum(s.elapsed_s for s in sessions),
        images_per_s=images_per_s,
        images_per_s_ci_low=setting.batch / rs.ci_high if rs.ci_high > 0 else math.inf,
        images_per_s_ci_high=setting.batch / rs.ci_low if rs.ci_low > 0 else math.inf,
        flops_per_image=flops,
        gflops_per_s=gflops,
        peak_gflops=peak,
        peak_share=share,
        peak_basis=basis,
        weight_bytes=first.weight_bytes,
        rss_peak_bytes=_optional([s.rss_peak_bytes for s in sessions], max),
        rss_method=first.rss_method,
        cuda_peak_bytes=_optional([s.cuda_peak_bytes for s in sessions], max),
        loadavg=_optional([r.loadavg for r in rounds], max),
        others_cores=_optional([r.others_cores for r in rounds], max),
        own_cores=_optional([r.own_cores for r in rounds], min),
        busy=any(r.busy for r in rounds),
        warnings=warnings,
        samples_ms=[round(s * ms, 6) for s in samples],
        gpu=first.gpu,
        seed=config.seed,  # type: ignore[attr-defined]
        **backend,
    )
