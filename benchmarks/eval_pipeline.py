"""Throughput of `zoobench eval`'s pipeline on a generated ImageNet-like JPEG set: images/s with the model replaced by
a free stand-in ("identity": the pipeline alone) and with resnet50, for 1 and 10 crops, and the share of the work
that is JPEG decoding; then several models in one pass against one eval each.

    .venv/bin/python benchmarks/eval_pipeline.py                      # 300 images -> results/eval_pipeline.json
    .venv/bin/python benchmarks/eval_pipeline.py --images 16 --serial-images 8 -o /tmp/eval_pipeline.json  # quick

Views of the cost:
- serial stages (one process, no loader workers): per-image milliseconds of decode, resize, crop + normalise and
  the model, measured one after the other, so the shares add up to the whole;
- `evaluate` end to end, three ways: its default (loop.loader_plan: loader workers and torch threads chosen
  together), serial (workers=0) and 2 loader workers beside torch's threads (the old default on 2 cores);
- one pass: `evaluate_many` of --many models (each image decoded once for all) against one `evaluate` per model,
  on the same images and settings.
Run it on a quiet machine: the numbers are only as steady as the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from zoobench import environment, registry
from zoobench.imagenet.evaluate import Failed, evaluate, evaluate_many
from zoobench.imagenet.transforms import EvalTransform
from zoobench.output.files import atomic_write

# ImageNet val's commonest shapes (500x375 and 500x333 landscape, their portrait twins, a few larger ones).
SIZES = [(500, 375), (500, 333), (375, 500), (333, 500), (500, 400), (640, 480)]


class FreeModel(nn.Module):
    """Stands in for the model at no cost: the first `classes` values of each crop as its scores (a view)."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.classes = classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, : self.classes]


def make_images(root: Path, n: int, classes: int, seed: int = 0) -> list[Path]:
    """JPEGs (quality 90) of smooth shapes plus grain: ~115 KB each (ImageNet val: 6.3 GB / 50,000 = ~130 KB)."""
    rng = np.random.default_rng(seed)
    paths = []
    entries = []
    for c in range(classes):
        wnid = f"n{c:08d}"
        (root / "val" / wnid).mkdir(parents=True, exist_ok=True)
        entries.append({"index": c, "wnid": wnid, "words": f"class {c}"})
    (root / "classes.json").write_text(json.dumps(entries))
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        coarse = rng.integers(0, 256, (h // 32 + 1, w // 32 + 1, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), dtype=np.int16)
        img = np.clip(img + rng.normal(0, 24, (h, w, 3)), 0, 255).astype(np.uint8)
        path = root / "val" / f"n{i % classes:08d}" / f"img_{i:05d}.JPEG"
        Image.fromarray(img).save(path, quality=90)
        paths.append(path)
    return paths


def serial_costs(paths: list[Path], crops: int, model: nn.Module | None, threads: int) -> dict:
    """Per-image ms of each stage, one image at a time in this process.

    The image stages run on one thread, as in a loader worker (DataLoader gives each worker one), the model on
    `threads`: one image's small tensor ops spread over the OpenMP threads of a busy machine run many times slower.
    """
    t = EvalTransform(crops=crops)
    decode = resize = cut = normalize = forward = 0.0
    for path in paths:
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        with Image.open(path) as img:
            img = img.convert("RGB")
        t1 = time.perf_counter()
        img = img.resize(t.target_size(*img.size), Image.BILINEAR)
        tensor = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
        t2 = time.perf_counter()
        crops = t.cut(tensor)
        t3 = time.perf_counter()
        x = t.normalize(crops)
        t4 = time.perf_counter()
        torch.set_num_threads(threads)
        if model is not None:
            with torch.inference_mode():
                model(x)
        t5 = time.perf_counter()
        decode, resize, cut = decode + t1 - t0, resize + t2 - t1, cut + t3 - t2
        normalize, forward = normalize + t4 - t3, forward + t5 - t4
    n = len(paths)
    total = decode + resize + cut + normalize + forward
    return {
        "decode_ms": 1e3 * decode / n,
        "resize_ms": 1e3 * resize / n,
        "crop_ms": 1e3 * cut / n,
        "normalize_ms": 1e3 * normalize / n,
        "model_ms": 1e3 * forward / n,
        "serial_images_per_s": n / total,
        "decode_share": decode / total,
    }


def _cases(args: argparse.Namespace) -> list[tuple[str, int]]:
    return [(m, int(c)) for m in args.models.split(",") for c in args.crops.split(",")]


def _model(name: str, classes: int) -> nn.Module:
    model = FreeModel(classes) if name == "identity" else registry.create_model(name, num_classes=classes)
    return model.eval()


def pipeline_row(root: Path, serial_paths: list[Path], name: str, crops: int, classes: int, threads: int) -> dict:
    """One model and crop count: the serial stage costs, and evaluate() by default, serial and with 2 workers."""
    model = _model(name, classes)
    serial = serial_costs(serial_paths, crops, None if name == "identity" else model, threads)
    torch.set_num_threads(threads)
    runs = {w: evaluate(model, root / "val", crops=crops, workers=w).row for w in (None, 0, 2)}
    r = runs[None]
    print(
        f"{name:>9} {crops:>2}-crop: default {r['images_per_s']:7.1f} images/s ({r['workers']} workers, "
        f"{r['torch_threads']} threads), serial {runs[0]['images_per_s']:7.1f}, 2 workers "
        f"{runs[2]['images_per_s']:7.1f}; decode {serial['decode_ms']:.1f} ms = "
        f"{100 * serial['decode_share']:.0f}% of the serial work",
        file=sys.stderr,
    )
    return {
        "model": name,
        "crops": crops,
        "images": r["dataset_images"],
        "images_per_s": r["images_per_s"],
        "crops_per_s": r["images_per_s"] * crops,
        "wait_share": r["data_wait_s"] / r["wall_s"],
        "workers": r["workers"],
        "torch_threads": r["torch_threads"],
        "loader_plan": r["loader_plan"],
        "serial_eval_images_per_s": runs[0]["images_per_s"],
        "two_workers_images_per_s": runs[2]["images_per_s"],
        "two_workers_threads": runs[2]["torch_threads"],
        "batch_size": r["batch_size"],
        **serial,
    }


def one_pass(root: Path, names: list[str], classes: int) -> dict:
    """evaluate_many of `names` against one evaluate() each: wall seconds and model-images per second."""
    models = [_model(n, classes) for n in names]
    t0 = time.perf_counter()
    together = evaluate_many(models, root / "val")
    t_many = time.perf_counter() - t0
    failed = [r.model for r in together if isinstance(r, Failed)]
    if failed:
        raise SystemExit(f"eval_pipeline: one-pass models failed: {', '.join(failed)}")
    t0 = time.perf_counter()
    alone = [evaluate(m, root / "val") for m in models]
    t_alone = time.perf_counter() - t0
    images = together[0].row["dataset_images"]
    same = all((a.predictions.top == b.predictions.top).all() for a, b in zip(alone, together, strict=True))
    print(
        f"{len(names)} models: one pass {t_many:.1f} s, separately {t_alone:.1f} s "
        f"({t_alone / t_many:.2f}x); same predictions: {same}",
        file=sys.stderr,
    )
    return {
        "models": names,
        "images": images,
        "one_pass_wall_s": t_many,
        "separate_wall_s": t_alone,
        "one_pass_images_per_s": images * len(names) / t_many,
        "separate_images_per_s": images * len(names) / t_alone,
        "speedup": t_alone / t_many,
        "same_predictions": same,
        "workers": together[0].row["workers"],
        "torch_threads": together[0].row["torch_threads"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=300, help="images in the generated set (default 300)")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--many", default="resnet18,resnet34,resnet50,mobilenet_v2,squeezenet1_0", help="one-pass models")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the model (default: cores)")
    ap.add_argument("--models", default="identity,resnet50")
    ap.add_argument("--crops", default="1,10")
    ap.add_argument("--serial-images", type=int, default=100, help="images for the serial per-stage timing")
    ap.add_argument("--data", type=Path, default=None, help="reuse a set made earlier (written here if absent)")
    ap.add_argument("-o", "--output", type=Path, default=Path("results/eval_pipeline.json"))
    args = ap.parse_args(argv)

    threads = args.threads or environment.usable_cores()
    torch.set_num_threads(threads)
    tmp = None
    root = args.data
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="zoobench-evalbench-")
        root = Path(tmp.name)
    if not (root / "classes.json").is_file():
        t0 = time.perf_counter()
        make_images(root, args.images, args.classes)
        print(f"made {args.images} JPEGs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    paths = sorted((root / "val").rglob("*.JPEG"))
    size_kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024

    rows = [pipeline_row(root, paths[: args.serial_images], m, c, args.classes, threads) for m, c in _cases(args)]
    many = one_pass(root, args.many.split(","), args.classes) if args.many else None
    doc = {
        "benchmark": "eval_pipeline",
        "settings": {
            "images": len(paths),
            "mean_jpeg_kb": size_kb,
            "sizes": [f"{w}x{h}" for w, h in SIZES],
            "serial_images": min(args.serial_images, len(paths)),
            "torch_threads": threads,
            "many_models": args.many.split(",") if args.many else [],
            "decoder": "PIL (Image.open + convert RGB), PIL bilinear antialiased resize",
            "identity": "the model replaced by a free view of the input (pipeline cost alone)",
        },
        "notes": [
            "images_per_s: evaluate() end to end with its default loader workers and torch threads (loader_plan);"
            " serial_eval_images_per_s: workers=0; two_workers_images_per_s: 2 loader workers beside torch's threads.",
            "wait_share: share of the wall time the model loop waited for decoded images (default settings).",
            "one_pass: evaluate_many of the models (one decode per image for all) vs one evaluate per model, total "
            "images/s = images x models / wall seconds.",
            "decode_ms .. model_ms: per image, one stage after another in one process (resize_ms includes "
            "the conversion to a tensor); decode_share = decode / their sum.",
        ],
        "environment": environment.collect(),
        "rows": rows,
        "one_pass": many,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.output, json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
