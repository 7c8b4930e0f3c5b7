"""The Python API: what the CLI does, callable with model names (or ModelSpecs) like the command line takes them.

>>> import zoobench
>>> zoobench.profile(["resnet18"], time=False).rows[0]["macs"]
1814073344
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.output.progress import SILENT, Progress

if TYPE_CHECKING:
    from zoobench.profiling import Profile
    from zoobench.registry import ModelSpec


def resolve(models: str | ModelSpec | Iterable[str | ModelSpec]) -> list[ModelSpec]:
    """Names, aliases, globs, `torchvision:<name>`, `module:callable` or ModelSpecs -> specs, in order."""
    if isinstance(models, (str, registry.ModelSpec)):
        models = [models]
    specs: list[ModelSpec] = []
    for m in models:
        if isinstance(m, registry.ModelSpec):
            specs.append(m)
        elif isinstance(m, str):
            specs += [s for s in registry.select([m]) if s not in specs]
        else:
            raise ZooError(f"models must be names or ModelSpecs, got {type(m).__name__}")
    if not specs:
        raise ZooError("models is empty: name at least one model")
    return specs


def profile(
    models: str | ModelSpec | Iterable[str | ModelSpec],
    resolution: int | None = 224,
    *,
    compare_seed: bool = False,
    time: bool = True,
    progress: Progress = SILENT,
) -> Profile:
    """Params, MACs/FLOPs per image (batch 1) at `resolution` (None: each model's native one) and, unless
    `time=False`, the quick Time_cast latency: the rows of `zoobench profile`. A model that cannot be counted is a
    row with an `error`, named in `.failed`."""
    from zoobench import profiling

    return profiling.profile(resolve(models), resolution, compare_seed=compare_seed, time=time, progress=progress)
