"""The one way engines report progress and messages; the CLI decides how it looks.

Engines take a `Progress` (default: `SILENT`) and never print. A task counts items (models, classes, images) or
bytes; `advance(label=…, result=…)` hands over the finished item so that the renderer, not the engine, formats it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol, TextIO

PREFIX = "zoobench"


def line(level: str, text: str) -> str:
    """The one stderr style: `zoobench: warning: …`, `zoobench: note: …`, `zoobench: error: …`."""
    return f"{PREFIX}: {level}: {text}"


class Task(Protocol):
    def advance(self, n: float = 1, *, label: str = "", result: object = None) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def task(self, what: str, total: float | None = None, unit: str = "items") -> Task: ...

    def message(self, level: str, text: str) -> None: ...


class _SilentTask:
    def advance(self, n: float = 1, *, label: str = "", result: object = None) -> None:
        pass

    def close(self) -> None:
        pass


class Silent:
    """For Python callers: nothing is shown; warnings still reach the typed results that carry them."""

    def task(self, what: str, total: float | None = None, unit: str = "items") -> Task:
        return _SilentTask()

    def message(self, level: str, text: str) -> None:
        pass


SILENT = Silent()

Describe = Callable[[object], str]


class _LineTask:
    def __init__(self, out: TextIO, what: str, total: float | None, unit: str, describe: Describe | None) -> None:
        self.out, self.what, self.total, self.unit, self.describe = out, what, total, unit, describe
        self.done = 0.0

    def advance(self, n: float = 1, *, label: str = "", result: object = None) -> None:
        self.done += n
        if (not label and result is None) or self.total == 1:
            return  # a byte count or an unnamed step is too fine-grained for a log line; one item needs no count
        count = f"[{self.done:g}/{self.total:g}] " if self.total and self.unit == "items" else ""
        detail = self.describe(result) if self.describe is not None and result is not None else ""
        text = f"{count}{label}{': ' if label and detail else ''}{detail}"
        print(f"{PREFIX}: {self.what}: {text}", file=self.out, flush=True)

    def close(self) -> None:
        pass


class Lines:
    """Not a terminal (a log, CI, `make run`): one line per finished item, so a log shows where a run got to."""

    def __init__(self, out: TextIO | None = None, describe: Describe | None = None) -> None:
        self.out = out or sys.stderr
        self.describe = describe

    def task(self, what: str, total: float | None = None, unit: str = "items") -> Task:
        return _LineTask(self.out, what, total, unit, self.describe)

    def message(self, level: str, text: str) -> None:
        print(line(level, text), file=self.out, flush=True)


class _BarTask:
    def __init__(self, bars: Bars, what: str, total: float | None, unit: str) -> None:
        self.bars, self.unit = bars, unit
        self.id = bars.progress.add_task(what, total=total)

    def advance(self, n: float = 1, *, label: str = "", result: object = None) -> None:
        self.bars.progress.advance(self.id, n)
        if result is not None and self.bars.describe is not None:
            self.bars.progress.console.print(
                f"{label}: {self.bars.describe(result)}" if label else self.bars.describe(result),
                highlight=False,
                markup=False,
            )

    def close(self) -> None:
        self.bars.progress.remove_task(self.id)


class Bars:
    """A terminal: an n/N bar per task (rich, on stderr) and each finished item's line above the bars."""

    def __init__(self, describe: Describe | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.describe = describe
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def task(self, what: str, total: float | None = None, unit: str = "items") -> Task:
        return _BarTask(self, what, total, unit)

    def message(self, level: str, text: str) -> None:
        self.progress.console.print(line(level, text), highlight=False, markup=False, soft_wrap=True)
