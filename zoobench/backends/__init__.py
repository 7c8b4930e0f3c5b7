"""Deployment backends: one model, converted once, called by the same timing engine and checked against eager.

`prepare(name, model, x, target)` turns an eager fp32 module and its fixed-seed input into a `Prepared`: a call
on that input in the runtime's own format (nothing converted inside the timed call), a `predict` for any batch
(eval and the equivalence check), the conversion and first-call times apart, what the runtime reports as its
settings, and the equivalence figures against eager fp32 (equivalence.py). Exports are cached per model, weights,
settings and versions (onnx_export.py). The runtimes are optional extras, imported only when asked for.

Modules: `eager` (eager and autocast), `compile` (torch.compile), `onnx_export` (torch.onnx.export + the cache),
`onnxruntime`, `openvino`, `int8` (calibration and static quantization), `equivalence`.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from zoobench.errors import ZooError

BACKENDS = ("eager", "compile", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "int8", "bf16", "fp16")
TORCH_BACKENDS = ("eager", "compile")
# The Python module each runtime needs, and the extra that installs it.
RUNTIMES = {"onnxruntime": ("onnxruntime", "onnx"), "openvino": ("openvino", "openvino")}
EXPORTER = ("onnx", "onnx")  # every ONNX-based backend exports with the onnx package


@dataclass(frozen=True)
class Target:
    """What to convert to: backend, precision, calibration (int8), the cache folder, threads and the input seed."""

    backend: str = "eager"
    precision: str = "fp32"
    calibration: str | None = None  # None: random:seed=0:n=32 (int8 only)
    cache_dir: str | None = None  # None: $ZOOBENCH_CACHE or ~/.cache/zoobench
    threads: int = 1
    seed: int = 0
    compile_backend: str = "inductor"  # backend compile: torch.compile's own backend

    def validate(self, dtype: str = "fp32", compiled: bool = False) -> None:
        check(self.backend, self.precision, self.calibration, self.cache_dir, dtype=dtype, compiled=compiled)


@dataclass
class Prepared:
    """A converted model ready to time: `call()` runs the bench input; `predict(batch)` returns fp32 logits."""

    backend: str
    precision: str
    call: Callable[[], object]
    predict: Callable[[object], object]  # torch.Tensor (N, 3, H, W) float32 -> torch.Tensor logits (N, classes)
    convert_s: float | None = None
    first_call_s: float | None = None
    cache_hit: bool | None = None
    artifact: str | None = None
    runtime_settings: dict | None = None
    calibration: str | None = None
    quant_method: str | None = None
    equivalence: dict = field(default_factory=dict)  # equivalence.Equivalence.to_dict(), {} for plain eager
    warnings: list[str] = field(default_factory=list)

    def report(self) -> dict:
        """The row's backend fields (timing.Measurement has one field per key, eval rows carry them as they are)."""
        return {
            "backend": self.backend,
            "precision": self.precision,
            "convert_s": self.convert_s,
            "first_call_s": self.first_call_s,
            "cache_hit": self.cache_hit,
            "artifact": self.artifact,
            "runtime_settings": self.runtime_settings,
            "calibration": self.calibration,
            "quant_method": self.quant_method,
            **self.equivalence,
            "backend_warnings": list(self.warnings),
        }


def parse_backends(text: str | None) -> list[str] | None:
    """'onnxruntime' -> ['onnxruntime']; 'eager,onnxruntime' -> a sweep; None -> None (eager)."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in BACKENDS:
            raise ZooError(f"backend must be one of {', '.join(BACKENDS)} (or a comma list of them), not {name!r}")
    return list(dict.fromkeys(names))


def check(
    backend: str,
    precision: str,
    calibration: str | None = None,
    cache_dir: str | None = None,
    *,
    dtype: str = "fp32",
    compiled: bool = False,
) -> None:
    """ZooError naming the parameter for a backend setting that cannot run; the runtime is imported (one line
    naming its extra when it is missing), so a sweep fails before any work rather than model by model."""
    if backend not in BACKENDS:
        raise ZooError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if precision not in PRECISIONS:
        raise ZooError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if backend in TORCH_BACKENDS and precision == "int8":
        raise ZooError(f"precision int8 needs a backend that quantizes (onnxruntime or openvino), not {backend}")
    if backend in TORCH_BACKENDS and dtype != "fp32" and precision not in ("fp32", dtype):
        raise ZooError(f"precision {precision} contradicts dtype {dtype}: give one of them")
    if backend not in TORCH_BACKENDS and dtype != "fp32":
        raise ZooError(f"dtype {dtype} is torch's autocast: backend {backend} takes precision {dtype} instead")
    if compiled and backend != "eager":
        raise ZooError(f"compile is the backend compile: it cannot be combined with backend {backend}")
    if calibration is not None:
        if precision != "int8":
            raise ZooError(f"calibration is for precision int8, not {precision}")
        from zoobench.backends.int8 import parse_calibration

        parse_calibration(calibration)
    cache_folder(cache_dir, create=False)
    if backend in RUNTIMES:
        require(backend)
        require_exporter()


def _import(module: str, extra: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ZooError(f"{what} needs {module}, which is not installed: pip install 'zoobench[{extra}]'") from exc


def require(backend: str) -> ModuleType:
    """The runtime's module, or one line naming the extra that installs it."""
    module, extra = RUNTIMES[backend]
    return _import(module, extra, f"backend {backend}")


def require_exporter() -> ModuleType:
    return _import(*EXPORTER, "the ONNX export")


def cache_folder(cache_dir: str | os.PathLike | None, *, create: bool = True) -> Path:
    """The cache folder: `cache_dir`, else $ZOOBENCH_CACHE, else ~/.cache/zoobench; refused when not a folder."""
    path = Path(cache_dir or os.environ.get("ZOOBENCH_CACHE") or Path.home() / ".cache" / "zoobench").expanduser()
    if path.exists() and not path.is_dir():
        raise ZooError(f"cache_dir {str(path)!r} is not a folder")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cache_dir {str(path)!r} cannot be created: {exc.strerror or exc}") from exc
    return path


def _os_threads() -> int | None:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def autocast_of(backend: str, precision: str, dtype: str) -> str:
    """The torch autocast dtype of a torch backend: `dtype`, else the precision (bf16/fp16), else fp32."""
    if backend not in TORCH_BACKENDS:
        return "fp32"
    return dtype if dtype != "fp32" else precision


def prepare(name: str, model: object, x: object, target: Target, *, dtype: str = "fp32") -> Prepared:
    """Convert `model` (eager fp32, eval mode) for `target`, time the conversion and the first call on `x` apart,
    and check the outputs against eager fp32 on fixed-seed inputs (not for plain eager fp32: nothing converted).

    A conversion the runtime refuses is one ZooError `"{name}: {backend}: {the runtime's first line}"`."""
    from zoobench.backends import equivalence

    module = importlib.import_module(f"zoobench.backends.{target.backend}")
    before = _os_threads()
    t0 = time.perf_counter()
    prepared: Prepared = module.convert(name, model, x, target, dtype)
    prepared.convert_s = time.perf_counter() - t0
    if target.backend == "eager" and prepared.precision == "fp32":
        prepared.convert_s = None
        return prepared
    prepared.first_call_s = equivalence.first_call(name, prepared)
    after = _os_threads()
    if prepared.runtime_settings is not None and before is not None and after is not None:
        # what the runtime really started (its pools), not only what it was told: threads of this process
        prepared.runtime_settings["os_threads_started"] = after - before
    result = equivalence.check(name, model, prepared, batch=int(x.shape[0]), resolution=int(x.shape[-1]),
                               seed=target.seed, device=x.device)  # fmt: skip
    prepared.equivalence = result.to_dict()
    prepared.warnings += result.warnings(name, target.backend, prepared.precision)
    return prepared


def eval_target(backend: str, precision: str, calibration: str | None, cache_dir: object, options) -> Target:
    """eval's target, checked before any work (`options`: its validated EvalConfig: dtype, device, seed)."""
    import torch

    target = Target(backend, precision, calibration, None if cache_dir is None else str(cache_dir),
                    torch.get_num_threads(), options.seed)  # fmt: skip
    if backend == "eager" and (precision != "fp32" or calibration is not None):
        raise ZooError("precision is for a backend (onnxruntime, openvino, compile): eager takes dtype")
    if backend != "eager":
        target.validate(options.dtype)
        if options.device_type != "cpu" and backend not in TORCH_BACKENDS:
            raise ZooError(f"backend {backend} runs on the cpu here, not on device {options.device}")
    return target


def for_eval(name: str, model: object, target: Target, cfg) -> tuple[object, dict]:
    """(a torch module whose forward runs the converted model, the conversion's report) for eval's loop:
    converted for its batches of crops at its crop size, checked against eager fp32 like a bench conversion."""
    import torch

    from zoobench.backends.eager import PredictModule

    batch, size = cfg.batch_size * cfg.transform.crops, cfg.transform.crop_size
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(target.seed))
    prepared = prepare(name, model, x, target)
    return PredictModule(prepared), prepared.report()


def flagged(name: str, report: dict) -> list[str]:
    """A conversion's warnings (outputs beyond tolerance of eager fp32), naming the model."""
    return [f"{name}: {w}" for w in report.get("backend_warnings", [])]
