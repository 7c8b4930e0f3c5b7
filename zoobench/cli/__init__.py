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
from zoobench.cli import bench, check, eval, listing, prepare, profile, report  # noqa: F401  (registers commands)
from zoobench.cli.common import app
from zoobench.errors import ZooError

# Typer vendors click in recent releases and uses the click package in older ones: take the class from Typer.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and exit 2 for bad usage or input, unless --debug."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or bool(os.environ.get("ZOOBENCH_DEBUG"))
    try:
        code = app(args=argv, prog_name="zoobench", standalone_mode=False)
        # Without standalone mode, Typer returns the code of a `typer.Exit` instead of exiting.
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("zoobench: interrupted; nothing was written", file=sys.stderr)
        sys.exit(2)
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
    except KeyboardInterrupt:
        print("zoobench: interrupted; nothing was written", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
