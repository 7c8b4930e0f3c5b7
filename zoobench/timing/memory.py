"""Peak memory of one model: the process's peak RSS above its state before the build, CUDA's peak, weight bytes.

Linux keeps a process's peak RSS (VmHWM in /proc/self/status) from its start; writing "5" to /proc/self/clear_refs
resets it to the current RSS (Linux >= 4.0), which is what makes a per-model peak possible in a process that built
other models before. Where the reset is refused, the peak is the process's since its start, and `rss_method` says
so (an upper bound on the model's own). torch is imported only for the CUDA figures and weight bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESET = "VmHWM reset before the build"  # the peak is this model's (and whatever else the process held meanwhile)
SINCE_START = "VmHWM since the process started (reset refused): an upper bound"
UNKNOWN = "no /proc/self/status: peak RSS unknown"


def status_kb(field: str, proc: Path = Path("/proc/self")) -> int | None:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM), or None where there is none."""
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak(proc: Path = Path("/proc/self")) -> bool:
    """Reset VmHWM to the current RSS; False where the kernel or the sandbox refuses."""
    try:
        (proc / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Tracker:
    """Started before the model is built; `peak()` when its rounds are done."""

    device: str = "cpu"
    proc: Path = Path("/proc/self")

    def __post_init__(self) -> None:
        self.method = RESET if reset_peak(self.proc) else SINCE_START
        self.rss_before_kb = status_kb("VmRSS", self.proc)
        if self.rss_before_kb is None:
            self.method = UNKNOWN
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.cuda_before = torch.cuda.memory_allocated()

    def peak(self) -> tuple[int | None, int | None]:
        """(peak RSS above the state before the build, CUDA peak allocated above it), in bytes."""
        hwm = status_kb("VmHWM", self.proc)
        rss = None if hwm is None or self.rss_before_kb is None else max(0, hwm - self.rss_before_kb) * 1024
        cuda = None
        if self.device == "cuda":
            import torch

            cuda = int(torch.cuda.max_memory_allocated() - self.cuda_before)
        return rss, cuda


def weight_bytes(model: object) -> int:
    """Bytes of the model's parameters and buffers as stored (fp32 unless converted)."""
    tensors = [*model.parameters(), *model.buffers()]  # type: ignore[attr-defined]
    return sum(t.numel() * t.element_size() for t in tensors)
