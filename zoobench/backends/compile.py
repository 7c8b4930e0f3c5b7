"""torch.compile: the module compiled by `compile_backend` (inductor by default); the compilation happens at the
first call, which backends.prepare times apart from the conversion (here: only wrapping the module)."""

from __future__ import annotations

import torch

from zoobench.backends import Prepared, Target, autocast_of
from zoobench.backends.eager import wrap
from zoobench.errors import guarded


def convert(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target, dtype: str) -> Prepared:
    with guarded(f"{name}: torch.compile"):
        compiled = torch.compile(model, backend=target.compile_backend)
    settings = {
        "runtime": f"torch {torch.__version__} torch.compile(backend={target.compile_backend!r})",
        "intra_op_threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }
    return wrap("compile", compiled, x, autocast_of("compile", target.precision, dtype), runtime_settings=settings)
