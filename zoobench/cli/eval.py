"""`zoobench eval`: ImageNet accuracy of one model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import Format, Native, Output, app, err, progress_for
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
}
_NAMES = "|".join(sorted(_FLAGS, key=len, reverse=True))
_WORDS = re.compile(
    # user text (a repr'd path) is left alone; an apostrophe inside a word ("torch's") opens no quote
    rf"""(?P<quoted>(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))"""
    rf"|\b(?P<must>{_NAMES}) must be\b"
    rf"|\b(?P<key>{_NAMES})=(?P<value>'[^']*'|[^\s,;:)'\"]+)"
)


def _flag_words(text: str) -> str:
    """`crops must be` -> `--crops must be`; `skip_bad=True` -> `--skip-bad`; `weights=PATH` -> `--weights PATH`."""

    def word(m: re.Match) -> str:
        if m.group("must"):
            return f"{_FLAGS[m.group('must')]} must be"
        if m.group("key"):
            value = m.group("value").strip("'")
            return _FLAGS[m.group("key")] + ("" if value == "True" else f" {value}")
        return m.group(0)

    return _WORDS.sub(word, text)


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
    model: Annotated[str, typer.Argument(help="Model name or alias, torchvision:<name> or package.module:callable.")],
    data: Annotated[
        Path, typer.Option("--data", help="OUT/val from prepare-imagenet (OUT/classes.json gives labels).")
    ],
    crops: Annotated[int, typer.Option("--crops", help="1 (centre), 5 (corners + centre) or 10 (+ flips).")] = 1,
    resize: Annotated[
        str, typer.Option("--resize", help="shorter: shorter side to 256 (default); square: whole image to 256x256.")
    ] = "shorter",
    resolution: Annotated[
        int | None, typer.Option("--resolution", "-r", help="Crop size; the resize scales with it (299 in 342).")
    ] = None,
    native: Native = False,
    resize_size: Annotated[
        int | None, typer.Option("--resize-size", help="Override the resize (default round(crop x 256 / 224)).")
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights", help="A state_dict / checkpoint file, or torchvision[:ENUM] (default IMAGENET1K_V1)."
        ),
    ] = None,
    average: Annotated[
        str, typer.Option("--average", help="softmax: mean of crop probabilities (default); logits: mean logits.")
    ] = "softmax",
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Images per batch (default: 64 crops' worth).")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Loader processes (default: cores).")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda[:N].")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, bf16 or fp16 (autocast).")] = "fp32",
    decoder: Annotated[
        str, typer.Option("--decoder", help="pil (default, PIL decode + antialiased resize) or torchvision.")
    ] = "pil",
    mean: Annotated[str | None, typer.Option("--mean", help="Normalisation mean R,G,B (default ImageNet's).")] = None,
    std: Annotated[str | None, typer.Option("--std", help="Normalisation std R,G,B (default ImageNet's).")] = None,
    classes: Annotated[
        Path | None, typer.Option("--classes", help="classes.json (default: beside or inside --data).")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip and count unreadable images instead of stopping.")
    ] = False,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Write each image's top-5 and probabilities (.csv or .json).")
    ] = None,
    fmt: Format = None,
    output: Output = None,
) -> None:
    """ImageNet top-1 / top-5 (95% CI) with 1-, 5- or 10-crop; `torchrun --nproc-per-node N -m zoobench eval` splits
    the set exactly over N processes.
    """
    from zoobench import environment
    from zoobench.imagenet import evaluate as evaluation
    from zoobench.imagenet.transforms import IMAGENET_MEAN, IMAGENET_STD

    main = evaluation.env_rank() == 0  # only rank 0 writes -o: only it checks -o
    if main:
        formats.preflight(fmt, output)
    try:
        with progress_for(str) as shown:
            result = evaluation.evaluate(
                model,
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
                mean=_floats3(mean, "--mean") or IMAGENET_MEAN,
                std=_floats3(std, "--std") or IMAGENET_STD,
                classes_file=classes,
                skip_bad=skip_bad,
                predictions=predictions,
                progress=shown,
            )
    except evaluation.CollectiveError as exc:
        # Every rank knows this error and rank 0 reports it (exit 2, which fails the torchrun job): the others
        # leave quietly, so torchrun names rank 0, the one with the message, as the root cause.
        if not main:
            raise typer.Exit(0) from None
        raise ZooError(_flag_words(str(exc))) from exc
    except ZooError as exc:
        raise ZooError(_flag_words(str(exc))) from exc
    if not result.is_main:
        return
    if result.skipped:
        err.print(f"zoobench: warning: skipped {len(result.skipped)} unreadable image(s):", markup=False)
        for name, reason in result.skipped:
            err.print(f"  {name}: {reason}", markup=False, soft_wrap=True)
    row = views.eval_display_row(result.row)
    notes = views.eval_notes(result.row, result.skipped)
    formats.emit(
        [row],
        views.EVAL_COLUMNS,
        fmt=fmt,
        output=output,
        title=views.eval_title(row),
        md=lambda r: formats.markdown_with_notes(r, views.EVAL_COLUMNS, notes),
        environment=environment.collect(),
        json_extra={"notes": notes, "skipped_files": [{"file": f, "reason": why} for f, why in result.skipped]},
    )
