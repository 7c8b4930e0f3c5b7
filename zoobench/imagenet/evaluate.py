"""ImageNet evaluation: top-1 / top-5 with 1-, 5- or 10-crop, pretrained weights, exact distributed evaluation.

The data is the tree prepare-imagenet writes: OUT/val/<wnid>/*.JPEG with OUT/classes.json (a list of
{"index", "wnid", "words"}; index = the label the model predicts). Every class folder must match classes.json
exactly: torchvision's ImageFolder would silently shift every later label when one folder is missing.

Distributed (`torchrun --nproc-per-node N -m zoobench eval ...`): each rank takes one contiguous slice of the
sample indices, with no padding (the stock DistributedSampler repeats samples to even the ranks out, which changes
accuracy at some world sizes); predictions are gathered by sample index and rank 0 reports. gloo on CPU, nccl on GPU.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.imagenet.devkit import ClassInfo, read_classes
from zoobench.imagenet.transforms import CROPS, DECODERS, IMAGENET_MEAN, IMAGENET_STD, RESIZE_MODES, EvalTransform

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
AVERAGING = ("softmax", "logits")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
CI_METHOD = "Wilson score interval, 95%"
TORCHVISION_DEFAULT_WEIGHTS = "IMAGENET1K_V1"  # the original releases, trained as the papers did
OFFLINE_ENV = "ZOOBENCH_OFFLINE"  # set to 1: never download, read torch's hub cache only


# --- the image folder --------------------------------------------------------------------------------------------


def _some(names: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


@dataclass
class ImageFolderSet(Dataset):
    """(path, label) samples of a class-per-folder tree, labels from classes.json. Sample order: label, then name.

    Items are (transform(path), label); `transform` defaults to returning the path.
    """

    root: Path
    classes: list[ClassInfo]
    samples: list[tuple[str, int]]  # (path relative to root, label)
    classes_source: str
    ignored: int = 0  # non-image files and sub-folders inside class folders
    transform: Callable | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def path(self, i: int) -> Path:
        return self.root / self.samples[i][0]

    def __getitem__(self, i: int):
        path, label = self.root / self.samples[i][0], self.samples[i][1]
        return (self.transform(path) if self.transform else path), label


def find_classes_file(data: Path) -> Path | None:
    """OUT/classes.json for OUT/val (prepare-imagenet's layout), else one inside the folder itself."""
    for candidate in (data.parent / "classes.json", data / "classes.json"):
        if candidate.is_file():
            return candidate
    return None


def image_folder(
    root: str | Path,
    classes_file: str | Path | None = None,
    transform: Callable | None = None,
    warn: Callable[[str], None] | None = None,
) -> ImageFolderSet:
    """Scan OUT/val (or OUT/train) and check it against classes.json: no missing, extra or empty class folder."""
    root = Path(root)
    if not root.is_dir():
        raise ZooError(f"data folder {str(root)!r} does not exist or is not a folder")
    entries = [e for e in os.scandir(root) if not e.name.startswith(".")]
    folders = sorted(e.name for e in entries if e.is_dir())
    loose = sorted(e.name for e in entries if e.is_file() and e.name.lower().endswith(IMG_EXTENSIONS))
    if loose:
        raise ZooError(
            f"{str(root)!r} holds {len(loose)} images outside class folders ({_some(loose, 3)}): "
            "sort them into <wnid>/ folders first (zoobench prepare-imagenet does)"
        )
    path = Path(classes_file) if classes_file is not None else find_classes_file(root)
    if path is not None:
        classes = read_classes(path)
        source = str(path)
        wanted, have = {c.wnid for c in classes}, set(folders)
        missing = [c.wnid for c in classes if c.wnid not in have]
        extra = [f for f in folders if f not in wanted]
        if missing:
            raise ZooError(
                f"{str(root)!r} lacks {len(missing)} of the {len(classes)} class folders listed in {source} "
                f"({_some(missing)}): every later label would shift"
            )
        if extra:
            hint = (
                " (left by an unfinished prepare-imagenet run?)" if any(f.endswith(".partial") for f in extra) else ""
            )
            raise ZooError(f"{str(root)!r} has {len(extra)} class folders not in {source}: {_some(extra)}{hint}")
    else:
        if not folders:
            raise ZooError(f"{str(root)!r} has no class folders")
        classes = [ClassInfo(i, name, "") for i, name in enumerate(folders)]
        source = "sorted folder names (no classes.json)"
        if warn:
            warn(
                f"no classes.json beside or inside {str(root)!r}: labels follow the sorted folder names "
                f"({len(folders)} classes); a missing folder would go unnoticed"
            )
    samples: list[tuple[str, int]] = []
    ignored = 0
    for cls in classes:
        names = []
        for entry in os.scandir(root / cls.wnid):
            if entry.name.startswith("."):
                continue
            if entry.is_file() and entry.name.lower().endswith(IMG_EXTENSIONS):
                names.append(entry.name)
            else:
                ignored += 1
        if not names:
            raise ZooError(f"class folder {str(root / cls.wnid)!r} holds no images")
        samples.extend((f"{cls.wnid}/{name}", cls.index) for name in sorted(names))
    return ImageFolderSet(root, classes, samples, source, ignored, transform)


# --- distributed ---------------------------------------------------------------------------------------------------


def shard(n: int, world: int, rank: int) -> range:
    """Rank `rank`'s contiguous slice of range(n): every index exactly once over all ranks, sizes differ by <= 1."""
    return range(n * rank // world, n * (rank + 1) // world)


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    backend: str | None = None
    group: object = None  # a gloo group for gathering Python objects, whatever the main backend
    owned: bool = False  # we initialised the process group, so we tear it down

    def gather(self, obj: object) -> list:
        if self.world == 1:
            return [obj]
        out: list = [None] * self.world
        dist.all_gather_object(out, obj, group=self.group)
        return out


@contextlib.contextmanager
def _distributed(device_type: str) -> Iterator[_Dist]:
    """Join torchrun's process group (env://), or use one the caller already set up; single process otherwise."""
    env_world = int(os.environ.get("WORLD_SIZE", "1"))
    if not (dist.is_available() and (dist.is_initialized() or env_world > 1)):
        yield _Dist()
        return
    owned = not dist.is_initialized()
    if owned:
        backend = "nccl" if device_type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
        except Exception as exc:
            raise ZooError(f"cannot join the torchrun process group ({backend}): {exc}") from exc
    try:
        group = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        yield _Dist(
            rank=dist.get_rank(),
            world=dist.get_world_size(),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            local_world=int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
            backend=str(dist.get_backend()),
            group=group,
            owned=owned,
        )
    finally:
        if owned:
            dist.destroy_process_group()


class CollectiveError(ZooError):
    """A ZooError every rank knows about: rank 0 reports it, the others can leave quietly."""


def _collective(d: _Dist, step: Callable[[], object]) -> object:
    """Run a setup step on every rank; if it fails anywhere, fail everywhere with the same message.

    Without this, one rank's bad input (a node without the data, a failed download) leaves the others waiting at
    the next collective until the timeout.
    """
    if d.world == 1:
        return step()
    try:
        value, problem = step(), None
    except ZooError as exc:
        value, problem = None, str(exc)
    for rank, reported in enumerate(d.gather(problem)):
        if reported:
            raise CollectiveError(reported if rank == 0 else f"rank {rank}: {reported}")
    return value


def env_rank() -> int:
    """This process's global rank under torchrun (0 otherwise), readable before any process group exists."""
    return int(os.environ.get("RANK", "0"))


# --- weights -------------------------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _state_dict(obj: object, source: str) -> dict[str, torch.Tensor]:
    """A state_dict, or a checkpoint dict holding one under 'state_dict' or 'model'; DDP's 'module.' prefix dropped."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ZooError(f"{source} holds {type(obj).__name__}, not a state_dict (a dict of tensors)")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ZooError(f"{source} is not a state_dict: {_some([str(k) for k in bad], 3)} hold no tensor")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def load_state_dict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load; a mismatch names the missing and unexpected keys (and shape differences) in one line."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {_some(missing)}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {_some(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches ({len(shapes)}): {_some(shapes, 3)}")
        raise ZooError(f"{source} does not fit the model: {'; '.join(parts)}")
    model.load_state_dict(state, strict=True)


def _torch_load(path: Path, source: str) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ZooError(f"weights file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ZooError(f"weights file {str(path)!r} is a directory") from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Weights only load failed" in str(exc):
            raise ZooError(
                f"{source} holds more than tensors (a pickled model object?); save model.state_dict() instead"
            ) from exc
        raise ZooError(f"cannot read {source}: not a file written by torch.save ({first})") from exc


def _torchvision_name(spec: registry.ModelSpec | None) -> str:
    if spec is not None and spec.torchvision:
        return spec.torchvision
    if spec is not None and spec.external and spec.family == "torchvision":
        return spec.name.split(":", 1)[1]
    name = spec.name if spec is not None else "this model"
    twins = [s.name for s in registry.all_specs() if s.torchvision]
    raise ZooError(
        f"{name} has no torchvision twin, so --weights torchvision cannot apply; "
        f"models with one: {_some(twins, 8) or 'none'}; or pass --weights PATH"
    )


def torchvision_weights(tv_name: str, which: str | None = None):
    """torchvision's weights enum member for a model (IMAGENET1K_V1 unless `which` names another)."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(tv_name)
    except Exception as exc:
        raise ZooError(f"torchvision publishes no weights for {tv_name!r}") from exc
    which = which or TORCHVISION_DEFAULT_WEIGHTS
    names = [w.name for w in enum]
    if which not in names:
        raise ZooError(f"torchvision has no weights {which!r} for {tv_name}; choose one of {', '.join(names)}")
    return enum[which]


def torchvision_cache_file(weights) -> Path:
    """Where torch's hub cache keeps these weights (TORCH_HOME/hub/checkpoints/<file name of the URL>)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def _download(url: str, dst: Path, progress: bool) -> None:
    import re

    dst.parent.mkdir(parents=True, exist_ok=True)
    match = re.search(r"-([a-f0-9]+)\.", dst.name)  # torchvision names files <model>-<sha256 prefix>.pth
    torch.hub.download_url_to_file(url, str(dst), match.group(1) if match else None, progress=progress)


@dataclass
class WeightsSource:
    """What --weights names, resolved but not yet read: nothing (random init), a file, or torchvision's weights."""

    label: str  # "random init", the path as given, or torchvision:<ENUM NAME>
    path: Path | None = None
    tv: object = None  # torchvision's weights enum member
    tv_name: str | None = None


@dataclass
class WeightsInfo:
    label: str
    file: str | None = None
    sha256: str | None = None
    published_top1: float | None = None
    published_top5: float | None = None
    published_source: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def random(self) -> bool:
        return self.file is None


def resolve_weights(spec: registry.ModelSpec | None, weights: str | Path | None) -> WeightsSource:
    if weights is None:
        return WeightsSource("random init")
    text = str(weights)
    if text == "torchvision" or text.startswith("torchvision:"):
        tv_name = _torchvision_name(spec)
        tv = torchvision_weights(tv_name, text.partition(":")[2] or None)
        return WeightsSource(f"torchvision:{tv.name}", torchvision_cache_file(tv), tv, tv_name)
    path = Path(text)
    if not path.is_file():
        raise ZooError(f"weights file {text!r} does not exist (or pass --weights torchvision)")
    return WeightsSource(text, path)


def _not_cached(src: WeightsSource, why: str) -> ZooError:
    url = src.tv.url  # type: ignore[attr-defined]
    return ZooError(
        f"torchvision weights {src.tv_name}/{src.tv.name} are not in torch's hub cache ({src.path}) and {why}; "  # type: ignore[attr-defined]
        f"copy {os.path.basename(url)} from {url} there, or pass --weights PATH"
    )


def fetch_weights(src: WeightsSource, *, may_download: bool = True, progress: bool = False) -> None:
    """Put torchvision's file into the hub cache when it is missing: downloaded unless ZOOBENCH_OFFLINE is set.

    Under torchrun one process per machine downloads (`may_download`); the others wait at the next collective.
    """
    if src.tv is None or src.path.is_file():
        return
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise _not_cached(src, f"{OFFLINE_ENV} is set, so nothing is downloaded")
    if may_download:
        try:
            _download(src.tv.url, src.path, progress)  # type: ignore[attr-defined]
        except Exception as exc:  # offline, proxy, hash mismatch: all mean "not available"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise _not_cached(src, f"the download failed ({type(exc).__name__}: {first})") from exc


def apply_weights(model: nn.Module, src: WeightsSource) -> WeightsInfo:
    """Read the file and load it strictly into `model`; record its sha256 (and torchvision's published accuracy)."""
    if src.path is None:
        return WeightsInfo("random init")
    if not src.path.is_file():
        raise _not_cached(src, "was not downloaded")
    info = WeightsInfo(src.label, file=str(src.path.resolve()), sha256=sha256(src.path))
    source = f"cached file {src.path}" if src.tv is not None else f"weights file {src.label!r}"
    load_state_dict(model, _state_dict(_torch_load(src.path, source), source), source)
    if src.tv is not None:
        # torch.hub checks the hash only when it downloads; check a cached file here too.
        prefix = src.path.name.rsplit("-", 1)[-1].split(".")[0]
        if prefix and not info.sha256.startswith(prefix):
            info.warnings.append(
                f"cached {src.path} has sha256 {info.sha256[:12]}..., not the {prefix} its name promises"
            )
        metrics = src.tv.meta.get("_metrics", {}).get("ImageNet-1K", {})  # type: ignore[attr-defined]
        info.published_top1, info.published_top5 = metrics.get("acc@1"), metrics.get("acc@5")
        info.published_source = f"torchvision {src.tv_name} {src.tv.name}"  # type: ignore[attr-defined]
    return info


def load_weights(
    model: nn.Module, spec: registry.ModelSpec | None, weights: str | Path | None, *, progress: bool = False
) -> WeightsInfo:
    """Load `weights` into `model`: None (keep the random init), a file, or "torchvision[:ENUM]"."""
    src = resolve_weights(spec, weights)
    fetch_weights(src, progress=progress)
    return apply_weights(model, src)


# --- statistics ----------------------------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials, in percent; (nan, nan) when n is 0."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def average_crops(logits: torch.Tensor, how: str) -> torch.Tensor:
    """(images, crops, classes) logits -> (images, classes) probabilities.

    softmax: the mean of each crop's softmax (the default); logits: the softmax of the mean logit.
    """
    logits = logits.float()
    if how == "softmax":
        return logits.softmax(-1).mean(1)
    if how == "logits":
        return logits.mean(1).softmax(-1)
    raise ValueError(f"average must be one of {AVERAGING}, not {how!r}")


# --- the loop ------------------------------------------------------------------------------------------------------


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


class _CropItems(Dataset):
    """Index -> (index, uint8 crops or None, error or None, decode s, crop s). Errors travel back instead of
    raising, so the main process can name the file, or count it with --skip-bad."""

    def __init__(self, folder: ImageFolderSet, transform: EvalTransform) -> None:
        self.folder, self.transform = folder, transform

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, i: int):
        in_main = torch.utils.data.get_worker_info() is None
        try:
            with _one_thread() if in_main else contextlib.nullcontext():
                crops, t_load, t_cut = self.transform.timed(self.folder.path(i))
            return i, crops, None, t_load, t_cut
        except Exception as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            return i, None, reason, 0.0, 0.0


def _collate(items: list) -> tuple:
    good = [it for it in items if it[1] is not None]
    index = torch.tensor([it[0] for it in good], dtype=torch.int64)
    crops = torch.stack([it[1] for it in good]) if good else None
    bad = [(it[0], it[2]) for it in items if it[1] is None]
    return index, crops, bad, sum(it[3] for it in items), sum(it[4] for it in items)


def _logits(out: object) -> torch.Tensor:
    # Inception-style models return (logits, aux) in some modes; the main head comes first.
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ZooError(f"the model returned {type(out).__name__}, not a tensor of logits")
    return out


def _device(device: str, d: _Dist) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ZooError(f"bad --device {device!r}: {exc}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ZooError(f"--device {device}: CUDA is not available here (torch {torch.__version__}, no usable GPU)")
        if d.world > 1 and dev.index is None:
            dev = torch.device("cuda", d.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    elif dev.type != "cpu":
        raise ZooError(f"--device takes cpu or cuda[:N], not {device!r}")
    return dev


def _progress(enabled: bool):
    """A rich progress bar on stderr, only when stderr is a terminal (a log file gets no bar fragments)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        return contextlib.nullcontext(None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@dataclass
class Predictions:
    """Per image, in sample order: label, top-k class indices and their probabilities (-1 / nan when skipped)."""

    files: list[str]
    labels: np.ndarray
    top: np.ndarray  # (N, k) int64
    prob: np.ndarray  # (N, k) float32
    ok: np.ndarray  # (N,) bool: False for skipped images

    def correct(self, k: int) -> np.ndarray:
        return (self.top[:, :k] == self.labels[:, None]).any(1) & self.ok


@dataclass
class EvalResult:
    row: dict
    predictions: Predictions
    skipped: list[tuple[str, str]]  # (file, reason)
    notes: list[str]
    classes: list[ClassInfo]
    rank: int = 0

    @property
    def rows(self) -> list[dict]:
        return [self.row]

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _stderr(msg: str) -> None:
    print(f"zoobench: warning: {msg}", file=sys.stderr, flush=True)


@dataclass
class _Settings:
    """The checked options of one evaluation."""

    transform: EvalTransform
    average: str
    dtype: str
    batch_size: int
    skip_bad: bool


def _check_options(crops: int, resize: str, average: str, dtype: str, decoder: str, batch_size: int | None) -> None:
    if crops not in CROPS:
        raise ZooError(f"--crops takes 1, 5 or 10, not {crops}")
    if resize not in RESIZE_MODES:
        raise ZooError(f"--resize takes {' or '.join(RESIZE_MODES)}, not {resize!r}")
    if average not in AVERAGING:
        raise ZooError(f"--average takes {' or '.join(AVERAGING)}, not {average!r}")
    if dtype not in DTYPES:
        raise ZooError(f"--dtype takes {', '.join(DTYPES)}, not {dtype!r}")
    if decoder not in DECODERS:
        raise ZooError(f"--decoder takes {' or '.join(DECODERS)}, not {decoder!r}")
    if batch_size is not None and batch_size < 1:
        raise ZooError("--batch-size must be at least 1")


def _build(spec: registry.ModelSpec | None, model: str | nn.Module, name: str) -> nn.Module:
    if spec is None:
        return model  # type: ignore[return-value]
    try:
        return spec.build()
    except ZooError:
        raise
    except Exception as exc:
        raise ZooError(f"cannot build {name}: {type(exc).__name__}: {exc}") from exc


def _probe(net: nn.Module, name: str, size: int, dev: torch.device, autocast, n_classes: int, source: str) -> None:
    """One forward on a blank input: a head of the wrong size is refused before any image is read."""
    with torch.inference_mode(), autocast:
        try:
            out = _logits(net(torch.zeros(1, 3, size, size, device=dev)))
        except ZooError:
            raise
        except Exception as exc:
            msg = " ".join(str(exc).split())[:200]
            raise ZooError(f"{name} fails on a 1x3x{size}x{size} input: {msg}") from exc
    if out.ndim != 2 or out.shape[1] != n_classes:
        raise ZooError(f"{name} outputs {tuple(out.shape[1:])} scores per image but {source} has {n_classes} classes")


def _default_workers(local_world: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(8, max(1, cores // max(1, local_world)))


def _run(
    net: nn.Module,
    folder: ImageFolderSet,
    mine: range,
    s: _Settings,
    dev: torch.device,
    workers: int,
    bar_label: str | None,
) -> dict:
    """Evaluate this rank's samples. Returns its part: sample indices, top-k, probabilities, skips, an error, times."""
    crops = s.transform.crops
    k = min(5, len(folder.classes))
    autocast = torch.autocast(dev.type, dtype=DTYPES[s.dtype], enabled=s.dtype != "fp32")
    loader = DataLoader(
        _CropItems(folder, s.transform),
        batch_size=s.batch_size,
        sampler=list(mine),
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=dev.type == "cuda",
        prefetch_factor=4 if workers else None,
    )
    got_index, got_top, got_prob, bad = [], [], [], []
    data_wait = model_s = decode_s = crop_s = 0.0
    error = None
    done = 0
    start = time.perf_counter()
    with _progress(bar_label is not None) as bar:
        task = bar.add_task(bar_label, total=len(mine), rate="") if bar else None
        batches = iter(loader)
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            if batch is None:
                break
            index, x, bad_items, t_dec, t_cut = batch
            t1 = time.perf_counter()
            data_wait += t1 - t0
            decode_s += t_dec
            crop_s += t_cut
            for i, reason in bad_items:
                if not s.skip_bad:
                    error = (
                        f"cannot read image {str(folder.path(i))!r}: {reason} "
                        "(--skip-bad skips unreadable images and counts them)"
                    )
                    break
                bad.append((i, reason))
            if error:
                break
            if x is not None:
                n_img = x.shape[0]
                x = s.transform.normalize(x.to(dev, non_blocking=True).flatten(0, 1))  # uint8 travels, float here
                with torch.inference_mode(), autocast:
                    logits = _logits(net(x))
                p, top = average_crops(logits.view(n_img, crops, -1), s.average).topk(k, dim=1)
                got_index.append(index)
                got_top.append(top.cpu())
                got_prob.append(p.cpu())
            model_s += time.perf_counter() - t1
            done += len(index) + len(bad_items)
            if bar:
                bar.update(task, completed=done, rate=f"{done / (time.perf_counter() - start):.1f} img/s")
    wall = time.perf_counter() - start
    return {
        "index": torch.cat(got_index).numpy() if got_index else np.zeros(0, np.int64),
        "top": torch.cat(got_top).numpy() if got_top else np.zeros((0, k), np.int64),
        "prob": torch.cat(got_prob).float().numpy() if got_prob else np.zeros((0, k), np.float32),
        "bad": bad,
        "error": error,
        "times": (wall, data_wait, model_s, decode_s, crop_s),
    }


def _merge(folder: ImageFolderSet, parts: list[dict], k: int) -> tuple[Predictions, list[tuple[str, str]]]:
    """Place every rank's predictions at their sample indices; check that each image is accounted for once."""
    n = len(folder)
    labels = np.array([label for _, label in folder.samples], dtype=np.int64)
    top = np.full((n, k), -1, dtype=np.int64)
    prob = np.full((n, k), np.nan, dtype=np.float32)
    seen = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    skipped: list[tuple[str, str]] = []
    for p in parts:
        top[p["index"]] = p["top"]
        prob[p["index"]] = p["prob"]
        ok[p["index"]] = True
        np.add.at(seen, p["index"], 1)
        for i, reason in p["bad"]:
            seen[i] += 1
            skipped.append((folder.samples[i][0], reason))
    if not (seen == 1).all():
        raise RuntimeError(f"{int((seen == 0).sum())} images unseen and {int((seen > 1).sum())} seen twice")
    return Predictions([f for f, _ in folder.samples], labels, top, prob, ok), sorted(skipped)


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
    progress: bool = False,
    warn: Callable[[str], None] | None = _stderr,
) -> EvalResult:
    """Top-1 / top-5 accuracy of `model` (a zoo name, alias, torchvision:<name>, module:callable, or a module) on
    an ImageNet-style folder. Returns the result on every rank; under torchrun only rank 0 warns and writes.

    crops 1/5/10; resize "shorter" (shorter side to resize_size) or "square"; resolution scales crop and resize
    together (crop r inside round(r * 256 / 224)); average "softmax" (mean of crop probabilities) or "logits".
    batch_size counts images (default: 64 crops' worth); workers default to the cores this rank may use.
    """
    _check_options(crops, resize, average, dtype, decoder, batch_size)
    spec = None if isinstance(model, nn.Module) else registry.get_spec(model)
    name = type(model).__name__ if spec is None else spec.name
    if native_resolution and resolution is not None:
        raise ZooError("give --resolution or --native-resolution, not both")
    crop_size = (spec.resolution if spec else 224) if native_resolution else (resolution or 224)
    try:
        transform = EvalTransform(crops, crop_size, resize_size, resize, decoder, tuple(mean), tuple(std))
    except ValueError as exc:
        raise ZooError(str(exc)) from exc
    s = _Settings(transform, average, dtype, batch_size or max(1, 64 // crops), skip_bad)
    if str(device).startswith("cuda") and not torch.cuda.is_available():  # before any nccl process group
        raise ZooError(f"--device {device}: CUDA is not available here (torch {torch.__version__}, no usable GPU)")

    with _distributed("cuda" if str(device).startswith("cuda") else "cpu") as d:
        say = warn if d.rank == 0 else None

        def setup() -> tuple:
            folder = image_folder(data, classes_file, warn=say)
            return folder, _device(device, d), _build(spec, model, name), resolve_weights(spec, weights)

        folder, dev, net, source = _collective(d, setup)  # type: ignore[misc]
        _collective(d, lambda: fetch_weights(source, may_download=d.local_rank == 0, progress=progress and bool(say)))
        n_classes = len(folder.classes)
        autocast = torch.autocast(dev.type, dtype=DTYPES[dtype], enabled=dtype != "fp32")

        def ready() -> WeightsInfo:
            info = apply_weights(net, source)
            net.to(dev).eval()
            _probe(net, name, crop_size, dev, autocast, n_classes, folder.classes_source)
            return info

        winfo: WeightsInfo = _collective(d, ready)  # type: ignore[assignment]
        if say:
            for w in winfo.warnings:
                say(w)
            if winfo.random:
                chance = f"~{100 / n_classes:.2g}% top-1"
                say(f"{name} is randomly initialised (no --weights): expect chance level ({chance})")
        workers = _default_workers(d.local_world) if workers is None else workers
        label = f"{name} {crops}-crop" + (f" (rank 0 of {d.world})" if d.world > 1 else "")
        part = _run(
            net, folder, shard(len(folder), d.world, d.rank), s, dev, workers, label if say and progress else None
        )
        parts = d.gather(part)
        errors = [p["error"] for p in parts if p["error"]]
        if errors:
            raise (CollectiveError if d.world > 1 else ZooError)(errors[0])
        world, rank, backend = d.world, d.rank, d.backend

    k = min(5, n_classes)
    preds, skipped = _merge(folder, parts, k)
    times = np.array([p["times"] for p in parts])  # (world, 5): wall, data wait, model, decode + resize, crop
    wall = float(times[:, 0].max())
    n, evaluated = len(folder), int(preds.ok.sum())
    c1, c5 = int(preds.correct(1).sum()), int(preds.correct(k).sum())
    top1_lo, top1_hi = wilson(c1, evaluated)
    top5_lo, top5_hi = wilson(c5, evaluated)
    if winfo.published_source:
        published = (winfo.published_top1, winfo.published_top5, winfo.published_source)
    elif spec is not None and spec.accuracy and not winfo.random:
        published = (spec.accuracy.top1, spec.accuracy.top5, f"paper: {spec.accuracy.source}")
    else:
        published = (None, None, None)
    row = {
        "model": name,
        "weights": winfo.label,
        "random_init": winfo.random,
        "weights_file": winfo.file,
        "weights_sha256": winfo.sha256,
        **transform.describe(),
        "average": average,
        "top1": 100 * c1 / evaluated if evaluated else math.nan,
        "top1_lo": top1_lo,
        "top1_hi": top1_hi,
        "top5": 100 * c5 / evaluated if evaluated else math.nan,
        "top5_lo": top5_lo,
        "top5_hi": top5_hi,
        "top5_k": k,
        "ci": CI_METHOD,
        "correct1": c1,
        "correct5": c5,
        "images": evaluated,
        "skipped": len(skipped),
        "dataset_images": n,
        "classes": n_classes,
        "classes_source": folder.classes_source,
        "ignored_entries": folder.ignored,
        "data": str(Path(data)),
        "images_per_s": n / wall if wall > 0 else math.nan,
        "wall_s": wall,
        "data_wait_s": float(times[:, 1].sum()),
        "model_s": float(times[:, 2].sum()),
        "decode_s": float(times[:, 3].sum()),
        "crop_s": float(times[:, 4].sum()),
        "device": str(dev) if world == 1 else f"{dev.type} x{world}",
        "dtype": dtype,
        "autocast": dtype != "fp32",
        "batch_size": s.batch_size,
        "workers": workers,
        "world_size": world,
        "backend": backend,
        "published_top1": published[0],
        "published_top5": published[1],
        "published_source": published[2],
    }
    if dev.type == "cuda":
        row["gpu"] = torch.cuda.get_device_name(dev)
    result = EvalResult(row, preds, skipped, _notes(row, skipped), folder.classes, rank)
    if predictions is not None and rank == 0:
        write_predictions(predictions, result)
    return result


def _notes(row: dict, skipped: list[tuple[str, str]]) -> list[str]:
    """The settings in sentences, for the Markdown footnotes and the JSON document."""
    geometry = {1: "centre crop", 5: "corners + centre", 10: "corners + centre and their horizontal flips"}
    notes = [
        f"Top-1/Top-5: % of {row['images']:,} images of {row['data']} ({row['classes']} classes, labels from "
        f"{row['classes_source']}); the brackets are the {CI_METHOD}.",
        f"{row['crops']}-crop: {row['resize']}, then {row['crop_size']}x{row['crop_size']} {geometry[row['crops']]}; "
        f"{row['interpolation']}; decoder {row['decoder']}; crops averaged as "
        + ("softmax probabilities." if row["average"] == "softmax" else "logits, then softmax."),
        f"Weights: {row['weights']}" + (f" (sha256 {row['weights_sha256']})." if row["weights_sha256"] else "."),
        f"Images/s: {row['dataset_images']:,} images / {row['wall_s']:.1f} s wall on {row['device']}, {row['dtype']}, "
        f"batch {row['batch_size']} images, loader workers per process: {row['workers']}; decode + resize took "
        f"{row['decode_s']:.1f} CPU s, normalising and the model {row['model_s']:.1f} s.",
    ]
    if row["random_init"]:
        notes.append("The model is randomly initialised (no --weights): these accuracies are chance level.")
    if skipped:
        notes.append(
            f"{len(skipped)} unreadable images were skipped (--skip-bad) and left out of both denominators: "
            + _some([f for f, _ in skipped], 5)
        )
    if row["top5_k"] < 5:
        notes.append(f"Only {row['classes']} classes: 'top-5' is top-{row['top5_k']}.")
    if row["published_source"]:
        notes.append(
            f"Published: top-1 {row['published_top1']}, top-5 {row['published_top5']} ({row['published_source']})."
        )
    return notes


# --- predictions files ---------------------------------------------------------------------------------------------


def write_predictions(path: str | Path, result: EvalResult) -> None:
    """Each image's label and top-5 classes with probabilities, atomically: CSV, or JSON when the name ends .json."""
    from zoobench.output.files import atomic_write

    p = result.predictions
    k = p.top.shape[1]
    wnids = [c.wnid for c in result.classes]
    path = Path(path)
    if path.suffix.lower() == ".json":
        doc = {
            "settings": {key: v for key, v in result.row.items() if not isinstance(v, float) or math.isfinite(v)},
            "classes": wnids,
            "predictions": [
                {
                    "index": i,
                    "file": p.files[i],
                    "label": int(p.labels[i]),
                    "status": "ok" if p.ok[i] else "skipped",
                    "top": [int(c) for c in p.top[i]] if p.ok[i] else [],
                    "prob": [float(f"{v:.9g}") for v in p.prob[i]] if p.ok[i] else [],
                }
                for i in range(len(p.files))
            ],
        }
        atomic_write(path, json.dumps(doc, indent=1) + "\n")
        return
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(
        [
            "index",
            "file",
            "label",
            "wnid",
            "status",
            *(f"top{j + 1}" for j in range(k)),
            *(f"p{j + 1}" for j in range(k)),
        ]
    )
    for i, file in enumerate(p.files):
        ok = bool(p.ok[i])
        tail = [*(int(c) for c in p.top[i]), *(f"{v:.9g}" for v in p.prob[i])] if ok else [""] * (2 * k)
        out.writerow([i, file, int(p.labels[i]), wnids[p.labels[i]], "ok" if ok else "skipped", *tail])
    atomic_write(path, buf.getvalue())


def rescore(path: str | Path) -> dict:
    """Top-1 / top-5 (%, with counts) recomputed from a predictions file written by `evaluate`."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        items = json.loads(path.read_text())["predictions"]
        rows = [(it["label"], it["top"]) for it in items if it["status"] == "ok"]
    else:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            cols = [c for c in reader.fieldnames or [] if c.startswith("top")]
            rows = [(int(r["label"]), [int(r[c]) for c in cols]) for r in reader if r["status"] == "ok"]
    n = len(rows)
    c1 = sum(1 for label, top in rows if top[:1] == [label])
    c5 = sum(1 for label, top in rows if label in top[:5])
    return {
        "images": n,
        "correct1": c1,
        "correct5": c5,
        "top1": 100 * c1 / n if n else math.nan,
        "top5": 100 * c5 / n if n else math.nan,
    }
