"""The batch loop of one rank: decode and crop in loader workers, normalise and run the model here, keep the top-k.

Loader workers send uint8 crops (a quarter of the float bytes); an unreadable image travels back as its reason, so
this process can name the file, or count it when skip_bad is set.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from zoobench.errors import ZooError, guarded
from zoobench.imagenet.evaluate.config import AVERAGING, EvalConfig
from zoobench.imagenet.evaluate.dataset import ImageFolderSet
from zoobench.imagenet.evaluate.predictions import Predictions
from zoobench.imagenet.transforms import EvalTransform
from zoobench.output.progress import Task


def default_workers(local_world: int) -> int:
    """Loader processes per rank: the cores this process may use, shared by the ranks of this machine, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(8, max(1, cores // max(1, local_world)))


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Image work in the main process (no loader workers) on one thread, as a loader worker does it: small tensor
    ops spread over OpenMP threads of a busy machine ran 10-400x slower here, not faster."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Item(NamedTuple):
    index: int
    crops: torch.Tensor | None  # uint8 (crops, 3, h, w); None when unreadable
    error: str | None
    decode_s: float
    crop_s: float


class _Batch(NamedTuple):  # a NamedTuple, so that pin_memory reaches the tensors inside
    index: torch.Tensor  # of the readable images
    crops: torch.Tensor | None  # uint8 (images, crops, 3, h, w)
    bad: list[tuple[int, str]]  # (sample index, reason)
    decode_s: float
    crop_s: float


class _CropItems(Dataset):
    """Index -> _Item. Errors travel back instead of raising, so the main process can name the file."""

    def __init__(self, folder: ImageFolderSet, transform: EvalTransform) -> None:
        self.folder, self.transform = folder, transform

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, i: int) -> _Item:
        in_main = torch.utils.data.get_worker_info() is None
        try:
            with _one_thread() if in_main else contextlib.nullcontext():
                crops, t_load, t_cut = self.transform.timed(self.folder.path(i))
            return _Item(i, crops, None, t_load, t_cut)
        except Exception as exc:
            return _Item(i, None, " ".join(f"{type(exc).__name__}: {exc}".split()), 0.0, 0.0)


def _collate(items: list[_Item]) -> _Batch:
    good = [it for it in items if it.crops is not None]
    return _Batch(
        torch.tensor([it.index for it in good], dtype=torch.int64),
        torch.stack([it.crops for it in good]) if good else None,  # type: ignore[misc]
        [(it.index, it.error) for it in items if it.crops is None],  # type: ignore[misc]
        sum(it.decode_s for it in items),
        sum(it.crop_s for it in items),
    )


def logits_of(out: object) -> torch.Tensor:
    """The model's scores. Inception-style models return (logits, aux) in some modes; the main head comes first."""
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ZooError(f"the model returned {type(out).__name__}, not a tensor of logits")
    return out


def average_crops(logits: torch.Tensor, how: str) -> torch.Tensor:
    """(images, crops, classes) logits -> (images, classes) probabilities.

    softmax: the mean of each crop's softmax (the default); logits: the softmax of the mean logit.
    """
    logits = logits.float()
    if how == "softmax":
        return logits.softmax(-1).mean(1)
    if how == "logits":
        return logits.mean(1).softmax(-1)
    raise ZooError(f"average must be {' or '.join(AVERAGING)}, not {how!r}")


@dataclass(frozen=True)
class LoopTimes:
    """Seconds one rank spent: wall, waiting for images, in the model (and normalising), and the loader's CPU
    seconds decoding + resizing and cutting crops."""

    wall_s: float = 0.0
    data_wait_s: float = 0.0
    model_s: float = 0.0
    decode_s: float = 0.0
    crop_s: float = 0.0

    @staticmethod
    def over_ranks(times: list[LoopTimes]) -> LoopTimes:
        """The job's times: the slowest rank's wall, the other times summed over ranks."""
        return LoopTimes(
            max(t.wall_s for t in times),
            sum(t.data_wait_s for t in times),
            sum(t.model_s for t in times),
            sum(t.decode_s for t in times),
            sum(t.crop_s for t in times),
        )


@dataclass
class RankPart:
    """One rank's results: its evaluated sample indices with their top-k and probabilities, its unreadable images,
    the error that stopped it (if any) and its times."""

    index: np.ndarray  # (n,) int64
    top: np.ndarray  # (n, k) int64
    prob: np.ndarray  # (n, k) float32
    bad: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None
    times: LoopTimes = field(default_factory=LoopTimes)


class _Collected:
    """Per-batch results of one rank, concatenated at the end."""

    def __init__(self, k: int) -> None:
        self.k, self.index, self.top, self.prob = k, [], [], []

    def add(self, index: torch.Tensor, prob: torch.Tensor, top: torch.Tensor) -> None:
        self.index.append(index)
        self.top.append(top.cpu())
        self.prob.append(prob.cpu())

    def part(self, bad: list, error: str | None, times: LoopTimes) -> RankPart:
        k = self.k
        return RankPart(
            torch.cat(self.index).numpy() if self.index else np.zeros(0, np.int64),
            torch.cat(self.top).numpy() if self.top else np.zeros((0, k), np.int64),
            torch.cat(self.prob).float().numpy() if self.prob else np.zeros((0, k), np.float32),
            bad,
            error,
            times,
        )


def _predict(net: nn.Module, name: str, x: torch.Tensor, cfg: EvalConfig, dev: torch.device, k: int):
    """uint8 (images, crops, 3, h, w) -> the top-k (probabilities, classes) of each image's averaged crops."""
    n_img, crops = x.shape[0], x.shape[1]
    x = cfg.transform.normalize(x.to(dev, non_blocking=True).flatten(0, 1))  # type: ignore[union-attr]
    with torch.inference_mode(), cfg.autocast, guarded(f"{name}: forward"):
        logits = logits_of(net(x))
    return average_crops(logits.view(n_img, crops, -1), cfg.average).topk(k, dim=1)


def run_shard(
    net: nn.Module,
    name: str,
    folder: ImageFolderSet,
    mine: range,
    cfg: EvalConfig,
    dev: torch.device,
    workers: int,
    task: Task,
) -> RankPart:
    """Evaluate this rank's samples (advancing `task` by images). A bad image (without skip_bad) or a failing model
    stops this rank and is returned as its error, so every rank hears of it at the next gather."""
    k = min(5, len(folder.classes))
    loader = DataLoader(
        _CropItems(folder, cfg.transform),  # type: ignore[arg-type]
        batch_size=cfg.batch_size,
        sampler=list(mine),
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=dev.type == "cuda",
        prefetch_factor=4 if workers else None,
    )
    got, bad, error = _Collected(k), [], None
    data_wait = model_s = decode_s = crop_s = 0.0
    start = time.perf_counter()
    batches = iter(loader)
    try:
        while True:
            t0 = time.perf_counter()
            with guarded("reading images"):  # a loader worker killed or out of memory
                batch = next(batches, None)
            if batch is None:
                break
            t1 = time.perf_counter()
            data_wait, decode_s, crop_s = data_wait + t1 - t0, decode_s + batch.decode_s, crop_s + batch.crop_s
            if batch.bad and not cfg.skip_bad:
                i, reason = batch.bad[0]
                error = (
                    f"cannot read image {str(folder.path(i))!r}: {reason} "
                    "(skip_bad=True skips unreadable images and counts them)"
                )
                break
            bad.extend(batch.bad)
            if batch.crops is not None:
                got.add(batch.index, *_predict(net, name, batch.crops, cfg, dev, k))
            model_s += time.perf_counter() - t1
            task.advance(len(batch.index) + len(batch.bad))
    except ZooError as exc:
        error = str(exc)
    finally:
        del batches  # stops the loader workers now, not at garbage collection
    times = LoopTimes(time.perf_counter() - start, data_wait, model_s, decode_s, crop_s)
    return got.part(bad, error, times)


def merge(folder: ImageFolderSet, parts: list[RankPart]) -> tuple[Predictions, list[tuple[str, str]]]:
    """Place every rank's predictions at their sample indices; check that each image is accounted for once."""
    n, k = len(folder), parts[0].top.shape[1]
    labels = np.array([label for _, label in folder.samples], dtype=np.int64)
    top = np.full((n, k), -1, dtype=np.int64)
    prob = np.full((n, k), np.nan, dtype=np.float32)
    seen = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    skipped: list[tuple[str, str]] = []
    for p in parts:
        top[p.index] = p.top
        prob[p.index] = p.prob
        ok[p.index] = True
        np.add.at(seen, p.index, 1)
        for i, reason in p.bad:
            seen[i] += 1
            skipped.append((folder.samples[i][0], reason))
    if not (seen == 1).all():
        raise RuntimeError(f"{int((seen == 0).sum())} images unseen and {int((seen > 1).sum())} seen twice")
    return Predictions([f for f, _ in folder.samples], labels, top, prob, ok), sorted(skipped)
