"""The options of one evaluation, checked once: `EvalConfig.validate()` before any work, nothing checked again later.

Messages name evaluate()'s parameters (`crops must be 1, 5 or 10`); the CLI puts its flags in their place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from zoobench.errors import ZooError
from zoobench.imagenet.transforms import RESIZE_MODES, EvalTransform, positive_pixels
from zoobench.output.files import check_output
from zoobench.timing.config import DTYPES
from zoobench.weights.recipe import SEED, Preprocessing

AVERAGING = ("softmax", "logits")
PREPROCESS = ("weights", "seed")  # the released weight's own recipe (default), or the seed's 256/224 bilinear
CROPS_PER_BATCH = 64  # the default batch holds this many crops


def _one_of(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ZooError(f"{name} must be {', '.join(allowed[:-1])} or {allowed[-1]}, not {value!r}")


def _device_type(device: str) -> str:
    """cpu or cuda, and CUDA usable when asked for: checked before any nccl process group is made."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ZooError(f"device must be cpu or cuda[:N], not {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ZooError(f"device={device}: CUDA is not available here (torch {torch.__version__}, no usable GPU)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ZooError(f"device={device}: this machine has {torch.cuda.device_count()} GPU(s), numbered from 0")
    return dev.type


@dataclass(frozen=True)
class EvalConfig:
    """evaluate()'s options as given; `validate()` returns the checked copy, with `transform` built."""

    crops: int = 1
    resize: str | None = None  # None: the recipe's (shorter side, or squash for some timm weights)
    resolution: int | None = None
    native_resolution: bool = False
    resize_size: int | None = None
    average: str = "softmax"
    batch_size: int | None = None  # images per batch; None: CROPS_PER_BATCH crops' worth
    workers: int | None = None  # loader processes; None: the cores this rank may use
    device: str = "cpu"
    dtype: str = "fp32"
    decoder: str = "pil"
    mean: Sequence[float] | None = None  # None: the recipe's
    std: Sequence[float] | None = None
    interpolation: str | None = None
    preprocess: str = "weights"
    skip_bad: bool = False
    seed: int = 0  # the random initialisation of a model evaluated without weights
    transform: EvalTransform | None = None  # set by validate()
    recipe: Preprocessing | None = None  # set by validate(): the recipe the transform follows
    overrides: tuple[str, ...] = ()  # set by validate(): the options that changed the recipe
    recipe_from: str = "seed"  # set by validate(): "weights" when the recipe is the released weight's

    def validate(self, native: int = 224, recipe: Preprocessing | None = None) -> EvalConfig:
        """Every option checked (the transform checks its geometry and normalisation itself); `native` is the
        model's own resolution, for native_resolution; `recipe` the released weight's preprocessing, used unless
        preprocess="seed" (the seed's 256/224 bilinear), each option given changing it (recorded in `overrides`)."""
        if self.native_resolution and self.resolution is not None:
            raise ZooError("give resolution=N or native_resolution=True, not both")
        if self.resolution is not None:
            positive_pixels("resolution", self.resolution)
        _one_of("preprocess", self.preprocess, PREPROCESS)
        _one_of("average", self.average, AVERAGING)
        _one_of("dtype", self.dtype, list(DTYPES))
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or self.batch_size < 1):
            raise ZooError(f"batch_size must be at least 1, not {self.batch_size!r}")
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers < 0):
            raise ZooError(f"workers must be 0 (read images in this process) or more, not {self.workers!r}")
        _device_type(self.device)
        base = recipe if recipe is not None and self.preprocess == "weights" else SEED
        chosen, overrides = self._recipe(base, native)
        transform = EvalTransform(
            self.crops,
            chosen.crop_size,
            chosen.resize_size,
            "square" if chosen.crop_mode == "squash" else "shorter",
            self.decoder,
            chosen.mean,
            chosen.std,
            chosen.interpolation,
        )
        batch = self.batch_size or max(1, CROPS_PER_BATCH // transform.crops)
        return dataclasses.replace(
            self,
            transform=transform,
            batch_size=batch,
            recipe=chosen,
            overrides=tuple(overrides),
            recipe_from="seed" if base is SEED else "weights",
        )

    def _recipe(self, base: Preprocessing, native: int) -> tuple[Preprocessing, list[str]]:
        """`base` with every option given applied: a new crop keeps the recipe's crop fraction (the seed's 224/256
        gives 299 inside 342); an explicit resize_size wins over that."""
        crop = native if self.native_resolution else self.resolution
        if base is SEED and crop is None:
            crop = 224
        changes: dict = {}
        if crop is not None and crop != base.crop_size:
            changes.update(crop_size=crop, resize_size=round(crop * base.resize_size / base.crop_size))
        if self.resize_size is not None:
            positive_pixels("resize_size", self.resize_size)
            changes["resize_size"] = self.resize_size
        if self.resize is not None:
            _one_of("resize", self.resize, RESIZE_MODES)
            changes["crop_mode"] = "center" if self.resize == "shorter" else "squash"
        for key in ("interpolation", "mean", "std"):
            value = getattr(self, key)
            if value is not None:
                # a sequence as a tuple, so an equal list is no override; anything else goes on to be refused
                changes[key] = tuple(value) if key != "interpolation" and isinstance(value, Sequence) else value
        chosen = base.with_overrides(**changes)
        named = {"crop_size": "resolution", "crop_mode": "resize"}
        overrides = [named.get(k, k) for k in changes if getattr(chosen, k) != getattr(base, k)]
        return chosen, list(dict.fromkeys(overrides))

    @property
    def device_type(self) -> str:
        return torch.device(self.device).type

    @property
    def autocast(self) -> torch.autocast:
        """A fresh autocast context for this dtype (off for fp32)."""
        return torch.autocast(self.device_type, dtype=DTYPES[self.dtype], enabled=self.dtype != "fp32")


def checked_output(path: str | Path | None) -> Path | None:
    """A predictions path, refused now (folder missing, not writable, a directory or link) rather than after the run."""
    return None if path is None else check_output(Path(path))
