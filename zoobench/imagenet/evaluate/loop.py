"""The batch loop of one rank: decode and crop in loader workers, normalise once and run every model of the pass
here, keep the top-k; and how the rank's cores are shared between the loader and the models (loader_plan).

Loader workers send uint8 crops (a quarter of the float bytes); an unreadable image travels back as its reason, so
this process can name the file, or count it when skip_bad is set.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from zoobench.environment import usable_cores
from zoobench.errors import ZooError, guarded
from zoobench.imagenet.evaluate.config import AVERAGING, EvalConfig
from zoobench.imagenet.evaluate.dataset import ImageFolderSet
from zoobench.imagenet.evaluate.predictions import Predictions
from zoobench.imagenet.transforms import EvalTransform
from zoobench.output.progress import Task


@dataclass(frozen=True)
class LoaderPlan:
    """How one rank shares its cores: loader processes (decode + resize + crop) and torch threads (the models)."""

    workers: int
    threads: int
    rule: str  # why, for the result's notes


def loader_plan(workers: int | None, local_world: int, device_type: str) -> LoaderPlan:
    """Loader workers and torch threads chosen together, so that they never fight over the same cores.

    The cores are those this process may use, shared by the ranks of this machine. With `workers` given, it is
    kept and torch keeps its threads. Otherwise:
    - cuda: the models run on the GPU, so every core decodes: min(8, cores) workers;
    - cpu with at most 2 cores: no loader worker. Decoding, then the models on all their threads, one after the
      other: on 2 cores, 2 workers beside 2 model threads ran resnet50 at 9.1 images/s, serial at 15.7;
    - cpu with 3 or more: a quarter of the cores decode (1 to 8 workers), the rest run the models.
    Torch threads: torch's own count (its default: the physical cores), lowered to the cores left to the models;
    never raised, so a caller's torch.set_num_threads(1) stands.
    """
    cores = max(1, usable_cores() // max(1, local_world))
    now = torch.get_num_threads()
    if workers is not None:
        return LoaderPlan(workers, now, f"{workers} loader workers as asked, torch's {now} threads")
    if device_type == "cuda":
        n = min(8, cores)
        return LoaderPlan(n, now, f"{cores} cores: {n} loader workers, the models on the GPU")
    if cores <= 2:
        return LoaderPlan(0, min(now, cores), f"{cores} cores: images read in this process, then the models")
    n = min(8, max(1, cores // 4))
    return LoaderPlan(n, max(1, min(now, cores - n)), f"{cores} cores: {n} loader workers, the rest to the models")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to n for the loop, and put back after it."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
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
            # Image work in this process (no loader workers) on one thread, as a loader worker does it: small tensor
            # ops spread over OpenMP threads of a busy machine ran 10-400x slower here, not faster.
            with torch_threads(1) if in_main else contextlib.nullcontext():
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


@dataclass
class Member:
    """One model of a pass: its validated config (its transform is the pass's) and, once it failed, why."""

    net: nn.Module
    name: str
    cfg: EvalConfig
    got: _Collected | None = None
    error: str | None = None
    model_s: float = 0.0


def _predict(m: Member, x: torch.Tensor, dev: torch.device, k: int, mask: torch.Tensor | None):
    """Normalised float (images * crops, 3, h, w) -> the top-k (probabilities, classes) of each image's averaged
    crops; with `mask`, over those classes only (their logits, softmax over them), classes given as output indices."""
    n_img = len(x) // m.cfg.transform.crops  # type: ignore[union-attr]
    with torch.inference_mode(), m.cfg.autocast, guarded(f"{m.name}: forward"):
        logits = logits_of(m.net(x))
    if mask is not None:
        logits = logits[:, mask]
    prob, top = average_crops(logits.view(n_img, len(x) // n_img, -1), m.cfg.average).topk(k, dim=1)
    return prob, (mask[top] if mask is not None else top)


@dataclass(frozen=True)
class Pass:
    """What the models of one pass share: the images they see and how they are read."""

    transform: EvalTransform
    batch_size: int
    skip_bad: bool
    workers: int


def _loader(folder: ImageFolderSet, mine: range, how: Pass, dev: torch.device) -> DataLoader:
    return DataLoader(
        _CropItems(folder, how.transform),
        batch_size=how.batch_size,
        sampler=list(mine),
        num_workers=how.workers,
        collate_fn=_collate,
        pin_memory=dev.type == "cuda",
        prefetch_factor=4 if how.workers else None,
    )


def _feed(members: list[Member], batch: _Batch, dev: torch.device, k: int, mask: torch.Tensor | None) -> None:
    """One batch, normalised once, through every model still in the pass; a model that fails drops out."""
    x = members[0].cfg.transform.normalize(batch.crops.to(dev, non_blocking=True).flatten(0, 1))  # type: ignore
    for m in members:
        if m.error is not None:
            continue
        t0 = time.perf_counter()
        try:
            m.got.add(batch.index, *_predict(m, x, dev, k, mask))  # type: ignore[union-attr]
        except ZooError as exc:
            m.error = str(exc)
        m.model_s += time.perf_counter() - t0


def run_pass(
    members: list[Member], folder: ImageFolderSet, mine: range, how: Pass, dev: torch.device, task: Task
) -> tuple[list[RankPart], str | None]:
    """This rank's samples, each image read once, through every model of `members` (advancing `task` by images).

    Returns one part per model (a model whose forward failed carries its error: it left the pass, the others went
    on) and the data error that stopped the whole pass: a bad image without skip_bad, a dead loader worker, or every
    model failed. Errors are returned, not raised, so every rank hears of them at the next gather.
    """
    scored = folder.mask or range(len(folder.classes))
    k = min(5, len(scored))
    mask = None if folder.mask is None else torch.tensor(folder.mask, dtype=torch.int64, device=dev)
    for m in members:
        m.got, m.error, m.model_s = _Collected(k), None, 0.0
    bad, error = [], None
    data_wait = decode_s = crop_s = 0.0
    start = time.perf_counter()
    batches = iter(_loader(folder, mine, how, dev))
    try:
        while any(m.error is None for m in members):
            t0 = time.perf_counter()
            with guarded("reading images"):  # a loader worker killed or out of memory
                batch = next(batches, None)
            if batch is None:
                break
            data_wait += time.perf_counter() - t0
            decode_s, crop_s = decode_s + batch.decode_s, crop_s + batch.crop_s
            if batch.bad and not how.skip_bad:
                i, reason = batch.bad[0]
                error = (
                    f"cannot read image {str(folder.path(i))!r}: {reason} "
                    "(skip_bad=True skips unreadable images and counts them)"
                )
                break
            bad.extend(batch.bad)
            if batch.crops is not None:
                _feed(members, batch, dev, k, mask)
            task.advance(len(batch.index) + len(batch.bad))
    except ZooError as exc:
        error = str(exc)
    finally:
        del batches  # stops the loader workers now, not at garbage collection
    wall = time.perf_counter() - start
    parts = [
        m.got.part(bad, m.error, LoopTimes(wall, data_wait, m.model_s, decode_s, crop_s))  # type: ignore[union-attr]
        for m in members
    ]
    return parts, error


def merge(folder: ImageFolderSet, parts: list[RankPart]) -> tuple[Predictions, list[tuple[str, str]]]:
    """Place every rank's predictions (one model's) at their sample indices; check that each image is accounted for
    once."""
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
    targets = None
    if folder.targets is not None:
        targets = np.full((n, max(len(t) for t in folder.targets)), -1, dtype=np.int64)
        for i, t in enumerate(folder.targets):
            targets[i, : len(t)] = t
    return Predictions([f for f, _ in folder.samples], labels, top, prob, ok, targets), sorted(skipped)
