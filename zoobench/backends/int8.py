"""int8: post-training static quantization of the exported ONNX file by onnxruntime's quantizer, with a named,
reproducible calibration.

Calibrations: `random:seed=S:n=N` (N standard-normal images from seed S: the default, random:seed=0:n=32) or
`dir:PATH:n=N` (N images of a folder, evenly spaced over its sorted list, through the eval transform at the
model's resolution; a bare PATH means dir:PATH with n=500 or fewer). The quantized file is QDQ with per-channel
int8 weights and uint8 activations (MinMax ranges), which onnxruntime runs directly and OpenVINO reads as int8.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from zoobench.backends import Target
from zoobench.errors import ZooError, guarded

DEFAULT = "random:seed=0:n=32"
DIR_IMAGES = 500  # the most images a dir: calibration takes unless n says otherwise
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
METHOD = "onnxruntime.quantization.quantize_static (QDQ, per-channel S8 weights, U8 activations, MinMax)"


@dataclass(frozen=True)
class Calibration:
    kind: str  # "random" or "dir"
    n: int
    seed: int = 0
    folder: Path | None = None

    @property
    def name(self) -> str:
        return f"random:seed={self.seed}:n={self.n}" if self.kind == "random" else f"dir:{self.folder}:n={self.n}"


def _fields(parts: list[str], text: str, allowed: set[str]) -> dict[str, int]:
    out = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in allowed or not value.isdigit():
            raise ZooError(f"calibration takes random:seed=S:n=N, dir:PATH:n=N or a folder of images, not {text!r}")
        out[key] = int(value)
    if out.get("n", 1) < 1:
        raise ZooError(f"calibration needs at least one image (n >= 1), not {text!r}")
    return out


def parse_calibration(text: str | None) -> Calibration:
    """The named calibration; a folder is checked now (it exists and holds images), before any work."""
    text = text or DEFAULT
    if text.startswith("random:") or text == "random":
        got = _fields([p for p in text.split(":")[1:] if p], text, {"seed", "n"})
        return Calibration("random", got.get("n", 32), got.get("seed", 0))
    path, n = text.removeprefix("dir:"), None
    head, sep, tail = path.rpartition(":")
    if sep and tail.startswith("n="):
        path, n = head, _fields([tail], text, {"n"})["n"]
    if not path:
        raise ZooError(f"calibration {text!r} names no folder")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ZooError(f"calibration folder {str(folder)!r} does not exist or is not a folder")
    found = len(images_in(folder))
    if not found:
        raise ZooError(f"calibration folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return Calibration("dir", min(found, n or DIR_IMAGES), folder=folder.resolve())


def images_in(folder: Path) -> list[Path]:
    """Every image file under `folder` (class subfolders too), sorted: the same list on every run."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _chosen(cal: Calibration) -> list[Path]:
    files = images_in(cal.folder)  # type: ignore[arg-type]
    step = len(files) / cal.n
    return [files[int(i * step)] for i in range(cal.n)]  # evenly spaced: every class of a sorted ImageNet tree


def batches(cal: Calibration, resolution: int) -> list[torch.Tensor]:
    """The calibration images, one (1, 3, r, r) float32 tensor each."""
    if cal.kind == "random":
        gen = torch.Generator().manual_seed(cal.seed)
        return [torch.randn(1, 3, resolution, resolution, generator=gen) for _ in range(cal.n)]
    from zoobench.imagenet.transforms import EvalTransform

    transform = EvalTransform(crop_size=resolution)
    out = []
    for path in _chosen(cal):
        with guarded(f"calibration image {str(path)!r}"):
            out.append(transform(path))
    return out


def _identity(cal: Calibration) -> str:
    """What the calibration's inputs are: its name, and for a folder the chosen files' names, sizes and times."""
    if cal.kind == "random":
        return cal.name
    h = hashlib.sha256(cal.name.encode())
    for p in _chosen(cal):
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{cal.name}:{h.hexdigest()[:16]}"


class _Reader:
    """onnxruntime's CalibrationDataReader protocol: one feed dict per call, None at the end."""

    def __init__(self, input_name: str, images: list[torch.Tensor]) -> None:
        self.feeds = iter([{input_name: t.numpy()} for t in images])

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


def quantized(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target):
    """(the cached QDQ int8 ONNX file, the method) for this model, input shape and calibration."""
    from zoobench.backends import onnx_export, require

    cal = parse_calibration(target.calibration)
    resolution = int(x.shape[-1])

    def make(tmp: Path) -> None:
        source = onnx_export.fp32_model(name, model, x, target)
        require("onnxruntime")
        from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

        reader = _Reader(onnx_export.INPUT, batches(cal, resolution))
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantizer logs "consider pre-processing" to the root logger
        try:
            with guarded(f"{name}: int8 quantization"), contextlib.redirect_stdout(io.StringIO()):
                quantize_static(str(source.path), str(tmp), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)  # fmt: skip
        finally:
            root.setLevel(level)

    key = onnx_export.key_for(name, model, x, "int8", calibration=_identity(cal), method=METHOD)
    return onnx_export.cached(key, target.cache_dir, make), f"{METHOD}; calibration {cal.name}"
