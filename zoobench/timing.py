"""The latency engine: warm-up, calibrated blocks, adaptive stop, statistics, threads, devices. No formatting.

Protocol (docs/methodology.md): model.eval() under torch.inference_mode(), a fixed-seed input (batch 1, 3x224x224 by
default); single warm-up calls until timings settle; then timed *runs*, each a block of calls calibrated to last long
enough that reading the clock costs nothing measurable; stop when the 95% confidence interval of the median is within
±1 % or when the per-model budget is spent, and say which. One run gives one sample: the block's time / its calls.

Layers, each usable alone:
- `time_callable(fn, clock=..., sync=...)`: the measuring loop on any callable, with an injectable clock (tests use a
  fake one);
- `measure_model(spec, config)`: build, pin threads, prepare the input, time, summarise -> `Measurement`, in process;
- `measure(spec, config)`: the same in a fresh `python -m zoobench.timing` subprocess (pyperf's isolation) by default;
- `bench(specs, config, threads=[...])`: many models and a thread sweep; `compare(rows, baseline)`: the noisy A/B.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from zoobench import complexity, environment
from zoobench.errors import ZooError
from zoobench.registry import ModelSpec, get_spec

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICES = ("cpu", "cuda")
Z95 = 1.959964  # two-sided 95 % normal quantile

# Why a measurement stopped.
STOP_CI = "ci"  # the 95 % CI of the median reached ±rel_ci
STOP_BUDGET = "max_time"  # the per-model budget was spent first
STOP_RUNS = "max_runs"  # the run cap was reached (a safety net, and handy in tests)

Clock = Callable[[], float]


# --- the protocol's knobs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """How long and how finely to measure one model."""

    max_time: float = 6.0  # budget per model in seconds: warm-up + runs (not build or compile); --all in < 15 min
    rel_ci: float = 0.01  # stop once the 95 % CI of the median is within ±1 % of it
    min_runs: int = 10  # the CI is not looked at before this many runs
    floor_runs: int = 3  # always take this many timed runs, even past the budget (huge models, tiny budgets)
    max_runs: int = 100_000
    warmup_min_calls: int = 3
    warmup_min_time: float = 0.25  # seconds
    warmup_window: int = 2  # settled when the mean of the last `window` calls ...
    warmup_settle: float = 0.05  # ... is no more than 5 % below the mean of the `window` before them
    warmup_share: float = 0.4  # warm-up stops unsettled after this share of max_time
    min_block_time: float = 0.01  # a run lasts at least 10 ms ...
    overhead_factor: float = 1000.0  # ... and at least 1000x the clock's own overhead (< 0.1 % error)

    def validate(self) -> None:
        if not (self.max_time > 0 and math.isfinite(self.max_time)):
            raise ZooError(f"--max-time must be a positive number of seconds, got {self.max_time}")
        if not 0 < self.rel_ci < 1:
            raise ZooError(f"the CI target must be between 0 and 1, got {self.rel_ci}")


# Time_cast in `zoobench profile`: about a second per model including warm-up, so the whole zoo takes minutes even
# on a loaded machine (one run is enough to stop; a busy machine is flagged in the footnote).
QUICK = Policy(max_time=1.0, warmup_min_calls=2, warmup_min_time=0.1, floor_runs=1)


@dataclass(frozen=True)
class BenchConfig:
    """What is measured: device, precision, layout, input shape, threads."""

    device: str = "cpu"
    dtype: str = "fp32"
    batch: int = 1
    resolution: int | None = 224  # None: each model's native resolution
    threads: int | None = None  # None: default_threads()
    channels_last: bool = False
    compile: bool = False
    compile_backend: str = "inductor"
    tf32: bool = False
    seed: int = 0
    policy: Policy = field(default_factory=Policy)

    def validate(self) -> None:
        if self.device not in DEVICES:
            raise ZooError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if self.dtype not in DTYPES:
            raise ZooError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.batch < 1:
            raise ZooError(f"--batch must be at least 1, got {self.batch}")
        if self.resolution is not None and self.resolution < 1:
            raise ZooError(f"resolution must be a positive number of pixels, got {self.resolution}")
        if self.threads is not None and self.threads < 1:
            raise ZooError(f"--threads must be at least 1, got {self.threads}")
        if self.device == "cuda" and not torch.cuda.is_available():
            built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "built without CUDA"
            raise ZooError(
                f"--device cuda: no usable CUDA GPU here (torch {torch.__version__} {built}); use --device cpu"
            )
        self.policy.validate()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BenchConfig:
        return cls(**{**data, "policy": Policy(**data["policy"])})


def default_threads() -> int:
    """OMP_NUM_THREADS when the user set it (tests set 1), else every core this process may run on."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        n = 0
    return n if n >= 1 else environment.usable_cores()


def parse_threads(text: str | None) -> list[int] | None:
    """'4' -> [4]; '1,2,4' -> a sweep; None -> None (the default)."""
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise ZooError(f"--threads takes a count or a comma-separated list such as 1,2,4, not {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise ZooError(f"--threads counts must be at least 1, got {text!r}")
    return list(dict.fromkeys(values))


# --- the measuring loop -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Raw outcome of `time_callable`: seconds per call, one sample per run."""

    samples: list[float]
    calls_per_run: int
    warmup: list[float]  # seconds of each warm-up call, excluded from the samples
    warmup_settled: bool
    stop: str
    elapsed: float  # seconds from the first warm-up call to the end of the last run
    timer_overhead: float


def timer_overhead(clock: Clock, reads: int = 64) -> float:
    """Median cost of one clock read."""
    stamps = [clock() for _ in range(reads)]
    return float(np.median(np.diff(stamps)))


def _settled(calls: list[float], policy: Policy) -> bool:
    w = policy.warmup_window
    if len(calls) < 2 * w:
        return False
    last, before = sum(calls[-w:]) / w, sum(calls[-2 * w : -w]) / w
    return last >= (1 - policy.warmup_settle) * before


def time_callable(
    fn: Callable[[], object],
    *,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
    policy: Policy = Policy(),
) -> Timing:
    """Warm up, calibrate the block size, then time blocks until the median is pinned down or the budget is spent.

    `sync` runs before every clock read (torch.cuda.synchronize on a GPU), so queued work is inside the region timed.
    """
    sync = sync or (lambda: None)
    overhead = max(0.0, timer_overhead(clock))
    sync()
    start = clock()
    warm: list[float] = []
    while True:
        sync()
        t0 = clock()
        fn()
        sync()
        t1 = clock()
        warm.append(t1 - t0)
        spent = t1 - start
        if len(warm) >= policy.warmup_min_calls and spent >= policy.warmup_min_time and _settled(warm, policy):
            settled = True
            break
        if spent >= policy.warmup_share * policy.max_time:
            settled = False
            break

    per_call = min(warm[-policy.warmup_window :])
    block = max(policy.min_block_time, policy.overhead_factor * overhead)
    number = max(1, math.ceil(block / per_call)) if per_call > 0 else 1

    samples: list[float] = []
    while True:
        sync()
        t0 = clock()
        for _ in range(number):
            fn()
        sync()
        t1 = clock()
        samples.append((t1 - t0) / number)
        if len(samples) >= policy.min_runs and ci_of_median(samples)[2] <= policy.rel_ci:
            stop = STOP_CI
            break
        if t1 - start >= policy.max_time and len(samples) >= policy.floor_runs:
            stop = STOP_BUDGET
            break
        if len(samples) >= policy.max_runs:
            stop = STOP_RUNS
            break
    return Timing(samples, number, warm, settled, stop, t1 - start, overhead)


# --- statistics -------------------------------------------------------------------------------------------------


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


def stability_warnings(stats: Stats, timing: Timing, policy: Policy) -> list[str]:
    """pyperf-style warnings: a result that looks unstable says so."""
    out = []
    ms = 1e3
    if stats.mean > 0 and stats.std > 0.10 * stats.mean:
        out.append(
            f"unstable: the standard deviation ({stats.std * ms:.3g} ms) is {100 * stats.std / stats.mean:.0f} % "
            f"of the mean ({stats.mean * ms:.3g} ms)"
        )
    if stats.mean > 0 and stats.min < 0.5 * stats.mean:
        out.append(
            f"the minimum ({stats.min * ms:.3g} ms) is {100 * (1 - stats.min / stats.mean):.0f} % below the mean"
        )
    if stats.mean > 0 and stats.max > 1.5 * stats.mean:
        out.append(
            f"the maximum ({stats.max * ms:.3g} ms) is {100 * (stats.max / stats.mean - 1):.0f} % above the mean"
        )
    if timing.stop == STOP_BUDGET:
        out.append(
            f"stopped by --max-time ({policy.max_time:g} s) with the 95 % CI of the median at "
            f"±{100 * stats.ci_rel:.1f} % (target ±{100 * policy.rel_ci:g} %)"
        )
    if stats.runs < policy.min_runs:
        out.append(f"only {stats.runs} runs: the CI of the median is the sample range")
    if not timing.warmup_settled:
        out.append(f"warm-up did not settle within {policy.warmup_share * policy.max_time:.3g} s")
    return out


# --- load: is someone else using our cores? ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSample:
    wall: float  # monotonic seconds
    loadavg1: float | None  # 1-minute load average
    machine_busy: float | None  # CPU-seconds every process has spent busy since boot (/proc/stat), None if unknown
    process_cpu: float  # this process's user + system CPU-seconds, all threads


LoadProbe = Callable[[], LoadSample]


def probe_load() -> LoadSample:
    busy = None
    try:
        fields_ = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = [int(x) for x in fields_]
        # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait; steal counts, since a
        # hypervisor taking our vCPU slows us as much as a neighbour does.
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        load1 = None
    t = os.times()
    return LoadSample(time.monotonic(), load1, busy, t.user + t.system)


@dataclass(frozen=True)
class LoadReport:
    loadavg1: float | None
    others_cores: float | None  # cores' worth of CPU that other processes used while we measured
    own_cores: float | None  # cores' worth of CPU this process used (≈ threads when undisturbed)
    busy: bool
    warnings: list[str]


def assess_load(start: LoadSample, end: LoadSample, threads: int, cores: int, device: str = "cpu") -> LoadReport:
    """Busy when the 1-min load exceeds the cores, when others used CPU we needed, or when we were starved."""
    wall = end.wall - start.wall
    warnings = []
    own = (end.process_cpu - start.process_cpu) / wall if wall > 0 else None
    others = None
    if wall > 0 and start.machine_busy is not None and end.machine_busy is not None:
        others = max(0.0, (end.machine_busy - start.machine_busy) / wall - (own or 0.0))
    load1 = start.loadavg1 if start.loadavg1 is not None else end.loadavg1
    if load1 is not None and load1 > cores + 0.5:
        warnings.append(f"machine busy: the 1-minute load average was {load1:.2f} on {cores} cores")
    idle_cores = max(0, cores - threads)
    if others is not None and others > idle_cores + 0.1 * cores:
        warnings.append(
            f"machine busy: other processes used {others:.2f} of {cores} cores while {threads} thread(s) measured"
        )
    if device == "cpu" and own is not None and own < 0.8:
        warnings.append(f"starved: this process got {own:.2f} CPU-seconds per second (< 0.8) while measuring")
    return LoadReport(load1, others, own, bool(warnings), warnings)


# --- threads ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadState:
    threads: int
    interop_threads: int
    affinity: list[int] | None
    warnings: list[str]


def _pin_process(cpus: set[int]) -> None:
    """Pin every thread of this process (the OpenMP pool too), not just the caller: Linux affinity is per thread."""
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        with suppress(ProcessLookupError, PermissionError):  # a thread that just exited, or one we may not touch
            os.sched_setaffinity(tid, cpus)


@contextmanager
def pinned_threads(n: int) -> Iterator[ThreadState]:
    """torch intra-op threads = interop threads = n, process pinned to the first n allowed CPUs; undone on exit."""
    warnings = []
    old_threads = torch.get_num_threads()
    can_pin = hasattr(os, "sched_setaffinity")
    old_cpus = os.sched_getaffinity(0) if can_pin else None
    allowed = sorted(old_cpus) if old_cpus else list(range(os.cpu_count() or 1))
    if n > len(allowed):
        warnings.append(f"oversubscribed: {n} threads on {len(allowed)} usable cores")
    cpus = allowed[: min(n, len(allowed))]
    torch.set_num_threads(n)
    # Settable once per process, before any inter-op work: fresh subprocesses get it, in-process runs may not.
    with suppress(RuntimeError):
        torch.set_num_interop_threads(n)
    if can_pin:
        _pin_process(set(cpus))
    try:
        yield ThreadState(torch.get_num_threads(), torch.get_num_interop_threads(), cpus if can_pin else None, warnings)
    finally:
        torch.set_num_threads(old_threads)
        if can_pin and old_cpus is not None:
            _pin_process(old_cpus)


# --- one model ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """One model at one setting: the statistics, the rates, and what is needed to judge them. Times in ms."""

    model: str
    device: str
    dtype: str
    batch: int
    resolution: int
    threads: int
    interop_threads: int
    affinity: list[int] | None
    channels_last: bool
    compiled: bool
    tf32: bool
    isolation: str  # "subprocess" or "in-process"
    median_ms: float
    ci_low_ms: float
    ci_high_ms: float
    ci_pct: float  # half-width of the 95 % CI of the median, % of the median
    mean_ms: float
    std_ms: float
    iqr_ms: float
    min_ms: float
    max_ms: float
    p90_ms: float
    p99_ms: float
    runs: int
    calls_per_run: int
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
    loadavg: float | None
    others_cores: float | None
    own_cores: float | None
    busy: bool
    warnings: list[str]
    samples_ms: list[float]  # one per run, for --compare and re-analysis
    gpu: str | None
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        names = {f.name for f in fields(cls)}
        missing = names - set(data)
        if missing:
            raise ZooError(f"measurement lacks {', '.join(sorted(missing))}")
        return cls(**{k: data[k] for k in names})


@dataclass
class Workload:
    model: torch.nn.Module  # as called (compiled when asked)
    fn: Callable[[], object]
    sync: Callable[[], None]
    resolution: int
    contexts: Callable[[], ExitStack]  # inference_mode + autocast, entered around everything that calls fn


def prepare(spec: ModelSpec, config: BenchConfig) -> Workload:
    """Build the model (seeded random weights) in eval mode and a fixed-seed input on the target device and layout."""
    res = spec.resolution if config.resolution is None else config.resolution
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    model = spec.build().eval()
    x = torch.randn(config.batch, 3, res, res, generator=torch.Generator().manual_seed(config.seed))
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=layout)
    x = x.to(device).contiguous(memory_format=layout)
    if config.compile:
        model = torch.compile(model, backend=config.compile_backend)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def contexts() -> ExitStack:
        stack = ExitStack()
        stack.enter_context(torch.inference_mode())
        if config.dtype != "fp32":
            stack.enter_context(torch.autocast(device.type, dtype=DTYPES[config.dtype]))
        return stack

    return Workload(model, lambda: model(x), sync, res, contexts)


@contextmanager
def _cuda_settings(config: BenchConfig) -> Iterator[None]:
    """TF32 off unless asked (fp32 means fp32); cuDNN autotuning on, its search done during warm-up."""
    if config.device != "cuda":
        yield
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = config.tf32
    torch.backends.cudnn.allow_tf32 = config.tf32
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark) = saved


def measure_model(
    spec: ModelSpec,
    config: BenchConfig = BenchConfig(),
    *,
    clock: Clock = time.perf_counter,
    load_probe: LoadProbe = probe_load,
    isolation: str = "in-process",
    flops: int | None = None,
) -> Measurement:
    """Measure one model in this process (see `measure` for the isolated default).

    `flops` per image, when the caller already counted them (the first FLOP count in a process costs seconds).
    """
    config.validate()
    threads = config.threads or default_threads()
    policy = config.policy
    res = spec.resolution if config.resolution is None else config.resolution
    if flops is None:
        flops = complexity.measure(spec, res).flops  # also refuses a resolution the model cannot take, cheaply
    with pinned_threads(threads) as pinned, _cuda_settings(config):
        work = prepare(spec, config)
        with work.contexts():
            compile_s = None
            try:
                if config.compile:  # the first call compiles; timed apart, never among the runs
                    work.sync()
                    t0 = time.perf_counter()
                    work.fn()
                    work.sync()
                    compile_s = time.perf_counter() - t0
                before = load_probe()
                timing = time_callable(work.fn, clock=clock, sync=work.sync, policy=policy)
                after = load_probe()
            except RuntimeError as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ZooError(f"{spec.name} failed on {config.device} ({config.dtype}): {first}") from exc
    stats = summarize(timing.samples)
    cores = environment.usable_cores()
    load = assess_load(before, after, threads, cores, config.device)
    images_per_s = config.batch / stats.median if stats.median > 0 else math.inf
    gflops = flops * images_per_s / 1e9
    peak, basis = environment.peak_fp32_gflops(threads) if config.device == "cpu" else (None, None)
    share = gflops / peak if peak else None
    warnings = [*pinned.warnings, *stability_warnings(stats, timing, policy), *load.warnings]
    if share is not None and share > 1:
        warnings.append(f"achieved {gflops:.0f} GFLOP/s exceeds the assumed fp32 peak {peak:.0f}: see peak_basis")
    if config.device == "cpu" and config.dtype != "fp32" and peak:
        basis = f"{basis}; the peak is fp32's, the run used {config.dtype}"
    ms = 1e3
    return Measurement(
        model=spec.name,
        device=config.device,
        dtype=config.dtype,
        batch=config.batch,
        resolution=work.resolution,
        threads=pinned.threads,
        interop_threads=pinned.interop_threads,
        affinity=pinned.affinity,
        channels_last=config.channels_last,
        compiled=config.compile,
        tf32=config.tf32 if config.device == "cuda" else False,
        isolation=isolation,
        median_ms=stats.median * ms,
        ci_low_ms=stats.ci_low * ms,
        ci_high_ms=stats.ci_high * ms,
        ci_pct=100 * stats.ci_rel,
        mean_ms=stats.mean * ms,
        std_ms=stats.std * ms,
        iqr_ms=stats.iqr * ms,
        min_ms=stats.min * ms,
        max_ms=stats.max * ms,
        p90_ms=stats.p90 * ms,
        p99_ms=stats.p99 * ms,
        runs=stats.runs,
        calls_per_run=timing.calls_per_run,
        warmup_calls=len(timing.warmup),
        warmup_s=sum(timing.warmup),
        compile_s=compile_s,
        stop=timing.stop,
        max_time_s=policy.max_time,
        elapsed_s=timing.elapsed,
        images_per_s=images_per_s,
        flops_per_image=flops,
        gflops_per_s=gflops,
        peak_gflops=peak,
        peak_share=share,
        peak_basis=basis,
        loadavg=load.loadavg1,
        others_cores=load.others_cores,
        own_cores=load.own_cores,
        busy=load.busy,
        warnings=warnings,
        samples_ms=[s * ms for s in timing.samples],
        gpu=torch.cuda.get_device_name() if config.device == "cuda" else None,
        seed=config.seed,
    )


# --- isolation: one fresh interpreter per model -----------------------------------------------------------------


def _worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # Pools sized before torch starts them; the parent's import path so `module:callable` models resolve alike.
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def measure_isolated(spec: ModelSpec, config: BenchConfig, timeout: float | None = None) -> Measurement:
    """`measure_model` in a fresh `python -m zoobench.timing` process: the parent sends JSON, gets JSON back."""
    config.validate()
    threads = config.threads or default_threads()
    # Counted here: it refuses a bad resolution without a subprocess, and a worker would pay the counter's start-up.
    flops = complexity.measure(spec, spec.resolution if config.resolution is None else config.resolution).flops
    job = json.dumps({"model": spec.name, "config": replace(config, threads=threads).to_dict(), "flops": flops})
    budget = timeout if timeout is not None else 600 + 4 * config.policy.max_time
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "zoobench.timing"],
            input=job,
            capture_output=True,
            text=True,
            env=_worker_env(threads),
            timeout=budget,
        )
    except subprocess.TimeoutExpired:
        raise ZooError(f"{spec.name}: the measurement worker ran past {budget:.0f} s and was stopped") from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        if proc.returncode == 2:
            raise ZooError(last.removeprefix("zoobench: error: "))
        raise ZooError(f"{spec.name}: the measurement worker failed: {last}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        return Measurement.from_dict(json.loads(lines[-1]))
    except (IndexError, json.JSONDecodeError) as exc:
        raise ZooError(f"{spec.name}: the measurement worker returned no result") from exc


def measure(spec: ModelSpec, config: BenchConfig = BenchConfig(), *, isolate: bool = True) -> Measurement:
    return measure_isolated(spec, config) if isolate else measure_model(spec, config)


def bench(
    specs: Sequence[ModelSpec],
    config: BenchConfig = BenchConfig(),
    *,
    threads: Sequence[int] | None = None,
    isolate: bool = True,
    on_result: Callable[[Measurement], None] | None = None,
) -> list[Measurement]:
    """Every model at every thread count (model-major), each isolated in its own process unless isolate=False."""
    config.validate()
    counts = list(threads) if threads else [config.threads or default_threads()]
    out = []
    for spec in specs:
        for n in counts:
            m = measure(spec, replace(config, threads=n), isolate=isolate)
            if on_result is not None:
                on_result(m)
            out.append(m)
    return out


def _worker_main() -> None:
    """`python -m zoobench.timing`: one job as JSON on stdin, one Measurement as JSON on stdout's last line."""
    try:
        job = json.loads(sys.stdin.read())
        spec = get_spec(job["model"])
        m = measure_model(spec, BenchConfig.from_dict(job["config"]), isolation="subprocess", flops=job.get("flops"))
    except ZooError as exc:
        print(f"zoobench: error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.stdout.write("\n" + json.dumps(m.to_dict()) + "\n")


# --- A/B against a saved result ---------------------------------------------------------------------------------


def load_baseline(path: Path) -> list[dict]:
    """Rows of a `zoobench bench -f json` file, each with its per-run samples; ZooError on anything else."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ZooError(f"cannot read baseline {str(path)!r}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ZooError(f"baseline {str(path)!r} is not JSON: {exc}") from exc
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ZooError(f"baseline {str(path)!r} has no 'rows': write it with `zoobench bench ... -f json`")
    for i, row in enumerate(rows):
        samples = row.get("samples_ms") if isinstance(row, dict) else None
        ok = (
            isinstance(samples, list)
            and samples
            and all(isinstance(s, int | float) and not isinstance(s, bool) and s > 0 for s in samples)
        )
        if not ok or not isinstance(row.get("model"), str):
            raise ZooError(f"baseline {str(path)!r}: row {i} lacks a model name or positive 'samples_ms'")
    return rows


def _match(row: dict, baseline: Sequence[dict]) -> dict | None:
    same_model = [b for b in baseline if b["model"] == row["model"]]
    same_threads = [b for b in same_model if b.get("threads") == row.get("threads")]
    if same_threads:
        return same_threads[0]
    return same_model[0] if len(same_model) == 1 else None


# Settings that make two latencies different experiments; --compare names any that changed.
COMPARED_SETTINGS = ("device", "dtype", "batch", "resolution", "threads", "channels_last", "compiled", "tf32")


def compare(rows: Sequence[dict], baseline: Sequence[dict], tolerance: float = 0.05, alpha: float = 0.05) -> list[dict]:
    """Per model: medians, relative change, two-sided Mann-Whitney U p-value on the per-run samples, and a verdict.

    faster / slower when p < alpha, else "not significant"; `fails` when significantly slower by more than tolerance.
    """
    from scipy.stats import mannwhitneyu

    out = []
    for row in rows:
        base = _match(row, baseline)
        result = {
            "model": row["model"],
            "threads": row.get("threads"),
            "base_median_ms": None,
            "median_ms": row["median_ms"],
            "change_pct": None,
            "p_value": None,
            "verdict": "no baseline",
            "fails": False,
            "setting_changes": [],
        }
        if base is not None:
            a, b = np.asarray(base["samples_ms"], float), np.asarray(row["samples_ms"], float)
            base_med, new_med = float(np.median(a)), float(np.median(b))
            p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
            change = new_med / base_med - 1
            if p >= alpha or new_med == base_med:
                verdict = "not significant"
            else:
                verdict = "faster" if new_med < base_med else "slower"
            result.update(
                base_median_ms=base_med,
                change_pct=100 * change,
                p_value=p,
                verdict=verdict,
                fails=verdict == "slower" and change > tolerance,
                setting_changes=[
                    f"{k}: {base[k]} -> {row[k]}"
                    for k in COMPARED_SETTINGS
                    if k in base and k in row and base[k] != row[k]
                ],
            )
        out.append(result)
    return out


if __name__ == "__main__":
    _worker_main()
