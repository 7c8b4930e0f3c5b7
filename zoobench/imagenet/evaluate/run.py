"""evaluate(): options checked, the model built and loaded on every rank, this rank's shard run, the results gathered
and returned as typed parts, with the flat row (one value per column) that the writers print built from them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import torch
from torch import nn

from zoobench import backends, registry
from zoobench.errors import ZooError, guarded
from zoobench.imagenet.devkit import ClassInfo
from zoobench.imagenet.evaluate import labelsets
from zoobench.imagenet.evaluate.config import EvalConfig, checked_output
from zoobench.imagenet.evaluate.dataset import ImageFolderSet
from zoobench.imagenet.evaluate.distributed import CollectiveError, Ranks, collective, joined, shard
from zoobench.imagenet.evaluate.loop import (
    LoaderPlan,
    LoopTimes,
    Member,
    Pass,
    RankPart,
    loader_plan,
    logits_of,
    merge,
    run_pass,
    torch_threads,
)
from zoobench.imagenet.evaluate.predictions import Predictions, write_predictions
from zoobench.imagenet.evaluate.stats import CI_METHOD, Accuracy
from zoobench.imagenet.evaluate.weights import (
    WeightsInfo,
    WeightsSource,
    apply_weights,
    fetch_weights,
    released_recipe,
    resolve_weights,
)
from zoobench.output.progress import SILENT, Progress


@dataclass(frozen=True)
class DataInfo:
    path: str
    images: int  # in the folder, skipped ones included
    classes: int
    classes_source: str
    ignored: int  # non-image entries inside class folders
    labels: str = "imagenet"  # the label set scored (labelsets.LABEL_SETS)
    left_out: int = 0  # images of the folder not scored (ReaL: without a real label), not in `images`


@dataclass(frozen=True)
class RunInfo:
    device: str
    dtype: str
    batch_size: int
    workers: int
    world: int
    backend: str | None
    gpu: str | None
    threads: int = 0  # torch threads while the models ran
    plan: str = ""  # why these workers and threads (loop.loader_plan)
    models_in_pass: int = 1  # models fed from the same decoded images (they share the wall time)


@dataclass(frozen=True)
class Published:
    """The accuracy the weights' publisher reports (torchvision's metadata, or the paper for the zoo's own)."""

    top1: float | None = None
    top5: float | None = None
    source: str | None = None
    protocol: str | None = None  # crops, resolution and publisher ('1-crop 224 (torchvision)')


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
    backend: dict = field(default_factory=dict)  # --backend: zoobench.backends.Prepared.report() of its conversion

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
            "labels": self.data.labels,
            "left_out": self.data.left_out,
            **_data_columns(self.data),
            **_time_columns(self.times, self.data.images),
            **_run_columns(self.run),
            "published_top1": self.published.top1,
            "published_top5": self.published.top5,
            "published_source": self.published.source,
            "published_protocol": self.published.protocol,
            "preprocess": self.config.recipe_from,
            "recipe": self.config.recipe.origin if self.config.recipe else None,
            "recipe_overrides": ", ".join(self.config.overrides),
            "seed": self.config.seed,
            **({"gpu": self.run.gpu} if self.run.gpu else {}),
            **{k: v for k, v in self.backend.items() if k != "backend_warnings"},
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
        "torch_threads": r.threads,
        "loader_plan": r.plan,
        "models_in_pass": r.models_in_pass,
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


def _build(
    spec: registry.ModelSpec | None, model: str | nn.Module, name: str, build: dict | None = None, seed: int = 0
) -> nn.Module:
    """The model, built with the arguments its weights need (`build`) from a seeded generator: a random
    initialisation is the same on every run and every rank; the global generator is left as it was."""
    if spec is None:
        return model  # type: ignore[return-value]
    with guarded(f"{name}: build"), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = spec.build(**(build or {}))
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
        return Published(w.published_top1, w.published_top5, w.published_source, w.published_protocol)
    if spec is not None and spec.accuracy and not w.random:
        a = spec.accuracy
        return Published(a.top1, a.top5, f"{a.kind}: {a.source}", a.protocol)
    return Published()


def _run_info(dev: torch.device, d: Ranks, cfg: EvalConfig, plan: LoaderPlan) -> RunInfo:
    device = str(dev) if d.world == 1 else f"{dev.type} x{d.world}"
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    batch = cfg.validate().batch_size
    return RunInfo(device, cfg.dtype, batch, plan.workers, d.world, d.backend, gpu, plan.threads, plan.rule)  # type: ignore[arg-type]


def _random_init_warning(name: str, w: WeightsInfo, n_classes: int) -> list[str]:
    if not w.random:
        return []
    return [f"{name} is randomly initialised (no weights given): expect chance level (~{100 / n_classes:.2g}% top-1)"]


@dataclass(frozen=True)
class Failed:
    """A model of a many-model evaluation that could not be evaluated (build, weights, probe or forward)."""

    model: str
    error: str
    rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def row(self) -> dict:
        return {"model": self.model, "error": self.error}


@dataclass
class _Model:
    """One model on its way through an evaluation: what it is, its options, and once ready, its weights."""

    name: str
    spec: registry.ModelSpec | None
    given: str | nn.Module
    cfg: EvalConfig
    net: nn.Module | None = None
    weights: WeightsInfo | None = None
    error: str | None = None  # why it failed, once it did
    parts: list[RankPart] = field(default_factory=list)  # every rank's share of its predictions
    pass_size: int = 1  # models in its pass over the images
    target: backends.Target = field(default_factory=backends.Target)  # who runs it (eager: the module itself)
    backend: dict = field(default_factory=dict)  # its conversion's report, when a backend other than eager runs it


def _named(model: str | nn.Module | registry.ModelSpec) -> tuple[str, registry.ModelSpec | None]:
    if isinstance(model, nn.Module):
        return type(model).__name__, None
    spec = model if isinstance(model, registry.ModelSpec) else registry.get_spec(model)
    return spec.name, spec


def _config_for(spec: registry.ModelSpec | None, options: EvalConfig, weights: str | Path | None) -> EvalConfig:
    """The model's validated options: the transform at its own resolution where native_resolution asks for it,
    following its released weight's preprocessing (unless preprocess="seed")."""
    return options.validate(spec.resolution if spec else 224, released_recipe(spec, weights))


def _prepare(m: _Model, weights: str | Path | None, d: Ranks, dev: torch.device, folder, shown: Progress) -> None:
    """Built, weights fetched (one process per machine downloads) and loaded, probed: on every rank or none."""
    source = collective(d, lambda: resolve_weights(m.spec, weights), f"{m.name}: finding weights")
    m.net = collective(d, lambda: _build(m.spec, m.given, m.name, source.build, m.cfg.seed), f"{m.name}: building")  # type: ignore[assignment]
    collective(d, lambda: fetch_weights(source, may_download=d.local_rank == 0, progress=shown), "fetching weights")
    m.weights = collective(d, lambda: _ready(m.net, m.name, source, m.cfg, dev, folder), "loading weights")  # type: ignore
    if m.target.backend != "eager":  # the loop calls the converted model (checked against this one in fp32)
        m.net, m.backend = collective(d, lambda: backends.for_eval(m.name, m.net, m.target, m.cfg), "converting")


def _passes(ready: list[_Model]) -> list[list[_Model]]:
    """The models grouped by what they must see: one pass over the images per transform (and batch size)."""
    groups: dict[tuple, list[_Model]] = {}
    for m in ready:
        groups.setdefault((m.cfg.transform, m.cfg.batch_size), []).append(m)
    return list(groups.values())


def evaluate_many(
    models: Sequence[str | nn.Module | registry.ModelSpec],
    data: str | Path,
    *,
    weights: str | Path | None = None,
    classes_file: str | Path | None = None,
    labels: str = "imagenet",
    predictions: str | Path | None = None,
    progress: Progress = SILENT,
    backend: str = "eager",
    precision: str = "fp32",
    calibration: str | None = None,
    cache_dir: str | Path | None = None,
    **options,
) -> list[EvalResult | Failed]:
    """Top-1 / top-5 of several models on one folder: each image is read once per transform and fed to every model
    that shares it. One result per model, in order; a model that cannot be built, loaded or run is a `Failed`
    (reported through `progress.message("error", ...)` when there are several) and the others go on. An unreadable
    image (without skip_bad) or a bad option stops everything (ZooError). `options` are EvalConfig's fields (crops,
    resize, resolution, ..., workers, device, dtype, skip_bad); `labels` one of labelsets.LABEL_SETS.
    Under torchrun every rank takes the same exact, unpadded slice of the images for every model.
    """
    base = EvalConfig(**options)
    base.validate()  # every option checked before any work
    target = backends.eval_target(backend, precision, calibration, cache_dir, base)
    labelsets.parse(labels)
    if predictions is not None and len(models) != 1:
        raise ZooError(f"predictions must be left out with {len(models)} models: its file holds one model's answers")
    todo = [
        _Model(name, spec, given, _config_for(spec, base, weights), target=target)
        for given in models
        for name, spec in [_named(given)]
    ]
    with joined(base.device_type) as d:
        shown = progress if d.rank == 0 else SILENT

        def setup() -> tuple:
            if d.rank == 0:
                checked_output(predictions)  # before any work, not after it
            return labelsets.load(data, classes_file, labels), _device(base, d)

        folder, dev = collective(d, setup, "checking the setup")  # type: ignore[misc]
        for text in folder.warnings:
            shown.message("warning", text)
        say = shown.message if len(todo) > 1 else lambda level, text: None  # one model: its error is raised
        for m in todo:
            try:
                _prepare(m, weights, d, dev, folder, shown)
            except ZooError as exc:  # CollectiveError too: every rank knows, every rank records it
                m.error = str(exc)
                say("error", m.error)
                continue
            for text in [*m.weights.warnings, *_random_init_warning(m.name, m.weights, len(folder.classes)),  # type: ignore[union-attr]
                         *backends.flagged(m.name, m.backend)]:  # fmt: skip
                shown.message("warning", text)
        ready = [m for m in todo if m.error is None]
        plan = loader_plan(base.workers, d.local_world, base.device_type)
        mine = shard(len(folder), d.world, d.rank)
        with torch_threads(plan.threads):
            for group in _passes(ready):
                _one_pass(group, folder, mine, plan, d, dev, shown)
        for m in ready:
            m.error = next((p.error for p in m.parts if p.error), None)
            if m.error is not None:
                say("error", m.error)
        run, rank = _run_info(dev, d, base, plan), d.rank

    out: list[EvalResult | Failed] = []
    for m in todo:
        if m.error is not None:
            out.append(Failed(m.name, m.error, rank))
            continue
        result = _result(m, folder, data, run, rank)
        if predictions is not None and rank == 0:
            write_predictions(predictions, result.predictions, folder.classes, result.row)
        out.append(result)
    return out


def _one_pass(
    group: list[_Model], folder, mine: range, plan: LoaderPlan, d: Ranks, dev: torch.device, shown: Progress
) -> None:
    """One pass over this rank's images for the models of `group`; each model gets every rank's part. A data error
    (an unreadable image, a lost loader) stops every rank and the whole evaluation."""
    cfg = group[0].cfg
    how = Pass(cfg.transform, cfg.batch_size, cfg.skip_bad, plan.workers)  # type: ignore[arg-type]
    members = [Member(m.net, m.name, m.cfg) for m in group]  # type: ignore[arg-type]
    what = group[0].name if len(group) == 1 else f"{len(group)} models"
    label = f"{what} {cfg.crops}-crop" + (f" (rank 0 of {d.world})" if d.world > 1 else "")
    task = shown.task(label, total=len(mine), unit="images")
    try:
        mine_parts, error = run_pass(members, folder, mine, how, dev, task)
    finally:
        task.close()
    gathered = d.gather((mine_parts, error), "gathering the results")
    errors = [e for _, e in gathered if e]
    if errors:
        raise (CollectiveError if d.world > 1 else ZooError)(errors[0])
    for i, m in enumerate(group):
        m.parts, m.pass_size = [ps[i] for ps, _ in gathered], len(group)


def _result(m: _Model, folder: ImageFolderSet, data: str | Path, run: RunInfo, rank: int) -> EvalResult:
    preds, skipped = merge(folder, m.parts)
    info = DataInfo(
        str(Path(data)),
        len(folder),
        len(folder.classes),
        folder.classes_source,
        folder.ignored,
        folder.label_set,
        folder.left_out,
    )
    times = LoopTimes.over_ranks([p.times for p in m.parts])
    warnings = [*folder.warnings, *m.weights.warnings, *_random_init_warning(m.name, m.weights, len(folder.classes)),  # type: ignore[union-attr]
                *backends.flagged(m.name, m.backend)]  # fmt: skip
    return EvalResult(
        m.name,
        m.cfg,
        m.weights,  # type: ignore[arg-type]
        preds.accuracy(),
        times,
        info,
        replace(run, models_in_pass=m.pass_size),
        # Published figures are ImageNet-1k's: another label set has none to compare with.
        _published(m.spec, m.weights) if folder.label_set == "imagenet" else Published(),  # type: ignore[arg-type]
        preds,
        skipped,
        folder.classes,
        warnings,
        rank,
        m.backend,
    )


def evaluate(model: str | nn.Module, data: str | Path, **kwargs) -> EvalResult:
    """Top-1 / top-5 accuracy of `model` (a zoo name, alias, torchvision:<name>, module:callable, or a module) on
    an ImageNet-style folder. Returns the result on every rank; under torchrun only rank 0 reports and writes.

    Keywords: those of evaluate_many (weights, classes_file, labels, predictions, progress) and EvalConfig's
    options: crops 1/5/10; resize "shorter" (shorter side to resize_size) or "square"; resolution scales crop and
    resize together (crop r inside round(r * 256 / 224)); average "softmax" (mean of crop probabilities) or
    "logits"; batch_size counts images (default: 64 crops' worth); workers: loader.loader_plan's rule by default.
    Warnings go to `progress.message` (and the result's `warnings`), the images to one `progress.task`.
    A failure is raised as one ZooError (CollectiveError under torchrun).
    """
    (result,) = evaluate_many([model], data, **kwargs)
    if isinstance(result, Failed):
        raise (CollectiveError if _world() > 1 else ZooError)(result.error)
    return result


def _world() -> int:
    import torch.distributed as dist

    return (
        dist.get_world_size()
        if dist.is_available() and dist.is_initialized()
        else int(os.environ.get("WORLD_SIZE", "1"))
    )
