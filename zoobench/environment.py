"""Machine and software metadata attached to every result, so a number can be judged later (pyperf's idea).

Also the CPU facts the latency engine needs: usable cores, SIMD flags, clock and the fp32 peak derived from them;
and `doctor()`, the read-only checks of what can skew a latency (governor, turbo, SMT, load, OpenMP, THP).
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import zoobench

# Assumed per core: two FMA pipes as wide as the widest SIMD extension the flags advertise. True for Intel cores since
# Haswell (AVX2) and for server Skylake-SP and later with AVX-512 (some lower bins have one 512-bit pipe); AMD Zen 4
# runs AVX-512 on 256-bit pipes, so its width is capped at 256 bits below. An upper bound, so the share is a lower one.
FMA_PIPES = 2


def _cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo (every core of one machine has the same model and flags)."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def affinity() -> list[int] | None:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None


def cpu_flags() -> set[str]:
    info = _cpuinfo()
    return set((info.get("flags") or info.get("Features") or "").split())


def cpu_clock_ghz() -> tuple[float | None, str]:
    """(GHz, where it came from): the cpufreq maximum when the kernel exposes it, else /proc/cpuinfo's 'cpu MHz'."""
    try:
        khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        return round(khz / 1e6, 3), "cpufreq cpuinfo_max_freq"
    except (OSError, ValueError):
        pass
    try:
        return round(
            float(_cpuinfo()["cpu MHz"]) / 1e3, 3
        ), "/proc/cpuinfo 'cpu MHz' (current or nominal; turbo may be higher)"
    except (KeyError, ValueError):
        return None, "clock unknown"


def fp32_flops_per_cycle() -> tuple[int, str]:
    """fp32 FLOPs per cycle per core under the FMA_PIPES assumption, and how it was derived."""
    flags = cpu_flags()
    info = _cpuinfo()
    if "avx512f" in flags:
        bits, ext = 512, "AVX-512"
    elif "avx2" in flags or "avx" in flags:
        bits, ext = 256, "AVX2" if "avx2" in flags else "AVX"
    elif "sse" in flags or "sse2" in flags or "asimd" in flags:
        bits, ext = 128, "NEON" if "asimd" in flags else "SSE"
    else:
        bits, ext = 32, "scalar"
    note = ""
    if bits == 512 and info.get("vendor_id") == "AuthenticAMD" and info.get("cpu family") == "25":
        bits, note = 256, ", Zen 4 executes AVX-512 on 256-bit pipes"
    fma = "fma" in flags or "avx512f" in flags or "asimd" in flags
    lanes = bits // 32
    per_cycle = FMA_PIPES * lanes * (2 if fma else 1)
    how = f"{FMA_PIPES} {'FMA' if fma else 'FP'} pipes x {lanes} fp32 lanes ({ext}{note})" + (
        " x 2 FLOP per FMA" if fma else ""
    )
    return per_cycle, how


def peak_fp32_gflops(threads: int) -> tuple[float | None, str]:
    """Theoretical fp32 peak of `threads` cores: cores x clock x FLOPs/cycle, with the assumptions spelt out."""
    ghz, clock_src = cpu_clock_ghz()
    per_cycle, how = fp32_flops_per_cycle()
    cores = max(1, min(threads, usable_cores()))
    if ghz is None:
        return None, "no fp32 peak: the CPU clock is unreadable"
    basis = (
        f"{cores} core(s) x {ghz:.2f} GHz ({clock_src}) x {per_cycle} FLOP/cycle [{how}]; "
        "one physical core per thread assumed"
    )
    return cores * ghz * per_cycle, basis


def governor() -> str | None:
    try:
        return Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
    except OSError:
        return None


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def smt_siblings() -> int | None:
    """Logical CPUs per physical core (hyper-threading), from /proc/cpuinfo."""
    info = _cpuinfo()
    try:
        return max(1, math.ceil(int(info["siblings"]) / int(info["cpu cores"])))
    except (KeyError, ValueError, ZeroDivisionError):
        return None


@cache
def git_commit() -> str | None:
    """The zoobench source tree's commit, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(zoobench.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def gpu_info(index: int = 0) -> dict:
    """Name, memory, capability, driver and CUDA/cuDNN versions of one GPU; {} without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return {}
    props = torch.cuda.get_device_properties(index)
    return {
        "gpu": props.name,
        "gpu_memory_gb": round(props.total_memory / 2**30, 1),
        "gpu_capability": f"{props.major}.{props.minor}",
        "gpu_driver": _nvidia_driver(),
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
    }


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def collect(device: str = "cpu") -> dict:
    """Software versions, CPU, thread settings and load of this process; GPU details when `device` is cuda."""
    # Here, not at the top: the CPU facts (usable cores, flags) serve torch-free commands such as prepare-imagenet,
    # and measurement workers should not pay for torchvision's import.
    import torch
    import torchvision

    ghz, clock_src = cpu_clock_ghz()
    simd = sorted(f for f in cpu_flags() if f in {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "asimd"})
    env = {
        "zoobench": zoobench.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "hostname": platform.node(),
        "logical_cpus": os.cpu_count(),
        "smt_siblings": smt_siblings(),
        "affinity": affinity(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_clock_ghz": ghz,
        "cpu_clock_source": clock_src,
        "cpu_simd": simd,
        "governor": governor(),
        "loadavg": loadavg(),
        "parallel_info": torch.__config__.parallel_info(),
        "doctor": doctor(),  # what can skew a latency, as `zoobench doctor` prints it
    }
    if device == "cuda":
        env.update(gpu_info())
    return env


# --- what can skew a latency (`zoobench doctor`, and every bench result's environment) ---------------------------
#
# Each check reads /proc and /sys under `root` (tests pass a folder of fixture files) and returns one row:
# (check, value, verdict, fix) with verdict "ok", "warn" (can skew or destabilise a latency) or "info".

OMP_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "KMP_AFFINITY",
            "KMP_BLOCKTIME", "GOMP_CPU_AFFINITY", "LD_PRELOAD", "MALLOC_CONF")  # fmt: skip
CPUFREQ = "sys/devices/system/cpu"


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _row(check: str, value: str, verdict: str, fix: str = "") -> dict:
    return {"check": check, "value": value, "verdict": verdict, "fix": fix}


def _governor_row(root: Path, cpus: list[int]) -> dict:
    found = {c: _read(root, f"{CPUFREQ}/cpu{c}/cpufreq/scaling_governor") for c in cpus}
    known = sorted({g for g in found.values() if g})
    if not known:
        return _row("cpufreq governor", "not exposed (a VM or container: the host sets the clock)", "info")
    value = ", ".join(known)
    if known == ["performance"]:
        return _row("cpufreq governor", value, "ok")
    return _row("cpufreq governor", value, "warn",
                "sudo cpupower frequency-set -g performance (a governor that ramps the clock with load makes the "
                "first calls of each round slower)")  # fmt: skip


def _turbo_row(root: Path) -> dict:
    no_turbo = _read(root, f"{CPUFREQ}/intel_pstate/no_turbo")
    boost = _read(root, f"{CPUFREQ}/cpufreq/boost")
    if no_turbo is not None:
        on, fix = no_turbo == "0", f"echo 1 | sudo tee /{CPUFREQ}/intel_pstate/no_turbo"
    elif boost is not None:
        on, fix = boost == "1", f"echo 0 | sudo tee /{CPUFREQ}/cpufreq/boost"
    else:
        return _row("turbo / boost", "not exposed (a VM or container: the host decides)", "info")
    if on:
        return _row("turbo / boost", "on", "warn", f"{fix} (turbo clocks follow temperature and load: drift)")
    return _row("turbo / boost", "off", "ok")


def _smt_row(root: Path, cpus: list[int]) -> dict:
    shared = []
    for c in cpus:
        siblings = _read(root, f"{CPUFREQ}/cpu{c}/topology/thread_siblings_list")
        if siblings and any(ch in siblings for ch in ",-"):
            shared.append(f"cpu{c}: {siblings}")
    active = _read(root, f"{CPUFREQ}/smt/active")
    if not shared and active in (None, "0"):
        return _row("SMT siblings of the usable CPUs", "none (one hardware thread per core)", "ok")
    value = "; ".join(shared[:4]) or f"SMT active ({active})"
    return _row("SMT siblings of the usable CPUs", value, "warn",
                "use -t N with N <= physical cores; bench pins the first N usable CPUs, which may be siblings "
                f"sharing a core (or: echo off | sudo tee /{CPUFREQ}/smt/control)")  # fmt: skip


def _load_row(root: Path, cores: int) -> dict:
    text = _read(root, "proc/loadavg")
    try:
        load1 = float(text.split()[0]) if text else None
    except ValueError:
        load1 = None
    if load1 is None:
        return _row("other load", "unknown (/proc/loadavg unreadable)", "info")
    value = f"1-minute load average {load1:.2f} on {cores} usable core(s)"
    if load1 > 0.5:
        return _row("other load", value, "warn",
                    "stop other jobs first; bench flags rounds on a busy machine, but a neighbour on another core "
                    "still shares caches, memory bandwidth and the host")  # fmt: skip
    return _row("other load", value, "ok")


def _env_row(env: Mapping[str, str]) -> dict:
    set_ = [f"{k}={env[k]}" for k in OMP_VARS if env.get(k)]
    return _row("OMP/MKL and allocator variables", ", ".join(set_) or "none set", "info",
                "bench sets OMP_NUM_THREADS = MKL_NUM_THREADS = --threads in its workers; other variables apply "
                "as set (unset them unless intended)" if set_ else "")  # fmt: skip


def _thp_row(root: Path) -> dict:
    text = _read(root, "sys/kernel/mm/transparent_hugepage/enabled")
    if not text:
        return _row("transparent huge pages", "not exposed", "info")
    chosen = text[text.index("[") + 1 : text.index("]")] if "[" in text and "]" in text else text
    if chosen == "always":
        return _row("transparent huge pages", chosen, "warn",
                    "echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled (khugepaged compaction "
                    "stalls calls at random)")  # fmt: skip
    return _row("transparent huge pages", chosen, "ok")


def _runtime_row(root: Path, parallel: str) -> dict:
    """The OpenMP runtime and the allocator this process loaded (/proc/self/maps), and torch's parallel backend."""
    maps = _read(root, "proc/self/maps") or ""
    libs = {name for name in ("libgomp", "libiomp5", "libomp", "libjemalloc", "libtcmalloc") if name in maps}
    backend = next((ln.split(":", 1)[1].strip() for ln in parallel.splitlines() if "parallel backend" in ln), "?")
    omp = sorted(libs & {"libgomp", "libiomp5", "libomp"})
    alloc = sorted(libs & {"libjemalloc", "libtcmalloc"}) or ["glibc malloc"]
    value = f"ATen backend {backend}; OpenMP runtime {', '.join(omp) or 'not loaded'}; allocator {', '.join(alloc)}"
    if len(omp) > 1:
        return _row("OpenMP runtime and allocator", value, "warn",
                    "two OpenMP runtimes are loaded: their pools fight over the cores; load one only")  # fmt: skip
    return _row("OpenMP runtime and allocator", value, "info",
                "" if alloc != ["glibc malloc"] else "LD_PRELOAD of jemalloc or tcmalloc often steadies allocation-"
                "heavy models (PyTorch's CPU performance tuning guide); record it when comparing")  # fmt: skip


def doctor(
    root: Path = Path("/"),
    env: Mapping[str, str] | None = None,
    cpus: list[int] | None = None,
    parallel: str | None = None,
) -> list[dict]:
    """Read-only rows (check, value, verdict, fix) of what can skew a latency on this machine (pyperf's
    `system show`). `root` is where /proc and /sys are read from; `cpus` the usable CPUs (default: this process's)."""
    import torch

    cpus = cpus if cpus is not None else (affinity() or list(range(os.cpu_count() or 1)))
    return [
        _governor_row(root, cpus),
        _turbo_row(root),
        _smt_row(root, cpus),
        _load_row(root, len(cpus)),
        _env_row(os.environ if env is None else env),
        _thp_row(root),
        _runtime_row(root, torch.__config__.parallel_info() if parallel is None else parallel),
    ]
