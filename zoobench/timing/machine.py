"""The machine under a measurement: is someone else using our cores, and pinning torch's threads to our own.

torch is imported only where threads are pinned, so the load probe and its verdict cost nothing to import.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

# The one wording of a busy machine: each measurement's warning starts with it.
BUSY = "machine busy"


IDLE_PROBE_S = 0.2  # how long the start-of-run probe watches the machine to count the cores others keep busy


@dataclass(frozen=True)
class ThreadChoice:
    """The default thread count and why: OMP_NUM_THREADS, or the cores idle when the run starts."""

    threads: int
    usable: int  # cores this process may run on
    others_cores: float | None  # cores' worth of CPU other processes used during the probe (None: not probed)
    source: str  # "OMP_NUM_THREADS", "idle cores" or "usable cores" (the load could not be read)

    @property
    def reduced(self) -> bool:
        """Fewer threads than usable cores because others were busy: the CLI says so."""
        return self.source == "idle cores" and self.threads < self.usable


def choose_threads(
    probe: LoadProbe | None = None, *, wait: float = IDLE_PROBE_S, sleep: Callable[[float], None] = time.sleep
) -> ThreadChoice:
    """OMP_NUM_THREADS when the user set it (tests set 1); else the usable cores minus those other processes keep
    busy, read from /proc/stat twice `wait` s apart (rounded to the nearest core, at least 1): a 2-thread pool on a
    half-taken 2-core machine is 10-30x slower than a 1-thread one. `probe` and `sleep` are injectable (tests)."""
    from zoobench import environment

    usable = environment.usable_cores()
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        n = 0
    if n >= 1:
        return ThreadChoice(n, usable, None, "OMP_NUM_THREADS")
    probe = probe or probe_load  # looked up now: tests replace the machine's probe
    start = probe()
    sleep(wait)
    end = probe()
    _, others = cores_used(start, end)
    if others is None:
        return ThreadChoice(usable, usable, None, "usable cores")
    total = max(usable, os.cpu_count() or usable)  # /proc/stat counts every core, ours and the rest
    idle = min(usable, math.floor(total - others + 0.5))
    return ThreadChoice(max(1, idle), usable, others, "idle cores")


def default_threads() -> int:
    """The thread count of a run that names none: `choose_threads().threads`."""
    return choose_threads().threads


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


def cores_used(start: LoadSample, end: LoadSample) -> tuple[float | None, float | None]:
    """Cores' worth of CPU between two probes: (this process's, every other process's); None where unknown."""
    wall = end.wall - start.wall
    if wall <= 0:
        return None, None
    own = (end.process_cpu - start.process_cpu) / wall
    if start.machine_busy is None or end.machine_busy is None:
        return own, None
    return own, max(0.0, (end.machine_busy - start.machine_busy) / wall - own)


def assess_load(start: LoadSample, end: LoadSample, threads: int, cores: int, device: str = "cpu") -> LoadReport:
    """Busy when the 1-min load exceeds the cores, when others used CPU we needed, or when we were starved."""
    warnings = []
    own, others = cores_used(start, end)
    load1 = start.loadavg1 if start.loadavg1 is not None else end.loadavg1
    if load1 is not None and load1 > cores + 0.5:
        warnings.append(f"{BUSY}: the 1-minute load average was {load1:.2f} on {cores} cores")
    idle_cores = max(0, cores - threads)
    if others is not None and others > idle_cores + 0.1 * cores:
        warnings.append(
            f"{BUSY}: other processes used {others:.2f} of {cores} cores while {threads} thread(s) measured"
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
    import torch

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
