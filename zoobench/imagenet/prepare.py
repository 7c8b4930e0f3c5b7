"""`zoobench prepare-imagenet SRC OUT`: the official ILSVRC2012 archives -> OUT/train/<wnid>/, OUT/val/<wnid>/ and
OUT/classes.json, verified. Replaces the seed's unzip.sh and valprep.sh.

How:
- The outer train tar is read header by header; each inner `<wnid>.tar` is read by a worker straight from its byte
  range inside the outer archive, and its images are copied (kernel copy_file_range) into OUT/train/<wnid>.partial/.
  Inner tars never land on disk, every archive byte is read once, and peak disk use is the final tree.
- Classes run in parallel (--workers threads, default: the usable cores; the work is system calls, which run outside
  the GIL); validation images are split into chunks that run alongside them.
- Atomic and resumable: a class is renamed from `<wnid>.partial` to `<wnid>` only when complete, after the journal
  (OUT/.zoobench-prepare/journal.jsonl) records it. A re-run skips journaled classes whose folder exists, deletes
  leftover `*.partial` folders (ours by name) and redoes them. A POSIX lock on OUT/.zoobench-prepare/lock stops two
  runs on the same OUT; the kernel drops it when a run dies, even by SIGKILL.
- Safe: only regular-file members whose names fit the layout are accepted; traversal, absolute names, links and
  devices are refused by name (and by tarfile's 'data' filter as a second check), and files are created with
  O_EXCL | O_NOFOLLOW inside OUT. The user's archives are opened read-only and never touched.
- Verified at the end of every run (and alone with --verify-only) against the counts the archives imply; for the real
  set also against the published counts. --md5 checks the published MD5s, caching each verdict by size and mtime.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from zoobench.errors import ZooError
from zoobench.imagenet import devkit as dk
from zoobench.output import columns as report
from zoobench.output.files import atomic_write

TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
DEVKIT = dk.DEVKIT_NAME
SPLITS = ("train", "val")
PUBLISHED_MD5 = {"train": "1d675b47d978889d74fa0da5fadfb00e", "val": "29b22e2961454d5413ddabcf34fc5622"}
PUBLISHED_CLASSES, PUBLISHED_TRAIN, PUBLISHED_VAL_PER_CLASS = 1000, 1_281_167, 50
STATE = ".zoobench-prepare"  # hidden folder in OUT: lock and journal
DISK_MARGIN = 1.03  # a file's last block is only partly used; tar headers (512 B per image) do not cover all of it
DISK_SLACK = 16 << 20

OUTER_RE = re.compile(r"(?:\./)?((n\d{8})\.tar)")  # group 1: the file name, 2: the WNID
VAL_RE = re.compile(r"(?:\./)?(ILSVRC2012_val_(\d{8})\.JPEG)")
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _train_re(wnid: str) -> re.Pattern[str]:
    return re.compile(rf"(?:\./)?({wnid}_\d+\.JPEG)")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


# --- inputs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    split: str
    path: Path
    kind: str  # "tar": the official archive; "dir": the archive already extracted (inner tars / flat JPEGs)


@dataclass(frozen=True)
class Sources:
    devkit: Path
    splits: dict[str, Source]


def find_sources(
    src: str | Path | None,
    splits: Sequence[str] = SPLITS,
    *,
    train: str | Path | None = None,
    val: str | Path | None = None,
    devkit: str | Path | None = None,
) -> Sources:
    """The devkit and one source per split: explicit paths win, else the official names (or train/, val/) in SRC."""
    src = Path(src) if src is not None else None
    if src is not None and not src.is_dir():
        raise ZooError(f"SRC {str(src)!r} is not a folder (it should hold {TRAIN_TAR}, {VAL_TAR} and {DEVKIT})")

    def pick(explicit: str | Path | None, names: Sequence[str], option: str) -> Path | None:
        if explicit is not None:
            path = Path(explicit)
            if not path.exists():
                raise ZooError(f"{option} {str(path)!r} does not exist")
            return path
        for name in names:
            if src is not None and (src / name).exists():
                return src / name
        return None

    kit = pick(devkit, [DEVKIT, "ILSVRC2012_devkit_t12"], "--devkit")
    if kit is None:
        raise ZooError(
            f"no devkit in {str(src)!r}: {DEVKIT} ('Development kit (Task 1 & 2)' on image-net.org) names the classes "
            "and labels the validation images; put it there or pass --devkit"
        )
    found = {}
    for split in splits:
        if split not in SPLITS:
            raise ZooError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
        archive = TRAIN_TAR if split == "train" else VAL_TAR
        path = pick(train if split == "train" else val, [archive, split], f"--{split}")
        if path is None:
            raise ZooError(
                f"no {split} images in {str(src)!r}: expected {archive} (or a {split}/ folder it was extracted into); "
                f"pass --{split} PATH, or leave {split} out with --splits"
            )
        found[split] = Source(split, path, "dir" if path.is_dir() else "tar")
    if not found:
        raise ZooError("no split to prepare: --splits takes train, val or train,val")
    return Sources(kit, found)


def _check_no_overlap(sources: Sources, out: Path) -> None:
    """OUT must not be inside an input folder, nor an input folder inside OUT's trees: we would write into it."""
    out = out.resolve()
    for s in sources.splits.values():
        if s.kind != "dir":
            continue
        p = s.path.resolve()
        if out == p or p in out.parents or out in p.parents:
            raise ZooError(f"OUT {str(out)!r} overlaps the input folder {str(p)!r}; choose an OUT outside it")


# --- reading tar members in place ---------------------------------------------------------------------------------


class _Window(io.RawIOBase):
    """A read-only, seekable view of bytes [start, start + size) of an open file, read with pread (no shared
    file position, so several readers can share one fd)."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        super().__init__()
        self.fd, self.start, self.size, self.pos = fd, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + pos)
        return self.pos

    def readinto(self, buf) -> int:  # noqa: ANN001 (any writable buffer)
        n = min(len(buf), self.size - self.pos)
        if n <= 0:
            return 0
        got = os.preadv(self.fd, [memoryview(buf)[:n]], self.start + self.pos)
        self.pos += got
        return got

    def pread(self, offset: int, n: int) -> bytes:
        n = max(0, min(n, self.size - offset))
        return os.pread(self.fd, n, self.start + offset) if n else b""


def _refusal(member: tarfile.TarInfo, pattern: re.Pattern[str]) -> str | None:
    """Why a member is refused, or None. Type first (a link is refused whatever its name), then the name."""
    name = member.name
    if member.issym():
        return f"symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "FIFO"
    if member.isdir():
        return "directory (the layout has only files)"
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        return f"not a regular file (tar type {member.type!r})"
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        return "absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "path traversal (..)"
    if not pattern.fullmatch(name):
        return f"name does not fit the ILSVRC2012 layout ({pattern.pattern})"
    return None


def _accept(member: tarfile.TarInfo, pattern: re.Pattern[str], where: str, dest: str) -> str:
    """The file name to write for an acceptable member; a refused member is an error naming it, never a skip."""
    reason = _refusal(member, pattern)
    if reason is None:
        try:  # second line of defence: the standard library's own idea of a safe member
            tarfile.data_filter(member, dest)
        except tarfile.FilterError as exc:
            reason = f"refused by tarfile's data filter: {exc}"
    match = pattern.fullmatch(member.name)
    if reason is None and (match is None or not member.isreg()):  # and a third: only plain files named by the layout
        reason = f"not a plain file named as the ILSVRC2012 layout says ({pattern.pattern})"
    if reason is not None:
        raise ZooError(f"{where}: refused member {member.name!r}: {reason}; nothing is written outside OUT")
    return match.group(1)


def _members(tar: tarfile.TarFile, where: str) -> Iterable[tarfile.TarInfo]:
    """Members one at a time (headers only); a damaged or cut-off archive is an error naming it."""
    try:
        yield from tar
    except (tarfile.TarError, EOFError) as exc:
        raise ZooError(f"{where} is truncated or damaged: {exc}") from exc


def _open_tar(win: _Window, where: str) -> tarfile.TarFile:
    try:
        return tarfile.TarFile(fileobj=win, mode="r")
    except (tarfile.TarError, EOFError) as exc:
        raise ZooError(f"{where} is truncated or not a tar archive: {exc}") from exc


def _check_end(win: _Window, tar: tarfile.TarFile, where: str) -> None:
    """tarfile stops quietly at a cut-off or garbled header; a complete archive has a zero block there."""
    block = win.pread(tar.offset, tarfile.BLOCKSIZE)
    if len(block) < tarfile.BLOCKSIZE or block.count(0) != tarfile.BLOCKSIZE:
        raise ZooError(f"{where} is truncated or damaged: no end-of-archive marker at byte {tar.offset:,}")


# --- what the archives hold ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainClass:
    wnid: str
    path: str  # the outer archive, or the inner tar file of a train folder
    offset: int  # byte range of the inner tar inside `path`
    size: int
    label: str  # for messages: "ILSVRC2012_img_train.tar > n01440764.tar"


@dataclass(frozen=True)
class ValImage:
    name: str
    wnid: str
    path: str  # the val archive, or the file itself in a flat val folder
    offset: int
    size: int


@dataclass
class Plan:
    source: Source
    fingerprint: dict
    train: list[TrainClass] = field(default_factory=list)
    val: list[ValImage] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(c.size for c in self.train) + sum(v.size for v in self.val)


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except OSError as exc:
        raise ZooError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc


def _folder_entries(folder: Path, pattern: re.Pattern[str], warn: Callable[[str], None]) -> list[os.DirEntry]:
    """Entries of an extracted folder whose names fit the layout; other entries are named in a warning."""
    keep, other = [], []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise ZooError(f"cannot read the folder {str(folder)!r}: {exc.strerror or exc}") from exc
    for e in entries:
        (keep if pattern.fullmatch(e.name) and e.is_file() else other).append(e)
    if other:
        shown = ", ".join(e.name for e in other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        warn(f"{folder}: ignoring {len(other)} entries that are not {pattern.pattern} files: {shown}")
    return keep


def _scan_tar(path: Path, pattern: re.Pattern[str], found: Callable[[str, int, int], None]) -> int:
    """Call found(name, offset, size) for each member of an outer tar, in order, reading only the headers; every
    member must fit `pattern`. Returns the tar's size."""
    where = path.name
    size = _stat(path).st_size
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        win = _Window(fd, 0, size)
        tar = _open_tar(win, where)
        for m in _members(tar, where):
            found(_accept(m, pattern, where, "/nonexistent-destination"), m.offset_data, m.size)
        _check_end(win, tar, where)
    finally:
        os.close(fd)
    return size


def scan_train(source: Source, classes: set[str], warn: Callable[[str], None]) -> Plan:
    """The inner tars: their class and byte range. Reads only the outer headers (about 1,000 small reads)."""
    plan = Plan(source, {})
    seen: set[str] = set()

    def add(wnid: str, path: str, offset: int, size: int, label: str) -> None:
        if wnid not in classes:
            raise ZooError(f"{label}: class {wnid} is not a leaf synset of the devkit's meta.mat")
        if wnid in seen:
            raise ZooError(f"{label}: class {wnid} appears twice")
        seen.add(wnid)
        plan.train.append(TrainClass(wnid, path, offset, size, label))

    if source.kind == "dir":
        for e in _folder_entries(source.path, OUTER_RE, warn):
            add(OUTER_RE.fullmatch(e.name).group(2), e.path, 0, e.stat().st_size, f"{source.path.name}/{e.name}")
        if not plan.train:
            raise ZooError(f"the train folder {str(source.path)!r} holds no <wnid>.tar files")
        plan.fingerprint = {"kind": "dir", "files": len(plan.train), "bytes": plan.bytes}
        return plan
    where = source.path.name

    def member(name: str, offset: int, size: int) -> None:
        add(OUTER_RE.fullmatch(name).group(2), str(source.path), offset, size, f"{where} > {name}")

    size = _scan_tar(source.path, OUTER_RE, member)
    if not plan.train:
        raise ZooError(f"{where} holds no <wnid>.tar members")
    plan.fingerprint = {"kind": "tar", "name": where, "bytes": size}
    return plan


def scan_val(source: Source, kit: dk.Devkit, warn: Callable[[str], None]) -> Plan:
    """Every validation image with its class (ground truth ID -> WNID). Reads only the headers."""
    plan = Plan(source, {})

    def label(name: str, where: str) -> str:
        wnid = kit.val_wnid(int(VAL_RE.fullmatch(name).group(2)))
        if wnid is None:
            raise ZooError(f"{where}: {name} has no label in the devkit's ground truth ({len(kit.val_wnids)} lines)")
        return wnid

    if source.kind == "dir":
        for e in _folder_entries(source.path, VAL_RE, warn):
            plan.val.append(ValImage(e.name, label(e.name, str(source.path)), e.path, -1, e.stat().st_size))
        if not plan.val:
            raise ZooError(f"the val folder {str(source.path)!r} holds no ILSVRC2012_val_*.JPEG files")
        plan.fingerprint = {"kind": "dir", "files": len(plan.val), "bytes": plan.bytes}
        return plan
    where = source.path.name

    def member(name: str, offset: int, size: int) -> None:
        plan.val.append(ValImage(name, label(name, where), str(source.path), offset, size))

    size = _scan_tar(source.path, VAL_RE, member)
    names = [v.name for v in plan.val]
    if len(set(names)) != len(names):
        dup = next(n for n, c in Counter(names).items() if c > 1)
        raise ZooError(f"{where}: member {dup!r} appears twice")
    if not plan.val:
        raise ZooError(f"{where} holds no ILSVRC2012_val_*.JPEG members")
    plan.fingerprint = {"kind": "tar", "name": where, "bytes": size}
    return plan


# --- workers ------------------------------------------------------------------------------------------------------

_copy_file_range = hasattr(os, "copy_file_range")


class Shared:
    """What the worker threads of one run share: bytes done per split (0 train, 1 val) for the progress bars, and a
    stop flag, set on the first error or Ctrl-C, that the others check before each image."""

    def __init__(self) -> None:
        self.done = [0, 0]
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, slot: int, n: int) -> None:
        with self.lock:
            self.done[slot] += n

    def check(self) -> None:
        if self.stop.is_set():
            raise _Stopped


class _Stopped(Exception):
    """A job gave up because another one failed; not an error of its own."""


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


def _write_image(src: int, offset: int, size: int, target: str, normalize: bool, where: str) -> tuple[int, bool]:
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


@dataclass
class JobResult:
    counts: dict[str, int]  # images per class
    bytes: int
    normalized: list[str]  # names of re-encoded images


def _os_error(exc: OSError, where: str) -> ZooError:
    if exc.errno == errno.ENOSPC:
        return ZooError(f"{where}: the disk is full ({exc.filename}); free space and run again to resume")
    if exc.errno == errno.EEXIST and str(exc.filename).endswith(".JPEG"):
        return ZooError(f"{where}: two members are named {Path(exc.filename or '').name!r}")
    return ZooError(f"{where}: {exc.strerror or exc} ({exc.filename})")


def train_class_job(job: TrainClass, dest: str | None, normalize: bool, shared: Shared | None = None) -> JobResult:
    """Extract one inner tar into `dest` (a fresh <wnid>.partial folder), or only count and check it (dest=None)."""
    shared = shared or Shared()
    pattern = _train_re(job.wnid)
    result = JobResult({job.wnid: 0}, 0, [])
    try:
        fd = os.open(job.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            win = _Window(fd, job.offset, job.size)
            tar = _open_tar(win, job.label)
            if dest is not None:
                os.mkdir(dest)
            for m in _members(tar, job.label):
                shared.check()
                name = _accept(m, pattern, job.label, dest or "/nonexistent-destination")
                if dest is not None:
                    where = f"{job.label} > {name}"
                    n, changed = _write_image(
                        fd, job.offset + m.offset_data, m.size, os.path.join(dest, name), normalize, where
                    )
                    result.bytes += n
                    if changed:
                        result.normalized.append(name)
                result.counts[job.wnid] += 1
                shared.add(0, m.size + tarfile.BLOCKSIZE)
            _check_end(win, tar, job.label)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _os_error(exc, job.label) from exc
    return result


def val_chunk_job(items: Sequence[ValImage], dest: str, normalize: bool, shared: Shared | None = None) -> JobResult:
    """Sort some validation images into dest/<wnid>/. From a flat folder, files are hard-linked when the file system
    allows (no extra space; the originals stay where they are), else copied."""
    shared = shared or Shared()
    result = JobResult(Counter(), 0, [])
    made: set[str] = set()
    fds: dict[str, int] = {}
    link = True
    try:
        for v in items:
            shared.check()
            where = v.name if v.offset >= 0 else v.path
            folder = os.path.join(dest, v.wnid)
            if v.wnid not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(v.wnid)
            target = os.path.join(folder, v.name)
            if v.offset < 0 and link and not normalize:
                try:
                    os.link(v.path, target)
                    n = v.size
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                        raise
                    link = False
            if v.offset >= 0 or not link or normalize:
                if v.path not in fds:
                    if v.offset < 0 and fds:  # one file at a time from a folder
                        os.close(fds.popitem()[1])
                    fds[v.path] = os.open(v.path, os.O_RDONLY | os.O_CLOEXEC)
                n, changed = _write_image(fds[v.path], max(v.offset, 0), v.size, target, normalize, where)
                if changed:
                    result.normalized.append(v.name)
            result.counts[v.wnid] += 1
            result.bytes += n
            shared.add(1, v.size + tarfile.BLOCKSIZE)
    except OSError as exc:
        raise _os_error(exc, items[0].path if items else dest) from exc
    finally:
        for fd in fds.values():
            os.close(fd)
    result.counts = dict(result.counts)
    return result


def _chunks(items: Sequence[ValImage], target_bytes: int) -> list[list[ValImage]]:
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


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """Worker threads. The work is system calls (open, copy_file_range, close) that run outside the GIL, so threads
    overlap as well as processes would, start at once, and die with the process: a killed run leaves nothing
    behind that keeps writing into OUT."""
    ex = ThreadPoolExecutor(workers, thread_name_prefix="prepare-imagenet")
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


# --- journal and lock -------------------------------------------------------------------------------------------


class Journal:
    """Append-only JSON lines in OUT/.zoobench-prepare/journal.jsonl: the source of each split and each finished
    class (train) or finished split (val). A line cut off by a kill is dropped on the next open."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        self.sources: dict[str, dict] = {}
        self.done: dict[str, dict[str, dict]] = {"train": {}, "val": {}}
        lines = []
        if path.exists():
            raw = path.read_bytes()
            for piece in raw.split(b"\n")[:-1]:  # the last piece has no newline: empty, or cut off
                try:
                    entry = json.loads(piece)
                except ValueError:
                    break
                lines.append(piece)
                self._apply(entry)
            if not readonly and len(raw) != sum(len(x) + 1 for x in lines):
                atomic_write(path, "".join(x.decode() + "\n" for x in lines))
        self.fh = None if readonly else open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def _apply(self, e: dict) -> None:
        if "source" in e:
            self.sources[e["source"]] = e
            self.done[e["source"]] = {}  # a new source starts its split afresh
        elif "class" in e:
            self.done["train"][e["class"]] = e
        elif "split_done" in e:
            self.done[e["split_done"]] = {w: {"images": n} for w, n in e["counts"].items()}
            self.done[e["split_done"]]["*"] = e

    def write(self, entry: dict) -> None:
        self._apply(entry)
        self.fh.write(json.dumps(entry, sort_keys=True) + "\n")
        self.fh.flush()  # in the kernel now: survives a kill. (No fsync: the images are not synced either.)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


class Lock:
    """A POSIX lock on OUT/.zoobench-prepare/lock holding the owner's pid. The kernel releases it when the owner
    dies, so a killed run never leaves a stale lock behind."""

    def __init__(self, out: Path) -> None:
        self.path = out / STATE / "lock"
        self.fd: int | None = None

    def __enter__(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ZooError(
                f"{str(self.path.parent.parent)!r} is in use by another prepare-imagenet run (pid {other}); "
                "wait for it to finish or stop it, then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


# --- MD5 ------------------------------------------------------------------------------------------------------


def _cache_file() -> Path:
    base = os.environ.get("ZOOBENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zoobench"
    )
    return Path(base) / "archive-md5.json"


def md5_of(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, bool]:
    """(MD5 hex, whether it came from the cache). The cache is keyed by the file's path, size and mtime, so a
    changed or replaced file is hashed again."""
    st = _stat(path)
    key = str(path.resolve())
    cache_path = _cache_file()
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    hit = cache.get(key)
    if isinstance(hit, dict) and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
        return hit["md5"], True
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    value = digest.hexdigest()
    cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": value}
    with contextlib.suppress(OSError, ZooError):  # a cache we cannot write only costs time next run
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_path, json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return value, False


# --- verification -------------------------------------------------------------------------------------------------


def _problem(split: str, cls: str, expected: object, found: object, status: str) -> dict:
    return {"split": split, "class": cls, "expected": expected, "found": found, "status": status}


def _scan_class(path: str, split: str, wnid: str, kit: dk.Devkit) -> tuple[int, list[str]]:
    """Images that belong in this class folder, and the names of entries that do not."""
    good, bad = 0, []
    pattern = _train_re(wnid) if split == "train" else VAL_RE
    for e in os.scandir(path):
        m = pattern.fullmatch(e.name)
        if m and e.is_file(follow_symlinks=False):
            if split == "val" and kit.val_wnid(int(m.group(2))) != wnid:
                bad.append(f"{e.name} (labelled {kit.val_wnid(int(m.group(2)))})")
                continue
            good += 1
        else:
            bad.append(e.name)
    return good, bad


def verify_split(out: Path, split: str, expected: dict[str, int], kit: dk.Devkit) -> tuple[int, list[dict]]:
    """Compare OUT/<split> with the expected images per class; problems by class."""
    root = out / split
    if not root.is_dir():
        return 0, [_problem(split, "-", sum(expected.values()), 0, f"missing folder {root}")]
    problems, found = [], {}
    for e in sorted(os.scandir(root), key=lambda e: e.name):
        if e.name.startswith("."):
            continue
        if e.is_dir(follow_symlinks=False) and e.name in expected:
            found[e.name], bad = _scan_class(e.path, split, e.name, kit)
            for name in bad[:3]:
                problems.append(_problem(split, e.name, "", "", f"unexpected entry {name}"))
            if len(bad) > 3:
                problems.append(_problem(split, e.name, "", "", f"... and {len(bad) - 3} more unexpected entries"))
        elif e.name.endswith(".partial"):
            problems.append(_problem(split, e.name, "", "", "unfinished class folder (run again to resume)"))
        else:
            kind = "folder" if e.is_dir(follow_symlinks=False) else "entry"
            problems.append(_problem(split, e.name, "", "", f"unexpected {kind} (no such class in the archive)"))
    for wnid, n in sorted(expected.items()):
        if wnid not in found:
            problems.append(_problem(split, wnid, n, 0, "missing class folder"))
        elif found[wnid] != n:
            diff = found[wnid] - n
            problems.append(
                _problem(split, wnid, n, found[wnid], f"{_n(abs(diff), 'image')} {'extra' if diff > 0 else 'missing'}")
            )
    return sum(found.values()), problems


def published_problems(split: str, expected: dict[str, int], kit: dk.Devkit) -> list[dict]:
    """For the real 1,000-class set, the archive itself must hold the published counts."""
    if len(kit.classes) != PUBLISHED_CLASSES:
        return []
    out = []
    if len(expected) != PUBLISHED_CLASSES:
        out.append(_problem(split, "(classes)", PUBLISHED_CLASSES, len(expected), "the archive lacks classes"))
    total = sum(expected.values())
    if split == "train" and total != PUBLISHED_TRAIN:
        out.append(_problem(split, "(published)", PUBLISHED_TRAIN, total, "the archive differs from the published set"))
    if split == "val":
        for wnid, n in sorted(expected.items()):
            if n != PUBLISHED_VAL_PER_CLASS:
                out.append(
                    _problem(split, wnid, PUBLISHED_VAL_PER_CLASS, n, "the archive differs from the published set")
                )
    return out


# --- the command ----------------------------------------------------------------------------------------------


@dataclass
class SplitStats:
    classes: int = 0
    images: int = 0
    bytes: int = 0
    extracted: int = 0  # classes (train) or images (val) written by this run
    resumed: int = 0  # classes already done by an earlier run (train); val is all or nothing
    normalized: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PrepareResult:
    out: Path
    rows: list[dict]  # the table: one total row per split, md5 rows, then one row per problem
    problems: list[dict]
    stats: dict[str, SplitStats]

    @property
    def ok(self) -> bool:
        return not self.problems


def _cell(value: object) -> str:
    if value is None or value == "":
        return ""
    return f"{value:,}" if isinstance(value, int) else str(value)


COLUMNS = [
    report.Column("split", "Split", report.text),
    report.Column("class", "Class", report.text),
    report.Column("expected", "Expected", _cell),
    report.Column("found", "Found", _cell),
    report.Column("status", "Status", report.text),
    report.Column("extracted", "Written now", _cell),
    report.Column("resumed", "Done before", _cell),
    report.Column("bytes", "Size", lambda v: human(v) if isinstance(v, int) else ""),
    report.Column("seconds", "Time/s", report.num(1)),
]


class _Display:
    """rich progress on stderr, a fresh set of bars per phase (`with display:`); a quiet console shows nothing."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None

    def __enter__(self) -> _Display:
        self.progress = Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=self.console,
        )
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def task(self, description: str, total: int, note: str = "") -> TaskID:
        return self.progress.add_task(description, total=max(total, 1), note=note)

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False, markup=False, soft_wrap=True)


def prepare(
    src: str | Path | None,
    out: str | Path,
    *,
    train: str | Path | None = None,
    val: str | Path | None = None,
    devkit: str | Path | None = None,
    splits: Sequence[str] = SPLITS,
    workers: int | None = None,
    normalize_images: bool = False,
    md5: bool = False,
    verify_only: bool = False,
    expected_md5: dict[str, str] | None = None,
    quiet: bool = False,
    console: Console | None = None,
) -> PrepareResult:
    """Prepare (or with verify_only, only verify) OUT from the archives in SRC; see the module docstring.

    expected_md5: MD5 per split for --md5 (default: the published ones). Raises ZooError on bad input; verification
    problems come back in the result (`ok` is False), not as an exception.
    """
    console = console or Console(stderr=True, quiet=quiet)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if workers < 1:
        raise ZooError("--workers must be at least 1")
    out = Path(out)
    sources = find_sources(src, list(dict.fromkeys(splits)), train=train, val=val, devkit=devkit)
    _check_no_overlap(sources, out)
    kit = dk.load_devkit(sources.devkit)
    if verify_only and not out.is_dir():
        raise ZooError(f"nothing to verify: {str(out)!r} does not exist")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create {str(out)!r}: {exc.strerror or exc}") from exc
    display = _Display(console)

    def warn(message: str) -> None:
        display.log(f"warning: {message}")

    display.log(f"devkit {sources.devkit}: {len(kit.classes)} classes, {len(kit.val_wnids):,} validation labels")
    with Lock(out):
        rows: list[dict] = []
        problems: list[dict] = []
        if md5:
            md5_rows = _check_md5(sources, expected_md5 or PUBLISHED_MD5, display)
            rows += md5_rows
            bad = [r for r in md5_rows if r["status"] == "MD5 differs"]
            problems += bad
            if bad and not verify_only:
                first = bad[0]
                raise ZooError(
                    f"{first['class'].removeprefix('md5 ')}: MD5 {first['found']} differs from the published "
                    f"{first['expected']}; the download is damaged (nothing was extracted)"
                )
        plans = {}
        for split, source in sources.splits.items():
            plans[split] = scan_train(source, set(kit.wnids), warn) if split == "train" else scan_val(source, kit, warn)
            held = f"{len(plans[split].train)} classes" if split == "train" else f"{len(plans[split].val):,} images"
            display.log(f"{split}: {source.path} holds {held}, {human(plans[split].bytes)}")
        journal = Journal(out / STATE / "journal.jsonl", readonly=verify_only)
        try:
            if verify_only:
                stats, expected = _expected_from(plans, journal, workers, display)
            else:
                stats, expected = _extract(out, kit, plans, journal, workers, normalize_images, display)
        finally:
            journal.close()
        totals = []
        for split, exp in expected.items():
            display.log(f"verifying {out / split} ...")
            t0 = time.perf_counter()
            found, split_problems = verify_split(out, split, exp, kit)
            split_problems += published_problems(split, exp, kit)
            st = stats[split]
            totals.append(
                {
                    "split": split,
                    "class": f"all {len(exp)}",
                    "expected": sum(exp.values()),
                    "found": found,
                    "status": "ok" if not split_problems else _n(len(split_problems), "problem"),
                    "extracted": None if verify_only else st.extracted,
                    "resumed": None if verify_only else st.resumed,
                    "bytes": None if verify_only else st.bytes,
                    "seconds": None if verify_only else round(st.seconds, 2),
                    "normalized": len(st.normalized),
                    "verify_seconds": round(time.perf_counter() - t0, 2),
                }
            )
            problems += split_problems
    rows = totals + rows + [p for p in problems if p not in rows]
    result = PrepareResult(out, rows, problems, stats)
    _summarize(result, display, verify_only)
    return result


def _check_md5(sources: Sources, expected: dict[str, str], display: _Display) -> list[dict]:
    rows = []
    with display:
        for split, source in sources.splits.items():
            name = source.path.name
            if source.kind != "tar":
                rows.append(_problem(split, f"md5 {name}", "", "", "skipped (a folder, not the archive)"))
                continue
            if split not in expected:
                rows.append(_problem(split, f"md5 {name}", "", "", "skipped (no published MD5)"))
                continue
            size = _stat(source.path).st_size
            task = display.task(f"md5 {split}", size)
            value, cached = md5_of(source.path, lambda n, task=task: display.progress.advance(task, n))
            display.progress.update(task, completed=size, note="cached" if cached else "")
            ok = value == expected[split]
            rows.append(_problem(split, f"md5 {name}", expected[split], value, "ok" if ok else "MD5 differs"))
    return rows


def _run_jobs(
    ex: ThreadPoolExecutor,
    jobs: list[tuple[Callable, tuple, Callable[[JobResult], None]]],
    display: _Display,
    tasks: dict[int, TaskID],
) -> None:
    """Run jobs, handing each result to its callback in the calling thread as it comes (journal writes and renames
    happen in one place). On the first error or Ctrl-C, stop the others, then raise it; jobs that had finished
    still count."""
    shared = Shared()
    pending: dict[Future, Callable[[JobResult], None]] = {ex.submit(fn, *args, shared): done for fn, args, done in jobs}
    error: BaseException | None = None
    try:
        while pending:
            finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for slot, task in tasks.items():
                display.progress.update(task, completed=shared.done[slot])
            for fut in finished:
                done = pending.pop(fut)
                exc = None if fut.cancelled() else fut.exception()
                if fut.cancelled() or isinstance(exc, _Stopped):
                    continue
                if exc is None:
                    done(fut.result())
                elif error is None:
                    error = exc
                    shared.stop.set()
                    for other in pending:
                        other.cancel()
    except KeyboardInterrupt:
        shared.stop.set()
        for fut in pending:
            fut.cancel()
        raise ZooError("interrupted; finished classes are kept: run the same command again to resume") from None
    if error is not None:
        if isinstance(error, ZooError):
            raise error
        raise ZooError(f"a worker failed: {type(error).__name__}: {error}") from error


def _disk_check(out: Path, need: int, parts: list[str]) -> None:
    if need <= 0:
        return
    free = shutil.disk_usage(out).free
    want = int(need * DISK_MARGIN) + DISK_SLACK
    if want > free:
        raise ZooError(
            f"not enough free disk space for {out}: the tree needs about {human(want)} more "
            f"({' + '.join(parts)}, plus {round((DISK_MARGIN - 1) * 100)} % for file-system overhead) "
            f"and {human(free)} is free; free some space or choose another OUT"
        )


def _clear_partial(path: Path) -> None:
    """Remove a leftover `.partial` folder: only ever one named so, which only this tool creates."""
    assert path.name.endswith(".partial")
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _not_ours(path: Path) -> ZooError:
    return ZooError(
        f"{str(path)!r} exists but no prepare-imagenet run finished it; move it away (it is never deleted) "
        "or choose an empty OUT"
    )


def _extract(
    out: Path,
    kit: dk.Devkit,
    plans: dict[str, Plan],
    journal: Journal,
    workers: int,
    normalize: bool,
    display: _Display,
) -> tuple[dict[str, SplitStats], dict[str, dict[str, int]]]:
    classes_path = out / "classes.json"
    wanted = dk.classes_json(kit.classes)
    if classes_path.exists() and classes_path.read_text(encoding="utf-8") != wanted:
        raise ZooError(f"{str(classes_path)!r} comes from another devkit; choose an empty OUT")
    new_sources = []  # written once the disk check passed: a refused run leaves OUT as it was
    for split, plan in plans.items():
        old = journal.sources.get(split)
        mine = {"fingerprint": plan.fingerprint, "normalize": normalize}
        if old is not None and {k: old.get(k) for k in mine} != mine and journal.done[split]:
            raise ZooError(
                f"{str(out / split)!r} was started from other input ({old['fingerprint']}, normalize="
                f"{old['normalize']}); finish it with the same command, or choose an empty OUT"
            )
        if old is None or {k: old.get(k) for k in mine} != mine:
            new_sources.append({"source": split, **mine})

    stats = {split: SplitStats() for split in plans}
    expected: dict[str, dict[str, int]] = {}
    jobs: list[tuple[Callable, tuple, Callable[[JobResult], None]]] = []
    need, parts = 0, []
    tasks_total: dict[int, int] = {}

    if "train" in plans:
        root = out / "train"
        root.mkdir(exist_ok=True)
        for leftover in root.glob("*.partial"):
            _clear_partial(leftover)
        st = stats["train"]
        expected["train"] = {}
        todo = []
        for c in plans["train"].train:
            final = root / c.wnid
            entry = journal.done["train"].get(c.wnid)
            if os.path.lexists(final):
                if entry is None:
                    raise _not_ours(final)
                expected["train"][c.wnid] = entry["images"]
                st.resumed += 1
                st.bytes += entry.get("bytes", 0)
                st.normalized += entry.get("normalized", [])
            else:
                todo.append(c)
        st.classes = len(plans["train"].train)

        def train_done(c: TrainClass) -> Callable[[JobResult], None]:
            def done(r: JobResult) -> None:
                n, tst = r.counts[c.wnid], stats["train"]
                journal.write({"class": c.wnid, "images": n, "bytes": r.bytes, "normalized": r.normalized})
                os.rename(root / f"{c.wnid}.partial", root / c.wnid)  # journaled first: a folder means finished
                expected["train"][c.wnid] = n
                tst.extracted += 1
                tst.bytes += r.bytes
                tst.normalized += r.normalized

            return done

        for c in todo:
            jobs.append((train_class_job, (c, str(root / f"{c.wnid}.partial"), normalize), train_done(c)))
        todo_bytes = sum(c.size for c in todo)
        tasks_total[0] = todo_bytes
        need += todo_bytes
        parts.append(f"train {human(todo_bytes)}")
        if st.resumed:
            display.log(f"train: {st.resumed} of {st.classes} classes already done by an earlier run, kept")

    if "val" in plans:
        plan = plans["val"]
        final, partial = out / "val", out / "val.partial"
        _clear_partial(partial)
        st = stats["val"]
        st.classes = len({v.wnid for v in plan.val})
        done_entry = journal.done["val"].get("*")
        if os.path.lexists(final):
            if done_entry is None:
                raise _not_ours(final)
            expected["val"] = dict(done_entry["counts"])
            st.bytes = done_entry.get("bytes", 0)
            st.resumed = st.classes
            display.log("val: already done by an earlier run, kept")
        else:
            acc = JobResult(Counter(), 0, [])
            chunks = _chunks(plan.val, max(32 << 20, plan.bytes // (4 * workers) + 1))
            left = [len(chunks)]

            def val_done(r: JobResult) -> None:
                acc.counts.update(r.counts)
                acc.bytes += r.bytes
                acc.normalized += r.normalized
                left[0] -= 1
                if left[0] == 0:
                    counts = dict(sorted(acc.counts.items()))
                    journal.write(
                        {"split_done": "val", "counts": counts, "bytes": acc.bytes, "normalized": acc.normalized}
                    )
                    os.rename(partial, final)
                    expected["val"] = counts
                    vst = stats["val"]
                    vst.extracted, vst.bytes, vst.normalized = sum(counts.values()), acc.bytes, acc.normalized

            for chunk in chunks:
                jobs.append((val_chunk_job, (chunk, str(partial), normalize), val_done))
            tasks_total[1] = plan.bytes
            links = plan.source.kind == "dir" and os.stat(plan.source.path).st_dev == os.stat(out).st_dev
            if not links or normalize:
                need += plan.bytes
                parts.append(f"val {human(plan.bytes)}")

    _disk_check(out, need, parts)
    for entry in new_sources:
        journal.write(entry)
    atomic_write(classes_path, wanted)
    if "val" in plans and "val" not in expected:
        (out / "val.partial").mkdir()
    t0 = time.perf_counter()
    try:
        if jobs:
            with _pool(min(workers, len(jobs))) as ex, display:
                names = {0: "train", 1: "val"}
                tasks = {slot: display.task(f"extract {names[slot]}", n) for slot, n in tasks_total.items() if n}
                _run_jobs(ex, jobs, display, tasks)
                for slot, task in tasks.items():
                    display.progress.update(task, completed=tasks_total[slot])
    except BaseException:
        # Unfinished work is never trusted: clear it now rather than leave half classes around.
        for leftover in [*(out / "train").glob("*.partial"), out / "val.partial"]:
            with contextlib.suppress(OSError):
                _clear_partial(leftover)
        raise
    elapsed = time.perf_counter() - t0
    for split, st in stats.items():
        st.seconds = elapsed
        st.images = sum(expected.get(split, {}).values())
    return stats, expected


def _expected_from(
    plans: dict[str, Plan], journal: Journal, workers: int, display: _Display
) -> tuple[dict[str, SplitStats], dict[str, dict[str, int]]]:
    """--verify-only: the counts the archives imply. Val from its headers; train from the journal when it was made
    from this very archive, else by reading the inner headers (no image data)."""
    stats = {split: SplitStats() for split in plans}
    expected: dict[str, dict[str, int]] = dict.fromkeys(plans)  # type: ignore[arg-type] (filled below, in order)
    if "val" in plans:
        expected["val"] = dict(sorted(Counter(v.wnid for v in plans["val"].val).items()))
        stats["val"].classes = len(expected["val"])
        stats["val"].bytes = plans["val"].bytes
    if "train" in plans:
        plan = plans["train"]
        trusted = (journal.sources.get("train") or {}).get("fingerprint") == plan.fingerprint
        counts: dict[str, int] = {}
        scan = []
        for c in plan.train:
            entry = journal.done["train"].get(c.wnid) if trusted else None
            if entry is not None:
                counts[c.wnid] = entry["images"]
            else:
                scan.append(c)

        def counted(r: JobResult) -> None:
            counts.update(r.counts)

        if scan:
            with _pool(min(workers, len(scan))) as ex, display:
                task = display.task("count train archive", sum(c.size for c in scan), note="headers only")
                _run_jobs(ex, [(train_class_job, (c, None, False), counted) for c in scan], display, {0: task})
        expected["train"] = dict(sorted(counts.items()))
        stats["train"].classes = len(counts)
        stats["train"].bytes = plan.bytes
    return stats, expected


def _summarize(result: PrepareResult, display: _Display, verify_only: bool) -> None:
    for split, st in result.stats.items():
        if verify_only:
            continue
        line = f"{split}: {st.images:,} images in {st.classes} classes, {human(st.bytes)}"
        if split == "train":
            line += f"; {st.extracted} classes written now, {st.resumed} done before"
        elif st.resumed:
            line += "; done before"
        if st.normalized:
            line += f"; {_n(len(st.normalized), 'image')} re-encoded as RGB JPEG"
        display.log(line + f" ({st.seconds:.1f} s)")
    if result.ok:
        display.log(f"verified {result.out}: every class holds the images its archive implies")
    else:
        display.log(
            f"verification of {result.out} found {_n(len(result.problems), 'problem')} (listed by class on stdout)"
        )
