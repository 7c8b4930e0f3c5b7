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


def _listed(value: object, name: str, kind: type, what: str) -> list | None:
    """One value or a list of them (a sweep) -> a list; None -> None (the config's value); else one ZooError."""
    if value is None:
        return None
    values = [value] if isinstance(value, kind) else list(value) if isinstance(value, Iterable) else [value]
    if not values or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise ZooError(f"{name} must be {what} or a list of them, got {value!r}")
    return values


def bench(
    models: str | ModelSpec | Iterable[str | ModelSpec],
    config: BenchConfig | None = None,
    *,
    threads: Iterable[int] | None = None,
    batch: int | Iterable[int] | None = None,
    dtype: str | Iterable[str] | None = None,
    layout: str | Iterable[str] | None = None,
    backend: str | Iterable[str] | None = None,
    precision: str | None = None,
    isolate: bool = True,
    keep_going: bool = True,
    progress: Progress = SILENT,
) -> list:
    """Latency of each model (`zoobench bench`): a `timing.Measurement` per model and setting, or, with `keep_going`
    over several models, a `timing.Failure` for one that failed. `config`: a `timing.BenchConfig` (resolution,
    dtype, device, mode, budget …; default: batch 1, 224x224, fp32, cpu, latency mode). `batch`, `dtype`
    ('fp32', 'bf16', 'fp16'), `layout` ('nchw', 'nhwc': channels_last) and `backend`: one value (replacing the
    config's) or a sweep such as [1, 8, 32] or ['nchw', 'nhwc'], one row per combination in the order of
    `zoobench bench`; `timing.best_batches(results)` names the best batch. `backend` also takes the CLI's comma
    string ('eager,onnxruntime'); every combination is checked before any work. `precision` (fp32, int8 …)
    replaces the config's, like `--precision`."""
    from dataclasses import replace

    from zoobench import backends as runtimes
    from zoobench import timing

    config = config or timing.BenchConfig()
    sizes = _listed(batch, "batch", int, "a positive int")
    dtypes = _listed(dtype, "dtype", str, "a dtype name")
    layouts = _listed(layout, "layout", str, "'nchw' or 'nhwc'")
    names = _listed(backend, "backend", str, "a backend name")
    sweep = {
        "batch": sizes,
        "dtype": timing.parse_dtypes(",".join(dtypes)) if dtypes else None,
        "channels_last": timing.parse_layouts(",".join(layouts)) if layouts else None,
        "backend": runtimes.parse_backends(",".join(names)) if names else None,
        "threads": list(threads) if threads is not None else None,
    }
    if precision is not None:
        config = replace(config, precision=precision)
    config = replace(config, **{f: values[0] for f, values in sweep.items() if values and f != "threads"})
    return timing.bench(resolve(models), config, sweep=sweep, isolate=isolate, keep_going=keep_going,
                        progress=progress)  # fmt: skip
