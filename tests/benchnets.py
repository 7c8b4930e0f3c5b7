"""Tiny models for the latency-engine tests, reached as `benchnets:<builder>` model references."""

from __future__ import annotations

import os
import signal
import time

import torch
from torch import nn


def recording(clock, work):
    """(events, read, fn, sync) for a sync-order test: `read` reads `clock`, `fn` calls `work()`, each logged."""
    events: list[str] = []

    def read() -> float:
        events.append("read")
        return clock()

    def fn() -> None:
        events.append("fn")
        work()

    return events, read, fn, lambda: events.append("sync")


def assert_synced(events: list[str]) -> None:
    """Every clock read that follows work ("fn") has a "sync" between them: queued (GPU) work is inside the region."""
    for i, e in enumerate(events):
        if e == "read" and "fn" in events[:i]:
            last_fn = max(j for j in range(i) if events[j] == "fn")
            assert "sync" in events[last_fn:i], f"clock read at {i} without a sync after the work"


# (device type, torch threads, CPU affinity) seen inside each forward of `recorder`, so a test can check what the
# engine applied (the meta-device pass that counts FLOPs shows up too, as "meta").
SEEN: list[tuple[str, int, list[int] | None]] = []


def tiny(num_classes: int = 10) -> nn.Module:
    """Two 3x3 convs and a classifier: microseconds per call at 32x32."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, num_classes),
    )


class Recorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = tiny()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        SEEN.append((x.device.type, torch.get_num_threads(), cpus))
        return self.body(x)


def recorder() -> nn.Module:
    return Recorder()


class _FailsOnRealTensors(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # a parameter, so the FLOP count runs on the meta device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "meta":  # counting FLOPs (meta) works; measuring does not
            raise RuntimeError("boom on a real tensor")
        return self.scale * x.mean((2, 3))


def broken() -> nn.Module:
    return _FailsOnRealTensors()


def other() -> nn.Module:
    """A second plain model, so a batch has several that measure fine."""
    return tiny(num_classes=4)


# --- user builders and models that go wrong (the bad-input suite and the record-and-continue tests) -------------


def raises() -> nn.Module:
    raise ValueError("this builder is broken")


def returns_42() -> int:
    return 42


def returns_none() -> None:
    return None


def needs_args(depth: int) -> nn.Module:
    return tiny()


class _TypeErrorOnRealTensors(_FailsOnRealTensors):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "meta":
            raise TypeError("forward() got an unexpected tensor")
        return super().forward(x)


def forward_typeerror() -> nn.Module:
    return _TypeErrorOnRealTensors()


# Set in a `bench` subprocess that a test kills while it waits here: the models before it are already saved.
STALL_ENV = "BENCHNETS_STALL"


def stall() -> nn.Module:
    if os.environ.get(STALL_ENV):
        time.sleep(600)
    return tiny(num_classes=6)


# Set in the environment of a test whose measurement worker must die as if the OOM killer took it.
CRASH_ENV = "BENCHNETS_CRASH"


class _KilledOnRealTensors(_FailsOnRealTensors):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "meta" and os.environ.get(CRASH_ENV):
            os.kill(os.getpid(), signal.SIGKILL)
        return self.scale * x.mean((2, 3))


def crash() -> nn.Module:
    return _KilledOnRealTensors()


class _Chatty(nn.Module):
    """Prints on every call, from Python and from C (fd 1): the worker's replies must survive it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = tiny()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print("hello from forward")
        os.write(1, b"hello from fd 1\n")
        return self.body(x)


def chatty() -> nn.Module:
    return _Chatty()
