"""`zoobench eval`: ImageNet accuracy of one model, or of several in one pass over the images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import (
    AllModels,
    CacheDir,
    Calibration,
    Family,
    Format,
    Models,
    Native,
    Output,
    Precision,
    app,
    err,
    flag_words,
    progress_for,
)
from zoobench.errors import ZooError
from zoobench.output import formats, views

# The library names evaluate()'s parameters: `crops must be ...` and `skip_bad=True`; the command line names flags.
_FLAGS = {
    "crops": "--crops",
    "resize": "--resize",
    "resolution": "--resolution",
    "crop_size": "--resolution",
    "native_resolution": "--native-resolution",
    "resize_size": "--resize-size",
    "weights": "--weights",
    "average": "--average",
    "batch_size": "--batch-size",
    "workers": "--workers",
    "device": "--device",
    "dtype": "--dtype",
    "decoder": "--decoder",
    "mean": "--mean",
    "std": "--std",
    "skip_bad": "--skip-bad",
    "interpolation": "--interpolation",
    "preprocess": "--preprocess",
    "seed": "--seed",
    "backend": "--backend",
    "precision": "--precision",
    "calibration": "--calibration",
    "cache_dir": "--cache-dir",
    "labels": "--labels",
    "predictions": "--predictions",
}


def _floats3(value: str | None, option: str) -> tuple[float, float, float] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise ZooError(f"{option} takes three comma-separated numbers (R,G,B), not {value!r}")
    return parts  # type: ignore[return-value]


@app.command("eval")
def eval_cmd(
    data: Annotated[
        Path, typer.Option("--data", help="OUT/val from prepare-imagenet (OUT/classes.json gives labels).")
    ],
    models: Models = None,
    all_models: AllModels = False,
    family: Family = None,
    crops: Annotated[int, typer.Option("--crops", help="1 (centre), 5 (corners + centre) or 10 (+ flips).")] = 1,
    resize: Annotated[
        str | None,
        typer.Option(
            "--resize", help="shorter: shorter side (the seed's); square: whole image. Default: the recipe's."
        ),
    ] = None,
    resolution: Annotated[
        int | None,
        typer.Option("--resolution", "-r", help="Crop size; the resize keeps the recipe's ratio (seed: 299 in 342)."),
    ] = None,
    native: Native = False,
    resize_size: Annotated[
        int | None, typer.Option("--resize-size", help="Override the resize (default: the recipe's, e.g. 256 for 224).")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="A checkpoint file; torchvision[:ENUM] (IMAGENET1K_V1; DEFAULT: torchvision's), timm[:TAG], "
            "pytorchcv, or pretrained (the best released; `zoobench list --weights`).",
        ),
    ] = None,
    average: Annotated[
        str, typer.Option("--average", help="softmax: mean of crop probabilities (default); logits: mean logits.")
    ] = "softmax",
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Images per batch (default: 64 crops' worth).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="Loader processes (default: 0 on <= 2 cores, else a quarter of them; 8 on GPU)."
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda[:N].")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, bf16 or fp16 (autocast).")] = "fp32",
    decoder: Annotated[
        str, typer.Option("--decoder", help="pil (default, PIL decode + antialiased resize) or torchvision.")
    ] = "pil",
    interpolation: Annotated[
        str | None, typer.Option("--interpolation", help="bilinear or bicubic (default: the weights' recipe's).")
    ] = None,
    preprocess: Annotated[
        str,
        typer.Option(
            "--preprocess", help="weights: the released weights' own recipe (default); seed: 224 in 256, bilinear."
        ),
    ] = "weights",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random initialisation (no --weights).")] = 0,
    backend: Annotated[
        str,
        typer.Option(
            "--backend", help="eager (default), compile, onnxruntime or openvino: the loop runs the converted model."
        ),
    ] = "eager",
    precision: Precision = "fp32",
    calibration: Calibration = None,
    cache_dir: CacheDir = None,
    mean: Annotated[
        str | None, typer.Option("--mean", help="Normalisation mean R,G,B (default: the recipe's).")
    ] = None,
    std: Annotated[str | None, typer.Option("--std", help="Normalisation std R,G,B (default: the recipe's).")] = None,
    classes: Annotated[
        Path | None, typer.Option("--classes", help="classes.json (default: beside or inside --data).")
    ] = None,
    labels: Annotated[
        str,
        typer.Option(
            "--labels",
            help="imagenet (default), real (ImageNet-ReaL; real:FILE), v2 (ImageNetV2), a or r (200 classes).",
        ),
    ] = "imagenet",
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip and count unreadable images instead of stopping.")
    ] = False,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Write each image's top-5 and probabilities (.csv or .json).")
    ] = None,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """ImageNet top-1 / top-5 (95% CI) with 1-, 5- or 10-crop; several models share one pass over the images;
    `torchrun --nproc-per-node N -m zoobench eval` splits the set exactly over N processes.
    """
    from zoobench import environment, registry
    from zoobench.imagenet import evaluate as evaluation

    main = evaluation.env_rank() == 0  # only rank 0 writes -o: only it checks -o
    if main:
        formats.preflight(fmt, output)
    specs = registry.select(models or [], all_models=all_models, family=family)
    try:
        with progress_for(str) as shown:
            results = evaluation.evaluate_many(
                specs,
                data,
                crops=crops,
                resize=resize,
                resolution=resolution,
                native_resolution=native,
                resize_size=resize_size,
                weights=weights,
                average=average,
                batch_size=batch_size,
                workers=workers,
                device=device,
                dtype=dtype,
                decoder=decoder,
                mean=_floats3(mean, "--mean"),  # None: the recipe's (ImageNet's for the seed)
                std=_floats3(std, "--std"),
                interpolation=interpolation,
                preprocess=preprocess,
                seed=seed,
                classes_file=classes,
                labels=labels,
                skip_bad=skip_bad,
                predictions=predictions,
                backend=backend,
                precision=precision,
                calibration=calibration,
                cache_dir=cache_dir,
                progress=shown,
            )
    except evaluation.CollectiveError as exc:
        # Every rank knows this error and rank 0 reports it (exit 2, which fails the torchrun job): the others
        # leave quietly, so torchrun names rank 0, the one with the message, as the root cause.
        if not main:
            raise typer.Exit(0) from None
        raise ZooError(flag_words(str(exc), _FLAGS)) from exc
    except ZooError as exc:
        raise ZooError(flag_words(str(exc), _FLAGS)) from exc
    if not results[0].is_main:
        return
    if len(results) == 1 and isinstance(results[0], evaluation.Failed):
        raise ZooError(flag_words(results[0].error, _FLAGS))  # one model: its error is the one line
    _write(results, fmt, output, environment.collect())


def _write(results: list, fmt: str | None, output: Path | None, env: dict) -> None:
    """The table or file of every model's row, then the closing line when some failed (exit 2)."""
    from zoobench.imagenet import evaluate as evaluation

    skipped = next((r.skipped for r in results if not isinstance(r, evaluation.Failed)), [])
    if skipped:
        err.print(f"zoobench: warning: skipped {len(skipped)} unreadable image(s):", markup=False)
        for name, reason in skipped:
            err.print(f"  {name}: {reason}", markup=False, soft_wrap=True)
    failed = [r.model for r in results if isinstance(r, evaluation.Failed)]
    rows = [views.eval_display_row(r.row) for r in results]
    notes = views.eval_many_notes(rows, skipped)
    columns = views.eval_columns(bool(failed))
    formats.emit(
        rows,
        columns,
        fmt=fmt,
        output=output,
        title=views.eval_title(rows),
        md=lambda r: formats.markdown_with_notes(r, columns, notes),
        environment=env,
        json_extra={"notes": notes, "skipped_files": [{"file": f, "reason": why} for f, why in skipped]},
    )
    if failed:
        raise ZooError(views.failed_summary(failed, len(results)))
