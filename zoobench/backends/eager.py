"""Eager PyTorch: the module as it is, under autocast for bf16/fp16 (the reference every other backend is checked
against, in fp32)."""

from __future__ import annotations

import contextlib

import torch

from zoobench.backends import Prepared, Target, autocast_of
from zoobench.timing.config import DTYPES


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """torch.autocast for bf16/fp16, nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def wrap(backend: str, module, x: torch.Tensor, precision: str, **extra) -> Prepared:
    """A Prepared that calls `module` (eager or compiled) on `x`, under autocast for bf16/fp16."""
    device = x.device

    def call() -> object:
        with autocast(device, precision):
            return module(x)

    def predict(batch: torch.Tensor) -> torch.Tensor:
        from zoobench.imagenet.evaluate.loop import logits_of

        with autocast(device, precision):
            return logits_of(module(batch.to(device))).float()

    return Prepared(backend, precision, call, predict, **extra)


def convert(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target, dtype: str) -> Prepared:
    return wrap("eager", model, x, autocast_of("eager", target.precision, dtype))


class PredictModule(torch.nn.Module):
    """A converted model as a torch module (eval's loop calls modules): forward = the runtime's predict."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.prepared = prepared

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prepared.predict(x)
