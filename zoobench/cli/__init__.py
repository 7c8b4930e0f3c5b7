"""The `zoobench` command line: parse options, call the library, hand rows to the writers. No logic here.

stdout carries data only; progress, logs and warnings go to stderr. Exit 0 success, 1 a check found a
difference, 2 bad usage or bad input (one line on stderr; `--debug` shows the traceback).
Each command lives in a module of its own; importing them registers them on the one Typer app.
"""

from __future__ import annotations

import os
import sys

import typer

# torch takes seconds to import: command modules import what needs it inside the command, so that
# `zoobench --help` and `zoobench prepare-imagenet` start at once.
from zoobench.cli import bench, check, doctor, eval, listing, prepare, profile, report  # noqa: F401  (registers commands)
from zoobench.cli.common import app
from zoobench.errors import ZooError

# Typer vendors click in recent releases and uses the click package in older ones: take the class from Typer.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _whole_short_help() -> None:
    """`zoobench --help` lists each command by its docstring's first sentence, whole: click would cut it at the
    terminal width mid-sentence ("The official ILSVRC2012 archives ->...")."""
    for info in app.registered_commands:
        doc = (info.callback.__doc__ or "").strip() if info.callback else ""
        if info.short_help is None and doc:
            info.short_help = doc.split("\n\n")[0].replace("\n", " ").split(". ")[0].rstrip(".")


_whole_short_help()


class _Interrupts:
    """Typer turns Ctrl-C into a plain exit code 130 before main() can see it; this SIGINT handler notes that the
    130 came from the user, so main() can say so in one line (and a command's own `Exit(130)` stays silent)."""

    seen = False

    @classmethod
    def handler(cls, signum: int, frame: object) -> None:
        cls.seen = True
        raise KeyboardInterrupt

    @classmethod
    def install(cls) -> None:
        import signal

        cls.seen = False
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, cls.handler)


INTERRUPTED = "zoobench: error: interrupted; files already complete are kept, none is left half-written"


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and exit 2 for bad usage or input, unless --debug; Ctrl-C: one line, exit 130."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or bool(os.environ.get("ZOOBENCH_DEBUG"))
    _Interrupts.install()
    try:
        code = app(args=argv, prog_name="zoobench", standalone_mode=False)
        # Without standalone mode, Typer returns the code of a `typer.Exit` instead of exiting.
        if code == 130 and _Interrupts.seen:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    except _UsageError as exc:
        if debug:
            raise
        print(f"zoobench: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except ZooError as exc:
        if debug:
            raise
        print(f"zoobench: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
