"""Machine and software metadata attached to every result, so a number can be judged later (pyperf's idea).

Also the CPU facts the latency engine needs: usable cores, SIMD flags, clock and the fp32 peak derived from them.
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
from functools import cache
from pathlib import Path

import torch

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
    import torchvision  # here, not at the top: measurement workers should not pay for its import

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
    }
    if device == "cuda":
        env.update(gpu_info())
    return env
