"""The Python API: what the CLI does, callable with model names (or ModelSpecs) like the command line takes them.
`zoobench.evaluate(model, data, …)` is `zoobench.imagenet.evaluate.evaluate`, which takes a name already.

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
    from zoobench.timing import BenchConfig


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
    batch: int = 1,
    progress: Progress = SILENT,
) -> Profile:
    """Params, MACs/FLOPs per image at `resolution` (None: each model's native one), activation memory at `batch`
    images and, unless `time=False`, the quick Time_cast latency: the rows of `zoobench profile`. Over several
    models, one that cannot be counted is a row with an `error`, named in `.failed`."""
    from zoobench import profiling

    return profiling.profile(
        resolve(models), resolution, compare_seed=compare_seed, time=time, batch=batch, progress=progress
    )


def bench(
    models: str | ModelSpec | Iterable[str | ModelSpec],
    config: BenchConfig | None = None,
    *,
    threads: Iterable[int] | None = None,
    batch: int | Iterable[int] | None = None,
    backends: str | Iterable[str] | None = None,
    precision: str | None = None,
    isolate: bool = True,
    keep_going: bool = True,
    progress: Progress = SILENT,
) -> list:
    """Latency of each model (`zoobench bench`): a `timing.Measurement` per model, thread count, batch and backend,
    or, with `keep_going` over several measurements, a `timing.Failure` for one that failed. `config`: a
    `timing.BenchConfig` (resolution, dtype, device, mode, budget …; default: batch 1, 224x224, fp32, cpu, latency
    mode). `batch`: one size (replacing config.batch) or a sweep such as [1, 8, 32]; `timing.best_batches(results)`
    names the best. `backends`: a sweep like `--backend eager,onnxruntime` (a list, or that comma string), every
    backend checked before any work; `precision` (fp32, int8 …) replaces the config's, like `--precision`."""
    from dataclasses import replace

    from zoobench import backends as runtimes
    from zoobench import timing

    config = config or timing.BenchConfig()
    sizes = [batch] if isinstance(batch, int) else list(batch) if batch is not None else [config.batch]
    if not sizes or not all(isinstance(b, int) and not isinstance(b, bool) for b in sizes):
        raise ZooError(f"batch must be a positive int or a list of them, got {batch!r}")
    config = replace(config, batch=sizes[0])
    if backends is not None and not isinstance(backends, str):
        backends = ",".join(backends) or None  # a list is the CLI's comma list, checked the same way
    backends = runtimes.parse_backends(backends)
    if backends:
        config = replace(config, backend=backends[0])
    if precision is not None:
        config = replace(config, precision=precision)
    for size in sizes:
        for name in backends or [config.backend]:
            replace(config, batch=size, backend=name).validate()
    return timing.bench(
        resolve(models),
        config,
        batches=sizes,
        threads=list(threads) if threads is not None else None,
        backends=backends,
        isolate=isolate,
        keep_going=keep_going,
        progress=progress,
    )
