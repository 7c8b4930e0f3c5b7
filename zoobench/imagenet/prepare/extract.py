"""Writing the images: one job per inner tar (train) or chunk of validation images, run on a thread pool.

The work is system calls (open, copy_file_range, close) that run outside the GIL, so threads overlap as well as
processes would, start at once, and die with the process: a killed run leaves nothing behind that keeps writing.
Each job writes into a `.partial` folder; what becomes of its result (journal, rename) is the caller's, in the
calling thread.
"""

from __future__ import annotations

import errno
import io
import os
import tarfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from zoobench.errors import ZooError, describe
from zoobench.imagenet.prepare.scan import TrainClass, ValImage, train_re
from zoobench.imagenet.prepare.tarsafe import NOWHERE, Window, accept, check_end, members, open_tar
from zoobench.output.progress import Progress, Task

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_copy_file_range = hasattr(os, "copy_file_range")


class Shared:
    """What the worker threads of one run share: archive bytes done per split (for progress), and a stop flag, set
    on the first error or Ctrl-C, that the others check before each image."""

    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, split: str, n: int) -> None:
        with self.lock:
            self.done[split] += n

    def check(self) -> None:
        if self.stop.is_set():
            raise Stopped


class Stopped(Exception):
    """A job gave up because another one failed; not an error of its own."""


@dataclass
class JobResult:
    counts: dict[str, int]  # images per class
    bytes: int = 0
    normalized: list[str] = field(default_factory=list)  # names of re-encoded images


# --- one image -----------------------------------------------------------------------------------------------------


def normalize_image(data: bytes, where: str) -> tuple[bytes, bool]:
    """RGB JPEGs unchanged; anything else (CMYK, grayscale, a PNG named .JPEG) re-encoded as an RGB JPEG."""
    from PIL import Image  # only --normalize-images needs PIL

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format == "JPEG" and img.mode == "RGB":
                return data, False
            rgb = img.convert("RGB")
    except Exception as exc:  # PIL raises many types for a damaged image
        raise ZooError(f"{where}: cannot decode the image to normalize it: {exc}") from exc
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=95)
    return buf.getvalue(), True


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy_range(src: int, dst: int, offset: int, size: int, where: str) -> None:
    """Copy bytes [offset, offset + size) of src to dst: in the kernel where it can, else through a buffer."""
    global _copy_file_range
    done = 0
    while done < size:
        n = 0
        if _copy_file_range:
            try:
                n = os.copy_file_range(src, dst, size - done, offset + done)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                    raise
                _copy_file_range = False
                continue
        else:
            chunk = os.pread(src, min(size - done, 4 << 20), offset + done)
            _write_all(dst, chunk)
            n = len(chunk)
        if n == 0:
            raise ZooError(f"{where} is truncated: its data ends {size - done:,} bytes early")
        done += n


def write_image(src: int, offset: int, size: int, target: str, normalize: bool, where: str) -> tuple[int, bool]:
    """One image from src's byte range into a new file (never through an existing file or link)."""
    changed = False
    if normalize:
        data = os.pread(src, size, offset)
        if len(data) != size:
            raise ZooError(f"{where} is truncated: its data ends {size - len(data):,} bytes early")
        data, changed = normalize_image(data, where)
        size = len(data)
    fd = os.open(target, _WRITE_FLAGS, 0o644)
    try:
        if normalize:
            _write_all(fd, data)
        else:
            _copy_range(src, fd, offset, size, where)
    finally:
        os.close(fd)
    return size, changed


def _os_error(exc: OSError, where: str) -> ZooError:
    if exc.errno == errno.ENOSPC:
        return ZooError(f"{where}: the disk is full ({exc.filename}); free space and run again to resume")
    if exc.errno == errno.EEXIST and str(exc.filename).endswith(".JPEG"):
        return ZooError(f"{where}: two members are named {Path(exc.filename or '').name!r}")
    return ZooError(f"{where}: {exc.strerror or exc} ({exc.filename})")


# --- jobs ------------------------------------------------------------------------------------------------------------


def train_class_job(job: TrainClass, dest: str | None, normalize: bool, shared: Shared | None = None) -> JobResult:
    """Extract one inner tar into `dest` (a fresh <wnid>.partial folder), or only count and check it (dest=None)."""
    shared = shared or Shared()
    pattern = train_re(job.wnid)
    result = JobResult({job.wnid: 0})
    try:
        fd = os.open(job.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            win = Window(fd, job.offset, job.size)
            tar = open_tar(win, job.label)
            if dest is not None:
                os.mkdir(dest)
            for m in members(tar, job.label):
                shared.check()
                name = accept(m, pattern, job.label, dest or NOWHERE)
                if dest is not None:
                    where = f"{job.label} > {name}"
                    n, changed = write_image(
                        fd, job.offset + m.offset_data, m.size, os.path.join(dest, name), normalize, where
                    )
                    result.bytes += n
                    if changed:
                        result.normalized.append(name)
                result.counts[job.wnid] += 1
                shared.add("train", m.size + tarfile.BLOCKSIZE)
            check_end(win, tar, job.label)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _os_error(exc, job.label) from exc
    return result


class _Sources:
    """Open read descriptors for val_chunk_job: the archive stays open; files of a folder one at a time."""

    def __init__(self) -> None:
        self.fds: dict[str, int] = {}

    def fd(self, v: ValImage) -> int:
        if v.path not in self.fds:
            if v.offset < 0 and self.fds:
                os.close(self.fds.popitem()[1])
            self.fds[v.path] = os.open(v.path, os.O_RDONLY | os.O_CLOEXEC)
        return self.fds[v.path]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


def val_chunk_job(items: Sequence[ValImage], dest: str, normalize: bool, shared: Shared | None = None) -> JobResult:
    """Sort some validation images into dest/<wnid>/. From a flat folder, files are hard-linked when the file system
    allows (no extra space; the originals stay where they are), else copied."""
    shared = shared or Shared()
    result = JobResult(Counter())
    made: set[str] = set()
    sources = _Sources()
    link = not normalize
    try:
        for v in items:
            shared.check()
            folder = os.path.join(dest, v.wnid)
            if v.wnid not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(v.wnid)
            target = os.path.join(folder, v.name)
            linked = False
            if v.offset < 0 and link:
                try:
                    os.link(v.path, target)
                    linked, n = True, v.size
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                        raise
                    link = False
            if not linked:
                where = v.name if v.offset >= 0 else v.path
                n, changed = write_image(sources.fd(v), max(v.offset, 0), v.size, target, normalize, where)
                if changed:
                    result.normalized.append(v.name)
            result.counts[v.wnid] += 1
            result.bytes += n
            shared.add("val", v.size + tarfile.BLOCKSIZE)
    except OSError as exc:
        raise _os_error(exc, items[0].path if items else dest) from exc
    finally:
        sources.close()
    result.counts = dict(result.counts)
    return result


def chunks(items: Sequence[ValImage], target_bytes: int) -> list[list[ValImage]]:
    out, current, size = [], [], 0
    for v in items:
        current.append(v)
        size += v.size
        if size >= target_bytes:
            out.append(current)
            current, size = [], 0
    if current:
        out.append(current)
    return out


# --- the pool --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    split: str
    fn: Callable[..., JobResult]  # called as fn(*args, shared) in a worker thread
    args: tuple
    done: Callable[[JobResult], None]  # called with the result in the calling thread
    size: int  # archive bytes it reads, for progress


@contextmanager
def _pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    ex = ThreadPoolExecutor(workers, thread_name_prefix="prepare-imagenet")
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _report(shared: Shared, tasks: dict[str, Task], shown: Counter[str]) -> None:
    for split, task in tasks.items():
        step = shared.done[split] - shown[split]
        if step:
            task.advance(step)
            shown[split] += step


def run_jobs(jobs: Sequence[Job], workers: int, progress: Progress, what: str) -> None:
    """Run jobs on `workers` threads, handing each result to its `done` in the calling thread as it comes (journal
    writes and renames happen in one place), with a bytes task "<what> <split>" per split.

    On the first error, stop the others, wait for them, then raise it; on Ctrl-C the same, and KeyboardInterrupt
    goes on up unchanged. Jobs that finished still count."""
    if not jobs:
        return
    totals: Counter[str] = Counter()
    for job in jobs:
        totals[job.split] += job.size
    tasks = {split: progress.task(f"{what} {split}", n, unit="B") for split, n in totals.items()}
    shared, shown = Shared(), Counter()
    error: BaseException | None = None
    try:
        with _pool(min(workers, len(jobs))) as ex:
            pending: dict[Future, Job] = {ex.submit(job.fn, *job.args, shared): job for job in jobs}
            try:
                while pending:
                    finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    _report(shared, tasks, shown)
                    for fut in finished:
                        job = pending.pop(fut)
                        exc = None if fut.cancelled() else fut.exception()
                        if fut.cancelled() or isinstance(exc, Stopped):
                            continue
                        if exc is None:
                            job.done(fut.result())
                        elif error is None:
                            error = exc
                            shared.stop.set()
                            for other in pending:
                                other.cancel()
            except BaseException:
                shared.stop.set()  # the pool's exit waits for the running jobs, which now stop at their next image
                raise
        _report(shared, tasks, shown)
    finally:
        for task in tasks.values():
            task.close()
    if isinstance(error, ZooError):
        raise error
    if error is not None:
        raise ZooError(f"a worker failed: {describe(error)}") from error
