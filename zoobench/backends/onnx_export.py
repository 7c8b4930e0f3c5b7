"""The ONNX file a runtime reads: exported with torch.onnx.export once, cached per model, weights, settings and
versions, written atomically (a killed export leaves no half file that a later run would trust).

The key holds the model's name, a fingerprint of its structure and weights (a changed model or other weights
never hit a stale file), the resolution, the batch, the precision and calibration, and the torch, onnx and
onnxruntime versions; the file sits beside a JSON copy of its key under <cache>/onnx/.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from zoobench.backends import Target, cache_folder, require_exporter
from zoobench.errors import ZooError, guarded

OPSET = 17
EXPORTER = "torch.onnx.export (TorchScript, dynamo=False)"  # the dynamo exporter is slower and takes fewer models
INPUT, OUTPUT = "input", "logits"


@dataclass(frozen=True)
class Artifact:
    path: Path
    hit: bool  # found in the cache: nothing was exported or converted this time


def fingerprint(model: torch.nn.Module) -> str:
    """sha256 of the module's structure (its repr) and every parameter and buffer, by name, dtype, shape, bytes."""
    h = hashlib.sha256(repr(model).encode())
    for key, value in model.state_dict().items():
        t = value.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _versions() -> dict:
    onnx = require_exporter()
    out = {"torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET, "exporter": EXPORTER}
    with contextlib.suppress(ImportError):
        import onnxruntime

        out["onnxruntime"] = onnxruntime.__version__  # its quantizer and fp16 converter write the variants
    return out


def cached(key: dict, cache_dir: str | None, make: Callable[[Path], None]) -> Artifact:
    """The cached file for `key`, made by `make(tmp_path)` when missing and then moved into place atomically."""
    folder = cache_folder(cache_dir) / "onnx"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cache_dir {str(folder)!r} cannot be created: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"{key['model']}-{key['resolution']}px-b{key['batch']}-{key['precision']}")
    path = folder / f"{stem}-{digest}.onnx"
    if path.is_file():
        return Artifact(path, True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        make(tmp)
        os.replace(tmp, path)
        (folder / f"{path.stem}.json").write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        raise ZooError(f"cannot write to the cache {str(folder)!r}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return Artifact(path, False)


def key_for(name: str, model: torch.nn.Module, x: torch.Tensor, precision: str, **extra: object) -> dict:
    return {
        "model": name,
        "fingerprint": fingerprint(model),
        "resolution": int(x.shape[-1]),
        "batch": int(x.shape[0]),
        "precision": precision,
        **_versions(),
        **extra,
    }


def export(name: str, model: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    """torch.onnx.export with a dynamic batch axis (eval's last batch is smaller); the exporter's first error line
    names what it could not take."""
    sample = x.detach().float().cpu().contiguous()
    with guarded(f"{name}: onnx export"), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer warnings are not the user's
        torch.onnx.export(
            model,
            (sample,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        )


def fp32_model(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target) -> Artifact:
    """The exported fp32 ONNX file (cached)."""
    make = lambda tmp: export(f"{name}: {target.backend}", model, x, tmp)  # noqa: E731
    return cached(key_for(name, model, x, "fp32"), target.cache_dir, make)


def fp16_model(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target) -> Artifact:
    """fp16 weights and activations (inputs and outputs stay fp32), by onnxruntime's float16 converter (cached)."""

    def make(tmp: Path) -> None:
        source = fp32_model(name, model, x, target)  # only when the fp16 file is not cached already
        onnx = require_exporter()
        from onnxruntime.transformers import float16

        with guarded(f"{name}: fp16 conversion"):
            onnx.save(float16.convert_float_to_float16(onnx.load(str(source.path)), keep_io_types=True), str(tmp))

    return cached(key_for(name, model, x, "fp16", converter="onnxruntime.transformers.float16"), target.cache_dir,
                  make)  # fmt: skip


def provenance(artifact: Artifact, method: str | None, target: Target) -> dict:
    """What a Prepared built from `model_for`'s file records of it: the file, whether the cache served it, and for
    int8 the calibration and the quantization method (the same for every runtime reading the file)."""
    from zoobench.backends.int8 import parse_calibration

    return {
        "cache_hit": artifact.hit,
        "artifact": str(artifact.path),
        "calibration": parse_calibration(target.calibration).name if target.precision == "int8" else None,
        "quant_method": method,
    }


def model_for(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target) -> tuple[Artifact, str | None]:
    """The ONNX file for the target's precision and, for int8, how it was quantized."""
    if target.precision == "int8":
        from zoobench.backends import int8

        return int8.quantized(name, model, x, target)
    if target.precision == "fp16" and target.backend == "onnxruntime":
        return fp16_model(name, model, x, target), "onnxruntime.transformers.float16 (keep_io_types)"
    return fp32_model(name, model, x, target), None
