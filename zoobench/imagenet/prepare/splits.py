"""OUT/train and OUT/val as a run finds and leaves them: what an earlier run finished (kept), what is refused as
not ours, the jobs for the rest, and what happens when each finishes.

A class (train) or the whole split (val) is written into a `.partial` folder, journaled when complete, then renamed
into place: a final folder means finished. A `.partial` folder is deleted only when the journal says a run on this
OUT created it; anything else of that name is the user's, and refused (never deleted).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections import Counter
from functools import partial
from pathlib import Path

from zoobench.errors import ZooError
from zoobench.imagenet.prepare.extract import Job, JobResult, chunks, train_class_job, val_chunk_job
from zoobench.imagenet.prepare.result import SplitStats
from zoobench.imagenet.prepare.scan import Plan, TrainClass
from zoobench.imagenet.prepare.state import Journal


def _not_ours(path: Path) -> ZooError:
    return ZooError(
        f"{str(path)!r} exists but no prepare-imagenet run finished it; move it away (it is never deleted) "
        "or choose an empty OUT"
    )


def _ours(paths: list[Path], out: Path, journal: Journal) -> list[Path]:
    """The `.partial` leftovers among paths, each checked to be one a run on this OUT created."""
    for path in paths:
        if path.relative_to(out).as_posix() not in journal.partials:
            raise ZooError(
                f"{str(path)!r} was not made by prepare-imagenet (its journal does not list it); move it away "
                "(it is never deleted) or choose an empty OUT"
            )
    return paths


def clear_partial(path: Path) -> None:
    """Remove one of our own leftover `.partial` folders (rmtree never follows a link inside it)."""
    assert path.name.endswith(".partial")
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _abandon(path: Path) -> None:
    with contextlib.suppress(OSError):
        clear_partial(path)


def _claim(journal: Journal, rel: str) -> None:
    """Journal a `.partial` folder before it is created, so that a later run knows it may delete it."""
    if rel not in journal.partials:
        journal.write({"partial": rel})


class TrainSplit:
    """OUT/train/<wnid>/: classes done by an earlier run are kept, the others extracted, one job per class."""

    name = "train"

    def __init__(self, out: Path, plan: Plan, journal: Journal, normalize: bool) -> None:
        self.out, self.root, self.plan, self.journal, self.normalize = out, out / "train", plan, journal, normalize
        self.stats = SplitStats(classes=len(plan.train))
        self.expected: dict[str, int] = {}
        self.todo: list[TrainClass] = []
        st = os.lstat(self.root) if os.path.lexists(self.root) else None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
            raise ZooError(f"{str(self.root)!r} is {kind}; move it away or choose an empty OUT")
        self.leftovers = _ours(sorted(self.root.glob("*.partial")) if st else [], out, journal)
        for c in plan.train:
            entry = journal.done["train"].get(c.wnid)
            if not os.path.lexists(self.root / c.wnid):
                self.todo.append(c)
            elif entry is None:
                raise _not_ours(self.root / c.wnid)
            else:
                self.expected[c.wnid] = entry["images"]
                self.stats.resumed += 1
                self.stats.bytes += entry["bytes"]
                self.stats.normalized += entry["normalized"]

    def space(self, probe: Path) -> tuple[int, int]:
        """(archive bytes to write, folders to make)."""
        return sum(c.size for c in self.todo), len(self.todo) + 1

    def start(self) -> list[Job]:
        """Clear our leftovers, claim the class folders in the journal, and return the jobs."""
        self.root.mkdir(exist_ok=True)
        for path in self.leftovers:
            clear_partial(path)
        jobs = []
        for c in self.todo:
            _claim(self.journal, f"train/{c.wnid}.partial")
            args = (c, str(self.root / f"{c.wnid}.partial"), self.normalize)
            jobs.append(Job(self.name, train_class_job, args, partial(self._finished, c), c.size))
        return jobs

    def _finished(self, c: TrainClass, r: JobResult) -> None:
        n = r.counts[c.wnid]
        self.journal.write({"class": c.wnid, "images": n, "bytes": r.bytes, "normalized": r.normalized})
        os.rename(self.root / f"{c.wnid}.partial", self.root / c.wnid)  # journaled first: a folder means finished
        self.expected[c.wnid] = n
        self.stats.extracted += 1
        self.stats.bytes += r.bytes
        self.stats.normalized += r.normalized

    def abandon(self) -> None:
        """After an error or Ctrl-C: unfinished work is never trusted; clear it now rather than leave half classes."""
        for c in self.todo:
            _abandon(self.root / f"{c.wnid}.partial")


class ValSplit:
    """OUT/val/<wnid>/: all or nothing, the images sorted by label in chunks that run alongside the train classes."""

    name = "val"

    def __init__(self, out: Path, plan: Plan, journal: Journal, normalize: bool, workers: int) -> None:
        self.final, self.partial = out / "val", out / "val.partial"
        self.plan, self.journal, self.normalize, self.workers = plan, journal, normalize, workers
        self.stats = SplitStats(classes=len({v.wnid for v in plan.val}))
        self.expected: dict[str, int] = {}
        self.done = False
        self.leftovers = _ours([self.partial] if os.path.lexists(self.partial) else [], out, journal)
        entry = journal.done["val"].get("*")
        if os.path.lexists(self.final):
            if entry is None:
                raise _not_ours(self.final)
            self.done = True
            self.expected = dict(entry["counts"])
            self.stats.bytes = entry["bytes"]
            self.stats.resumed = self.stats.classes
        self.acc = JobResult(Counter())
        self.left = 0

    def space(self, probe: Path) -> tuple[int, int]:
        """(archive bytes to write, folders to make); none for a folder hard-linked on the same file system."""
        if self.done:
            return 0, 0
        links = self.plan.source.kind == "dir" and os.stat(self.plan.source.path).st_dev == os.stat(probe).st_dev
        return (0 if links and not self.normalize else self.plan.bytes), self.stats.classes + 1

    def start(self) -> list[Job]:
        for path in self.leftovers:
            clear_partial(path)
        if self.done:
            return []
        _claim(self.journal, "val.partial")
        self.partial.mkdir()
        parts = chunks(self.plan.val, max(32 << 20, self.plan.bytes // (4 * self.workers) + 1))
        self.left = len(parts)
        return [
            Job(
                self.name, val_chunk_job, (p, str(self.partial), self.normalize), self._finished, sum(v.size for v in p)
            )
            for p in parts
        ]

    def _finished(self, r: JobResult) -> None:
        self.acc.counts.update(r.counts)
        self.acc.bytes += r.bytes
        self.acc.normalized += r.normalized
        self.left -= 1
        if self.left:
            return
        counts = dict(sorted(self.acc.counts.items()))
        entry = {"split_done": "val", "counts": counts, "bytes": self.acc.bytes, "normalized": self.acc.normalized}
        self.journal.write(entry)
        os.rename(self.partial, self.final)
        self.done, self.expected = True, counts
        self.stats.extracted = sum(counts.values())
        self.stats.bytes, self.stats.normalized = self.acc.bytes, self.acc.normalized

    def abandon(self) -> None:
        if not self.done:
            _abandon(self.partial)
