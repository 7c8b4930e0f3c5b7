"""What every command shares: the Typer app, the stderr console and the option types, spelled once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Benchmark a zoo of ImageNet CNNs: params, MACs/FLOPs, latency, accuracy.",
)
err = Console(stderr=True, soft_wrap=True)

# Shared option types, so every command spells them the same way.
Models = Annotated[
    list[str] | None,
    typer.Argument(help="Model names, aliases, globs ('resnet*'), torchvision:<name> or package.module:callable."),
]
AllModels = Annotated[bool, typer.Option("--all", help="Every registered model.")]
Family = Annotated[str | None, typer.Option("--family", help="Only this family (see `zoobench list`).")]
Format = Annotated[
    str | None,
    typer.Option("--format", "-f", help="table|md|csv|json. Default: table on a terminal, md when redirected."),
]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (format from its extension).")]
Resolution = Annotated[int, typer.Option("--resolution", "-r", help="Input height = width in pixels.")]
Native = Annotated[
    bool,
    typer.Option("--native-resolution", help="Use each model's native resolution instead of --resolution."),
]


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    """--debug is read by main() before Typer parses, so that it also covers errors in parsing."""
