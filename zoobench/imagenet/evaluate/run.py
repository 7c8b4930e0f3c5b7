"""evaluate(): options checked, the model built and loaded on every rank, this rank's shard run, the results gathered
and returned as typed parts, with the flat row (one value per column) that the writers print built from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from torch import nn

from zoobench import registry
from zoobench.errors import ZooError, guarded
from zoobench.imagenet.devkit import ClassInfo
from zoobench.imagenet.evaluate.config import EvalConfig, checked_output
from zoobench.imagenet.evaluate.dataset import ImageFolderSet, image_folder
from zoobench.imagenet.evaluate.distributed import CollectiveError, Ranks, collective, joined, shard
from zoobench.imagenet.evaluate.loop import LoopTimes, default_workers, logits_of, merge, run_shard
from zoobench.imagenet.evaluate.predictions import Predictions, write_predictions
from zoobench.imagenet.evaluate.stats import CI_METHOD, Accuracy
from zoobench.imagenet.evaluate.weights import (
    WeightsInfo,
    WeightsSource,
    apply_weights,
    fetch_weights,
    resolve_weights,
)
from zoobench.imagenet.transforms import IMAGENET_MEAN, IMAGENET_STD
from zoobench.output.progress import SILENT, Progress


@dataclass(frozen=True)
class DataInfo:
    path: str
    images: int  # in the folder, skipped ones included
    classes: int
    classes_source: str
    ignored: int  # non-image entries inside class folders


@dataclass(frozen=True)
class RunInfo:
    device: str
    dtype: str
    batch_size: int
    workers: int
    world: int
    backend: str | None
    gpu: str | None


@dataclass(frozen=True)
class Published:
    """The accuracy the weights' publisher reports (torchvision's metadata, or the paper for the zoo's own)."""

    top1: float | None = None
    top5: float | None = None
    source: str | None = None


@dataclass
class EvalResult:
    model: str
    config: EvalConfig  # validated: config.transform says what the model saw
    weights: WeightsInfo
    accuracy: Accuracy
    times: LoopTimes  # over all ranks
    data: DataInfo
    run: RunInfo
    published: Published
    predictions: Predictions
    skipped: list[tuple[str, str]]  # (file, reason)
    classes: list[ClassInfo]
    warnings: list[str]  # also reported through `progress` as they came
    rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @cached_property
    def row(self) -> dict:
        """One value per column, in the order of the committed CSV and JSON files."""
        return {
            "model": self.model,
            **_weights_columns(self.weights),
            **self.config.transform.describe(),  # type: ignore[union-attr]
            "average": self.config.average,
            **_accuracy_columns(self.accuracy),
            "skipped": len(self.skipped),
            **_data_columns(self.data),
            **_time_columns(self.times, self.data.images),
            **_run_columns(self.run),
            "published_top1": self.published.top1,
            "published_top5": self.published.top5,
            "published_source": self.published.source,
            **({"gpu": self.run.gpu} if self.run.gpu else {}),
        }


def _weights_columns(w: WeightsInfo) -> dict:
    return {"weights": w.label, "random_init": w.random, "weights_file": w.file, "weights_sha256": w.sha256}


def _accuracy_columns(a: Accuracy) -> dict:
    (top1_lo, top1_hi), (top5_lo, top5_hi) = a.top1.ci, a.top5.ci
    return {
        "top1": a.top1.pct,
        "top1_lo": top1_lo,
        "top1_hi": top1_hi,
        "top5": a.top5.pct,
        "top5_lo": top5_lo,
        "top5_hi": top5_hi,
        "top5_k": a.k,
        "ci": CI_METHOD,
        "correct1": a.top1.correct,
        "correct5": a.top5.correct,
        "images": a.images,
    }


def _data_columns(d: DataInfo) -> dict:
    return {
        "dataset_images": d.images,
        "classes": d.classes,
        "classes_source": d.classes_source,
        "ignored_entries": d.ignored,
        "data": d.path,
    }


def _time_columns(t: LoopTimes, images: int) -> dict:
    return {
        "images_per_s": images / t.wall_s if t.wall_s > 0 else float("nan"),
        "wall_s": t.wall_s,
        "data_wait_s": t.data_wait_s,
        "model_s": t.model_s,
        "decode_s": t.decode_s,
        "crop_s": t.crop_s,
    }


def _run_columns(r: RunInfo) -> dict:
    return {
        "device": r.device,
        "dtype": r.dtype,
        "autocast": r.dtype != "fp32",
        "batch_size": r.batch_size,
        "workers": r.workers,
        "world_size": r.world,
        "backend": r.backend,
    }


# --- the steps ------------------------------------------------------------------------------------------------------


def _device(cfg: EvalConfig, d: Ranks) -> torch.device:
    """The validated device; under torchrun without an index, each rank of a machine takes its own GPU."""
    dev = torch.device(cfg.device)
    if dev.type == "cuda":
        if d.world > 1 and dev.index is None:
            dev = torch.device("cuda", d.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    return dev


def _build(spec: registry.ModelSpec | None, model: str | nn.Module, name: str) -> nn.Module:
    if spec is None:
        return model  # type: ignore[return-value]
    with guarded(f"{name}: build"):
        net = spec.build()
    if not isinstance(net, nn.Module):
        raise ZooError(f"{name}: its builder returned {type(net).__name__}, not a torch.nn.Module")
    return net


def _probe(net: nn.Module, name: str, cfg: EvalConfig, dev: torch.device, folder: ImageFolderSet) -> None:
    """One forward on a blank input: a head of the wrong size is refused before any image is read."""
    size, n_classes = cfg.transform.crop_size, len(folder.classes)  # type: ignore[union-attr]
    with torch.inference_mode(), cfg.autocast, guarded(f"{name}: forward on a 1x3x{size}x{size} input"):
        out = logits_of(net(torch.zeros(1, 3, size, size, device=dev)))
    if out.ndim != 2 or out.shape[1] != n_classes:
        raise ZooError(
            f"{name} outputs {tuple(out.shape[1:])} scores per image but {folder.classes_source} has "
            f"{n_classes} classes"
        )


def _ready(
    net: nn.Module, name: str, source: WeightsSource, cfg: EvalConfig, dev: torch.device, folder: ImageFolderSet
) -> WeightsInfo:
    """Weights loaded, the model on its device in eval mode, and probed."""
    with guarded(f"{name}: loading weights"):
        info = apply_weights(net, source)
    with guarded(f"{name}: eval() on {dev}"):
        net.to(dev).eval()
    _probe(net, name, cfg, dev, folder)
    return info


def _published(spec: registry.ModelSpec | None, w: WeightsInfo) -> Published:
    if w.published_source:
        return Published(w.published_top1, w.published_top5, w.published_source)
    if spec is not None and spec.accuracy and not w.random:
        return Published(spec.accuracy.top1, spec.accuracy.top5, f"paper: {spec.accuracy.source}")
    return Published()


def _run_info(dev: torch.device, d: Ranks, cfg: EvalConfig, workers: int) -> RunInfo:
    device = str(dev) if d.world == 1 else f"{dev.type} x{d.world}"
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    return RunInfo(device, cfg.dtype, cfg.batch_size, workers, d.world, d.backend, gpu)  # type: ignore[arg-type]


def _random_init_warning(name: str, w: WeightsInfo, n_classes: int) -> list[str]:
    if not w.random:
        return []
    return [f"{name} is randomly initialised (no weights given): expect chance level (~{100 / n_classes:.2g}% top-1)"]


def evaluate(
    model: str | nn.Module,
    data: str | Path,
    *,
    crops: int = 1,
    resize: str = "shorter",
    resolution: int | None = None,
    native_resolution: bool = False,
    resize_size: int | None = None,
    weights: str | Path | None = None,
    average: str = "softmax",
    batch_size: int | None = None,
    workers: int | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
    decoder: str = "pil",
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    classes_file: str | Path | None = None,
    skip_bad: bool = False,
    predictions: str | Path | None = None,
    progress: Progress = SILENT,
) -> EvalResult:
    """Top-1 / top-5 accuracy of `model` (a zoo name, alias, torchvision:<name>, module:callable, or a module) on
    an ImageNet-style folder. Returns the result on every rank; under torchrun only rank 0 reports and writes.

    crops 1/5/10; resize "shorter" (shorter side to resize_size) or "square"; resolution scales crop and resize
    together (crop r inside round(r * 256 / 224)); average "softmax" (mean of crop probabilities) or "logits".
    batch_size counts images (default: 64 crops' worth); workers default to the cores this rank may use.
    Warnings go to `progress.message` (and the result's `warnings`), the images to one `progress.task`.
    """
    spec = None if isinstance(model, nn.Module) else registry.get_spec(model)
    name = type(model).__name__ if spec is None else spec.name
    cfg = EvalConfig(
        crops=crops,
        resize=resize,
        resolution=resolution,
        native_resolution=native_resolution,
        resize_size=resize_size,
        average=average,
        batch_size=batch_size,
        workers=workers,
        device=device,
        dtype=dtype,
        decoder=decoder,
        mean=mean,
        std=std,
        skip_bad=skip_bad,
    ).validate(spec.resolution if spec else 224)

    with joined(cfg.device_type) as d:
        shown = progress if d.rank == 0 else SILENT

        def setup() -> tuple:
            if d.rank == 0:
                checked_output(predictions)  # before any work, not after it
            folder = image_folder(data, classes_file)
            return folder, _device(cfg, d), _build(spec, model, name), resolve_weights(spec, weights)

        folder, dev, net, source = collective(d, setup, "checking the setup")  # type: ignore[misc]
        # One process per machine downloads; the others find the file at the next step.
        collective(d, lambda: fetch_weights(source, may_download=d.local_rank == 0, progress=shown), "fetching weights")
        winfo: WeightsInfo = collective(d, lambda: _ready(net, name, source, cfg, dev, folder), "loading weights")  # type: ignore[assignment]
        warnings = [*folder.warnings, *winfo.warnings, *_random_init_warning(name, winfo, len(folder.classes))]
        for text in warnings:
            shown.message("warning", text)
        n_workers = default_workers(d.local_world) if cfg.workers is None else cfg.workers
        mine = shard(len(folder), d.world, d.rank)
        label = f"{name} {cfg.crops}-crop" + (f" (rank 0 of {d.world})" if d.world > 1 else "")
        task = shown.task(label, total=len(mine), unit="images")
        try:
            part = run_shard(net, name, folder, mine, cfg, dev, n_workers, task)
        finally:
            task.close()
        parts = d.gather(part, "gathering the results")
        errors = [p.error for p in parts if p.error]
        if errors:
            raise (CollectiveError if d.world > 1 else ZooError)(errors[0])
        run = _run_info(dev, d, cfg, n_workers)
        rank = d.rank

    preds, skipped = merge(folder, parts)
    info = DataInfo(str(Path(data)), len(folder), len(folder.classes), folder.classes_source, folder.ignored)
    times = LoopTimes.over_ranks([p.times for p in parts])
    accuracy, published = preds.accuracy(), _published(spec, winfo)
    result = EvalResult(
        name, cfg, winfo, accuracy, times, info, run, published, preds, skipped, folder.classes, warnings, rank
    )
    if predictions is not None and rank == 0:
        write_predictions(predictions, preds, folder.classes, result.row)
    return result
