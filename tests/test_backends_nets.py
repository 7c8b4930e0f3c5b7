"""Tiny models of each kind the zoo has (plain conv, depthwise, grouped, SE/SiLU, concat-heavy, LRN) and one the
ONNX exporter cannot take, reached as `test_backends_nets:<builder>`; and the shared helpers of the backend tests.
(No tests here: its name keeps it among the backend tests' files.)"""

from __future__ import annotations

import torch
from torch import nn

from zoobench.backends import Target
from zoobench.timing.loop import Policy

RES = 32
QUICK = Policy(max_time=0.3, rounds=1, processes=1, warmup_min_calls=2, warmup_min_time=0.02, floor_runs=1)


def _head(channels: int, classes: int = 10) -> list[nn.Module]:
    return [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes)]


def plain() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), *_head(8))


def depthwise() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU6(), nn.Conv2d(16, 16, 3, padding=1,
                         groups=16), nn.BatchNorm2d(16), nn.ReLU6(), nn.Conv2d(16, 24, 1), *_head(24))  # fmt: skip


def grouped() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, groups=4),
                         nn.ReLU(), *_head(16))  # fmt: skip


class _SE(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, c, 3, padding=1)
        self.fc1, self.fc2 = nn.Conv2d(c, 4, 1), nn.Conv2d(4, c, 1)
        self.head = nn.Sequential(*_head(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.silu(self.conv(x))
        s = torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(y.mean((2, 3), keepdim=True)))))
        return self.head(y * s)


def se_silu() -> nn.Module:
    return _SE(16)


class _Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layers = nn.ModuleList(nn.Conv2d(8 + 4 * i, 4, 3, padding=1) for i in range(3))
        self.head = nn.Sequential(*_head(20))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.stem(x))
        for layer in self.layers:  # dense connectivity: every layer sees every earlier one
            y = torch.cat([y, torch.relu(layer(y))], 1)
        return self.head(y)


def concat() -> nn.Module:
    return _Concat()


def lrn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5), *_head(8))


KINDS = ["plain", "depthwise", "grouped", "se_silu", "concat", "lrn"]
BUILDERS = {name: globals()[name] for name in KINDS}


class _Unexportable(nn.Module):
    """svdvals has no ONNX symbolic: the exporter refuses it (eager runs it fine)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = plain()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + torch.linalg.svdvals(x.flatten(2)).mean()


def unexportable() -> nn.Module:
    return _Unexportable()


def model_and_input(kind: str, batch: int = 1, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    model = BUILDERS[kind]().eval()
    return model, torch.randn(batch, 3, RES, RES, generator=torch.Generator().manual_seed(seed))


def target(tmp_path, backend: str, precision: str = "fp32", **kw) -> Target:
    return Target(backend, precision, cache_dir=str(tmp_path / "cache"), threads=1, compile_backend="eager", **kw)
