"""`zoobench prepare-imagenet`: the ILSVRC2012 archives as class folders, verified."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoobench.cli.common import Format, app, progress_for
from zoobench.output import formats, views


@app.command("prepare-imagenet")
def prepare_imagenet(
    src: Annotated[
        Path,
        typer.Argument(
            help="Folder holding ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz "
            "(or train/ and val/ folders those tars were extracted into)."
        ),
    ],
    out: Annotated[Path, typer.Argument(help="Output: OUT/train/<wnid>/, OUT/val/<wnid>/ and OUT/classes.json.")],
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", min=1, help="Classes extracted at once (default: the usable cores)."),
    ] = None,
    splits: Annotated[str, typer.Option("--splits", help="train,val (default), train or val.")] = "train,val",
    train: Annotated[
        Path | None, typer.Option("--train", help="The train tar (or folder of <wnid>.tar files), if not in SRC.")
    ] = None,
    val: Annotated[
        Path | None, typer.Option("--val", help="The val tar (or flat folder of its JPEGs), if not in SRC.")
    ] = None,
    devkit: Annotated[Path | None, typer.Option("--devkit", help="The devkit tar.gz, if not in SRC.")] = None,
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Extract nothing: check OUT against the archives.")
    ] = False,
    md5: Annotated[
        bool, typer.Option("--md5", help="Check the archives' published MD5s first (verdict cached by size, mtime).")
    ] = False,
    normalize_images: Annotated[
        bool,
        typer.Option(
            "--normalize-images",
            help="Re-encode CMYK, grayscale and PNG-named-.JPEG images as RGB JPEG (default: bytes copied verbatim).",
        ),
    ] = False,
    fmt: Format = None,
) -> None:
    """The official ILSVRC2012 archives -> OUT/train/<wnid>/, OUT/val/<wnid>/, OUT/classes.json, verified.

    Streams the train tar (inner tars never land on disk), works on several classes at once, resumes after a kill,
    refuses unsafe members, and never touches the archives. The table on stdout is the verification; exit 1 when it
    finds a problem.
    """
    formats.preflight(fmt, None)  # a bad --format is refused now, not after an hour of extracting
    from zoobench.imagenet import prepare as prep

    with progress_for(str) as shown:
        result = prep.prepare(
            src,
            out,
            train=train,
            val=val,
            devkit=devkit,
            splits=[s.strip() for s in splits.split(",") if s.strip()],
            workers=workers,
            normalize_images=normalize_images,
            md5=md5,
            verify_only=verify_only,
            progress=shown,
        )
    title = f"zoobench prepare-imagenet {out}: {'verified' if result.ok else f'{len(result.problems)} problems'}"
    formats.emit(result.rows, views.PREPARE_COLUMNS, fmt=fmt, title=title)
    if not result.ok:
        raise typer.Exit(1)
