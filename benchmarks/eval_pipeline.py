"""Throughput of `zoobench eval`'s pipeline on a generated ImageNet-like JPEG set: images/s with the model replaced by
a free stand-in ("identity": the pipeline alone) and with resnet50, for 1 and 10 crops, and the share of the work
that is JPEG decoding.

    .venv/bin/python benchmarks/eval_pipeline.py                      # 300 images -> results/eval_pipeline.json
    .venv/bin/python benchmarks/eval_pipeline.py --images 16 -o /tmp/eval_pipeline.json   # a quick check

Two views of the cost:
- serial (one process, no loader workers): per-image milliseconds of decode, resize, crop + normalise and the model,
  measured one after the other, so the shares add up to the whole;
- pipelined (`evaluate` with loader workers, as users run it): images/s end to end, and the share of the wall time
  the model loop spent waiting for images.
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
from zoobench.imagenet.evaluate import evaluate
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=300, help="images in the generated set (default 300)")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--workers", type=int, default=None, help="loader workers (default: evaluate's default)")
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

    rows = []
    for model_name in args.models.split(","):
        for crops in (int(c) for c in args.crops.split(",")):
            if model_name == "identity":
                model = FreeModel(args.classes)
            else:
                model = registry.create_model(model_name, num_classes=args.classes)
            model.eval()
            serial = serial_costs(
                paths[: args.serial_images], crops, None if model_name == "identity" else model, threads
            )
            res = evaluate(model, root / "val", crops=crops, workers=args.workers)
            r = res.row
            rows.append(
                {
                    "model": model_name,
                    "crops": crops,
                    "images": r["dataset_images"],
                    "images_per_s": r["images_per_s"],
                    "crops_per_s": r["images_per_s"] * crops,
                    "wait_share": r["data_wait_s"] / r["wall_s"],
                    "workers": r["workers"],
                    "batch_size": r["batch_size"],
                    **serial,
                }
            )
            print(
                f"{model_name:>9} {crops:>2}-crop: {r['images_per_s']:7.1f} images/s pipelined "
                f"({r['workers']} workers), serial {serial['serial_images_per_s']:6.1f} images/s, "
                f"decode {serial['decode_ms']:.1f} ms = {100 * serial['decode_share']:.0f}% of the serial work",
                file=sys.stderr,
            )
    doc = {
        "benchmark": "eval_pipeline",
        "settings": {
            "images": len(paths),
            "mean_jpeg_kb": size_kb,
            "sizes": [f"{w}x{h}" for w, h in SIZES],
            "serial_images": min(args.serial_images, len(paths)),
            "torch_threads": threads,
            "decoder": "PIL (Image.open + convert RGB), PIL bilinear antialiased resize",
            "identity": "the model replaced by a free view of the input (pipeline cost alone)",
        },
        "notes": [
            "images_per_s: evaluate() end to end with DataLoader workers (decode in parallel with the model).",
            "wait_share: share of the wall time the model loop waited for decoded images.",
            "decode_ms .. model_ms: per image, one stage after another in one process (resize_ms includes "
            "the conversion to a tensor); decode_share = decode / their sum.",
        ],
        "environment": environment.collect(),
        "rows": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.output, json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
