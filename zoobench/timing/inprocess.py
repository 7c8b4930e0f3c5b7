"""One model in this process: build, pin threads, prepare the input, then timed rounds -> `Measurement`.

`LocalSession` is one build of one model (a round's worth of work at a time: the scheduler interleaves sessions of
several models); a worker process runs one too. Everything that runs the user's code (the builder, moving the model
and input to the device, the forward) runs under `errors.guarded`, so a failure is one ZooError naming the model,
never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace

import torch

from zoobench import backends, complexity, environment
from zoobench.errors import ZooError, first_line, guarded
from zoobench.registry import ModelSpec, get_spec
from zoobench.timing import machine, memory
from zoobench.timing.config import DEFAULT_CONFIG, DTYPES, BenchConfig
from zoobench.timing.loop import Clock, Warmup, sample_calls, time_samples, warm_up
from zoobench.timing.machine import LoadProbe, assess_load, default_threads, pinned_threads
from zoobench.timing.measurement import Measurement, SessionInfo, Setting, build
from zoobench.timing.paired import alternate
from zoobench.timing.rounds import Round
from zoobench.timing.schedule import Outcome, interleave


@dataclass
class Workload:
    model: torch.nn.Module  # as called (compiled when asked)
    fn: Callable[[], object]
    sync: Callable[[], None]
    resolution: int
    contexts: Callable[[], ExitStack]  # inference_mode + autocast, entered around everything that calls fn
    prepared: backends.Prepared | None = None  # another backend than eager: its conversion, settings, equivalence


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
    amp = backends.autocast_of(config.backend, config.precision, config.dtype)

    def contexts() -> ExitStack:
        stack = ExitStack()
        stack.enter_context(torch.inference_mode())
        if amp != "fp32":
            stack.enter_context(torch.autocast(device.type, dtype=DTYPES[amp]))
        return stack

    if config.backend != "eager":  # converted once (cached), the conversion and the first call timed apart
        prepared = backends.prepare(spec.name, model, x, config.target(), dtype=config.dtype)
        return Workload(model, prepared.call, sync, res, contexts, prepared)

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


@dataclass
class Entry:
    """One model at one setting: its config has the thread count; its FLOPs are counted when its first session
    opens (counting builds the model on the meta device: a builder that hangs must not hold back the others)."""

    spec: ModelSpec
    config: BenchConfig
    flops: int | None = None

    def setting(self) -> Setting:
        c = self.config
        return Setting(self.spec.name, c.device, c.dtype, c.batch, resolution_of(self.spec, c), c.threads or 1)


class LocalSession:
    """One build of one model in this process: warm-up with the first round, `rounds` rounds in `budget` seconds."""

    def __init__(
        self,
        entry: Entry,
        rounds: int,
        budget: float,
        *,
        process: int = 0,
        clock: Clock = time.perf_counter,
        load_probe: LoadProbe | None = None,
    ) -> None:
        self.entry, self.config, self.policy = entry, entry.config, entry.config.policy
        self.rounds_left, self.budget, self.process = rounds, budget, process
        self.clock = clock
        self.load_probe = load_probe or machine.probe_load  # looked up now: tests replace the machine's probe
        self.threads = self.config.threads or default_threads()
        self.cores = environment.usable_cores()  # before pinning narrows this process's CPU set
        self.tracker = memory.Tracker(self.config.device)  # before the build: the peak is counted from here
        self.warm: Warmup | None = None
        self.spent = 0.0  # seconds of rounds so far (rewarm calls included)
        self.ref_warm: Warmup | None = None
        self.pairs = 0  # pairs timed with the reference so far (their order alternates across rounds too)
        with pinned_threads(self.threads) as self.pinned, _cuda_settings(self.config):
            self.work = prepare(entry.spec, self.config)
            # --reference: the same settings, built after the model so the model's memory peak is its own
            self.ref = prepare(get_spec(self.config.reference), self.config) if self.config.reference else None
            self.compile_s = self._compile() if self.config.compile else None
            if self.work.prepared is not None and self.config.backend == "compile":
                self.compile_s = self.work.prepared.first_call_s
        self.weights = memory.weight_bytes(self.work.model)

    def _compile(self) -> float:
        """The first call, which compiles: timed on its own, never a warm-up or timed call."""
        with self._running():
            self.work.sync()
            t0 = time.perf_counter()
            self.work.fn()
            self.work.sync()
            return time.perf_counter() - t0

    @contextmanager
    def _running(self) -> Iterator[None]:
        name, c = self.entry.spec.name, self.config
        with self.work.contexts(), guarded(f"{name}: forward"):
            try:
                yield
            except RuntimeError as exc:  # torch's errors depend on the device and dtype: name them
                raise ZooError(f"{name} failed on {c.device} ({c.dtype}): {first_line(exc)}") from exc

    def _warm(self) -> None:
        """The first round's warm-up (the reference's too), else a few untimed calls after the other models ran."""
        work, policy = self.work, self.policy
        if self.warm is None:
            limit = policy.warmup_share * self.budget / (2 if self.ref else 1)
            self.warm = warm_up(work.fn, clock=self.clock, sync=work.sync, policy=policy, limit=limit)
            if self.ref is not None:
                self.ref_warm = warm_up(self.ref.fn, clock=self.clock, sync=work.sync, policy=policy, limit=limit)
            return
        for _ in range(policy.rewarm_calls):
            work.fn()
            if self.ref is not None:
                self.ref.fn()

    def _warm_s(self) -> float:
        return sum(w.end - w.start for w in (self.warm, self.ref_warm) if w is not None)

    def round(self) -> Round:
        """One round: warm-up or rewarm, then timed samples (paired with the reference's) for its slice."""
        work, policy, clock = self.work, self.policy, self.clock
        ratios = None
        with pinned_threads(self.threads), _cuda_settings(self.config), self._running():
            before, started = self.load_probe(), time.time()
            self._warm()
            mode, queue = self.config.mode, self.config.queue()
            number = sample_calls(self.warm.calls_per_sample, mode, queue)
            t0 = clock()
            until = t0 + max(0.0, self.budget - self._warm_s() - self.spent) / max(1, self.rounds_left)
            if self.ref is None:
                samples, _, end = time_samples(work.fn, number, clock=clock, sync=work.sync, until=until,
                                               max_samples=policy.max_runs, mode=mode)  # fmt: skip
            else:
                numbers = [sample_calls(self.ref_warm.calls_per_sample, mode, queue), number]
                ref, samples = alternate([self.ref.fn, work.fn], numbers, clock=clock, sync=work.sync, until=until,
                                         first=self.pairs, mode=mode)  # fmt: skip
                ratios = [s / r for s, r in zip(samples, ref, strict=True)]
                self.pairs += len(samples)
                end = clock()
            after = self.load_probe()
        self.spent += end - t0
        self.rounds_left -= 1
        load = assess_load(before, after, self.pinned.threads, self.cores, self.config.device)
        return Round(self.process, samples, number, started, load.loadavg1, load.others_cores, load.own_cores,
                     load.busy, load.warnings, ratios)  # fmt: skip

    def close(self) -> SessionInfo:
        warm = self.warm
        rss, cuda = self.tracker.peak()
        info = SessionInfo(
            threads=self.pinned.threads,
            interop_threads=self.pinned.interop_threads,
            affinity=self.pinned.affinity,
            thread_warnings=self.pinned.warnings,
            warmup_calls=len(warm.calls) if warm else 0,
            warmup_s=sum(warm.calls) if warm else 0.0,
            warmup_settled=warm.settled if warm else True,
            warmup_limit_s=self.policy.warmup_share * self.budget,
            compile_s=self.compile_s,
            elapsed_s=self._warm_s() + self.spent,
            weight_bytes=self.weights,
            rss_peak_bytes=rss,
            rss_method=self.tracker.method,
            cuda_peak_bytes=cuda,
            gpu=torch.cuda.get_device_name() if self.config.device == "cuda" else None,
            backend=self._backend(),
        )
        self.abort()
        return info

    def _backend(self) -> dict:
        """The row's backend fields: the conversion's report, or eager's name and (autocast) precision."""
        c = self.config
        if self.work.prepared is not None:
            return self.work.prepared.report()
        return {"backend": c.backend, "precision": backends.autocast_of(c.backend, c.precision, c.dtype)}

    def abort(self) -> None:
        self.work = self.ref = None  # type: ignore[assignment]  # the models and inputs go with their last reference


def measure_entries(
    entries: list[Entry], open_session, *, isolation: str, fail_fast: bool, done=None, flops_of=None
) -> list[Measurement | ZooError]:
    """Every entry's rounds, interleaved (schedule.interleave), each as a Measurement or the ZooError that ended it;
    `done(index, result)` as each finishes. `flops_of(entry)` counts an entry's FLOPs when its first session opens
    (default: count_flops); a ZooError from it ends that entry like any other."""
    results: dict[int, Measurement | ZooError] = {}

    def opening(entry: Entry, process: int, rounds: int, budget: float):
        if entry.flops is None:
            entry.flops = (flops_of or _count)(entry)
        return open_session(entry, process, rounds, budget)

    def finished(out: Outcome[Entry]) -> None:
        e = out.entry
        if out.error is not None:
            result: Measurement | ZooError = out.error
        else:
            result = build(e.setting(), e.config, out.rounds, out.sessions, stop=out.stop, flops=e.flops or 0,
                           isolation=isolation)  # fmt: skip
        results[out.index] = result
        if done is not None:
            done(out.index, result)

    policy = entries[0].config.policy if entries else DEFAULT_CONFIG.policy
    interleave(entries, opening, policy, done=finished, fail_fast=fail_fast)
    return [results[i] for i in range(len(entries))]


def _count(entry: Entry) -> int:
    return count_flops(entry.spec, resolution_of(entry.spec, entry.config))


def local_opener(clock: Clock = time.perf_counter, load_probe: LoadProbe | None = None):
    """Sessions in this process (in-process runs and the worker's own)."""

    def open_session(entry: Entry, process: int, rounds: int, budget: float) -> LocalSession:
        return LocalSession(entry, rounds, budget, process=process, clock=clock, load_probe=load_probe)

    return open_session


def entry_for(spec: ModelSpec, config: BenchConfig, flops: int | None = None) -> Entry:
    """Validated settings with the thread count decided and the FLOPs counted (which refuses a bad resolution)."""
    config.validate()
    config = replace(config, threads=config.threads or default_threads())
    return Entry(spec, config, count_flops(spec, resolution_of(spec, config)) if flops is None else flops)


def measure_model(
    spec: ModelSpec,
    config: BenchConfig = DEFAULT_CONFIG,
    *,
    clock: Clock = time.perf_counter,
    load_probe: LoadProbe | None = None,
    isolation: str = "in-process",
    flops: int | None = None,
) -> Measurement:
    """Measure one model in this process, all its rounds (see `run.measure` for the isolated default).

    `flops` per image, when the caller already counted them (the first FLOP count in a process costs seconds).
    """
    entry = entry_for(spec, config, flops)
    [result] = measure_entries([entry], local_opener(clock, load_probe), isolation=isolation, fail_fast=True)
    assert isinstance(result, Measurement)  # fail_fast raised any error
    return result
