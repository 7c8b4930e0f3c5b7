"""What every command shares: the Typer app, the stderr console and the option types, spelled once."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zoobench import __version__
from zoobench.errors import ZooError

if TYPE_CHECKING:
    from zoobench.output.progress import Progress

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Benchmark a zoo of ImageNet CNNs: params, MACs/FLOPs, latency, accuracy.",
)


class _StderrConsole:
    """rich's stderr console, made on first use: commands that print nothing rich (prepare-imagenet under a log)
    must not pay rich's import."""

    _console = None

    def __getattr__(self, name: str) -> object:
        if _StderrConsole._console is None:
            from rich.console import Console

            _StderrConsole._console = Console(stderr=True, soft_wrap=True)
        return getattr(_StderrConsole._console, name)


err = _StderrConsole()

# Shared option types, so every command spells them the same way.
Models = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="MODEL",
        help="Model names, aliases, globs ('resnet*'), torchvision:<name> or package.module:callable.",
        show_default=False,
    ),
]
AllModels = Annotated[bool, typer.Option("--all", help="Every registered model.")]
Family = Annotated[
    str | None, typer.Option("--family", metavar="FAMILY", help="Only this family (see `zoobench list`).")
]
Format = Annotated[
    str | None,
    typer.Option(
        "--format", "-f", metavar="FORMAT", help="table|md|csv|json. Default: table on a terminal, md when redirected."
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write to this file (format from its extension)."),
]
Resolution = Annotated[int, typer.Option("--resolution", "-r", metavar="PX", help="Input height = width in pixels.")]
# The runtime a converted model runs on (zoobench/backends): bench and eval spell these alike.
Precision = Annotated[
    str, typer.Option("--precision", help="fp32|int8|bf16|fp16 of the backend (int8: onnxruntime, openvino).")
]
Calibration = Annotated[
    str | None,
    typer.Option(
        "--calibration",
        help="int8: a folder of images, dir:DIR:n=N or random:seed=S:n=N (default random:seed=0:n=32).",
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Exported models (default $ZOOBENCH_CACHE or ~/.cache/zoobench)."),
]
Native = Annotated[
    bool,
    typer.Option("--native-resolution", help="Use each model's native resolution instead of --resolution."),
]


def _version(value: bool) -> None:
    if value:
        print(f"zoobench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_version)
    ] = False,
) -> None:
    """--debug is read by main() before Typer parses, so that it also covers errors in parsing."""


def progress_for(describe: Callable[[object], str]) -> AbstractContextManager[Progress]:
    """The progress display for this stderr: n/N bars on a terminal, one line per finished item otherwise."""
    from zoobench.output import progress

    if sys.stderr.isatty():
        return progress.Bars(describe)
    return nullcontext(progress.Lines(describe=describe))


def note(text: str) -> None:
    """One informational line on stderr in the house style (`zoobench: note: …`)."""
    from zoobench.output.progress import line

    print(line("note", text), file=sys.stderr, flush=True)


def flag_words(text: str, flags: Mapping[str, str]) -> str:
    """A library message in the command line's words: the library names its parameters, `flags` maps each to its
    flag. A leading parameter (`threads takes ...`), `X must be` anywhere (`max_time must be` -> `--max-time must
    be`) and `key=value` (`skip_bad=True` -> `--skip-bad`, `weights=PATH` -> `--weights PATH`) say the flag; quoted
    user text, and `key=` inside a spelled-out value (`random:seed=S`), are left alone."""
    names = "|".join(re.escape(n) for n in sorted(flags, key=len, reverse=True))
    words = re.compile(
        # user text (a repr'd path) is left alone; an apostrophe inside a word ("torch's") opens no quote
        rf"""(?P<quoted>(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))"""
        rf"|^(?P<lead>{names})(?= )"
        rf"|\b(?P<must>{names}) must be\b"
        rf"|(?<![\w:])(?P<key>{names})=(?P<value>'[^']*'|[^\s,;:)'\"]+)"
    )

    def word(m: re.Match) -> str:
        if m.group("lead"):
            return flags[m.group("lead")]
        if m.group("must"):
            return f"{flags[m.group('must')]} must be"
        if m.group("key"):
            value = m.group("value").strip("'")
            return flags[m.group("key")] + ("" if value == "True" else f" {value}")
        return m.group(0)

    return words.sub(word, text)


@contextmanager
def as_flags(flags: Mapping[str, str]) -> Iterator[None]:
    """Around library calls: a ZooError comes out in the command line's words (`flag_words`)."""
    try:
        yield
    except ZooError as exc:
        if (said := flag_words(str(exc), flags)) != str(exc):
            raise ZooError(said) from exc
        raise
