"""The one exception the CLI turns into a single stderr line and exit code 2, and the guard around user code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ZooError(Exception):
    """Bad usage or bad input: unknown model, bad option, unreadable or hostile file."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, else its type name: what one stderr line can hold."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(exc: BaseException) -> str:
    """`Type: first line`, the form every guarded failure is reported in."""
    return f"{type(exc).__name__}: {first_line(exc)}"


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run user code (an import, a builder, a forward) so that anything it raises becomes one ZooError naming `what`.

    SystemExit is caught too: a user module calling sys.exit() must not end zoobench without a word. Ctrl-C and a
    ZooError (already one clear line) pass through unchanged.
    """
    try:
        yield
    except (ZooError, KeyboardInterrupt):
        raise
    except SystemExit as exc:
        raise ZooError(f"{what}: called sys.exit({exc.code!r})") from exc
    except RecursionError as exc:
        raise ZooError(f"{what}: RecursionError: nesting too deep") from exc
    except MemoryError as exc:
        raise ZooError(f"{what}: MemoryError: out of memory") from exc
    except Exception as exc:
        raise ZooError(f"{what}: {describe(exc)}") from exc
