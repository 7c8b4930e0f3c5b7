"""Measuring one model in this process: build, pin threads, prepare the input, time, summarise -> `Measurement`.

Everything that runs the user's code (the builder, moving the model and input to the device, the forward) runs
under `errors.guarded`, so a failure is one ZooError naming the model, never a traceback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, fields

import torch

from zoobench import complexity, environment
from zoobench.errors import ZooError, first_line, guarded
from zoobench.registry import ModelSpec
from zoobench.timing.config import DEFAULT_CONFIG, DTYPES, BenchConfig
from zoobench.timing.loop import Clock, Timing, stability_warnings, time_callable
from zoobench.timing.machine import (
    LoadProbe,
    LoadSample,
    ThreadState,
    assess_load,
    default_threads,
    pinned_threads,
    probe_load,
)
from zoobench.timing.stats import summarize


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
class Measurement(Setting):
    """One model at one setting: the statistics, the rates, and what is needed to judge them. Times in ms."""

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


def resolution_of(spec: ModelSpec, config: BenchConfig) -> int:
    return spec.resolution if config.resolution is None else config.resolution


def count_flops(spec: ModelSpec, resolution: int) -> int:
    """FLOPs per image (2 x MACs) on the meta device; also refuses, cheaply, a resolution the model cannot take."""
    with guarded(spec.name):  # a builder that raises or returns a non-module is the user's, named in one line
        return complexity.measure(spec, resolution).flops


def prepare(spec: ModelSpec, config: BenchConfig) -> Workload:
    """Build the model (seeded random weights) in eval mode and a fixed-seed input on the target device and layout."""
    res = resolution_of(spec, config)
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    with guarded(f"{spec.name}: build"):
        model = spec.build()
    if not isinstance(model, torch.nn.Module):
        raise ZooError(f"{spec.name}: the builder returned {type(model).__name__}, not a torch.nn.Module")
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    # An impossible allocation (a huge resolution or batch) is a RuntimeError or MemoryError from here.
    with guarded(f"{spec.name}: the model and its {config.batch}x3x{res}x{res} input on {config.device}"):
        model = model.eval()
        x = torch.randn(config.batch, 3, res, res, generator=torch.Generator().manual_seed(config.seed))
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


@dataclass(frozen=True)
class _Run:
    timing: Timing
    compile_s: float | None
    before: LoadSample
    after: LoadSample


def _time(spec: ModelSpec, config: BenchConfig, work: Workload, clock: Clock, load_probe: LoadProbe) -> _Run:
    """The compiling call (timed apart, never among the runs), then the loop between two load probes."""
    with work.contexts(), guarded(f"{spec.name}: forward"):
        try:
            compile_s = None
            if config.compile:
                work.sync()
                t0 = time.perf_counter()
                work.fn()
                work.sync()
                compile_s = time.perf_counter() - t0
            before = load_probe()
            timing = time_callable(work.fn, clock=clock, sync=work.sync, policy=config.policy)
            after = load_probe()
        except RuntimeError as exc:  # torch's errors depend on the device and dtype: name them
            raise ZooError(f"{spec.name} failed on {config.device} ({config.dtype}): {first_line(exc)}") from exc
    return _Run(timing, compile_s, before, after)


def measure_model(
    spec: ModelSpec,
    config: BenchConfig = DEFAULT_CONFIG,
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
    if flops is None:
        flops = count_flops(spec, resolution_of(spec, config))
    with pinned_threads(threads) as pinned, _cuda_settings(config):
        work = prepare(spec, config)
        run = _time(spec, config, work, clock, load_probe)
    return _summary(spec, config, work.resolution, pinned, run, flops, isolation)


def _summary(
    spec: ModelSpec, config: BenchConfig, res: int, pinned: ThreadState, run: _Run, flops: int, isolation: str
) -> Measurement:
    """Statistics, rates, peak share and warnings of one timed run, as a Measurement (times in ms)."""
    policy, timing = config.policy, run.timing
    stats = summarize(timing.samples)
    load = assess_load(run.before, run.after, pinned.threads, environment.usable_cores(), config.device)
    images_per_s = config.batch / stats.median if stats.median > 0 else math.inf
    gflops = flops * images_per_s / 1e9
    peak, basis = environment.peak_fp32_gflops(pinned.threads) if config.device == "cpu" else (None, None)
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
        resolution=res,
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
        compile_s=run.compile_s,
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
