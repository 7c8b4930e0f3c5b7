"""Tar members read in place, and the rules that refuse a member.

A `Window` is a byte range of an open file read with pread, so an inner tar is read straight from inside the outer
archive and several threads can share one file descriptor. Only regular files whose names fit the layout are
accepted; links, devices, FIFOs, folders, absolute names and `..` are refused by name (and by tarfile's 'data'
filter as a second check). A refused member is an error naming it, never a skip.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

from zoobench.errors import ZooError

NOWHERE = "/nonexistent-destination"  # the 'data' filter's destination when a member is only checked, not written


class Window(io.RawIOBase):
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


def refusal(member: tarfile.TarInfo, pattern: re.Pattern[str]) -> str | None:
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


def accept(member: tarfile.TarInfo, pattern: re.Pattern[str], where: str, dest: str) -> str:
    """The file name to write for an acceptable member; a refused member is an error naming it, never a skip."""
    reason = refusal(member, pattern)
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


def members(tar: tarfile.TarFile, where: str) -> Iterable[tarfile.TarInfo]:
    """Members one at a time (headers only); a damaged or cut-off archive is an error naming it."""
    try:
        yield from tar
    except (tarfile.TarError, EOFError) as exc:
        raise ZooError(f"{where} is truncated or damaged: {exc}") from exc


def open_tar(win: Window, where: str) -> tarfile.TarFile:
    try:
        return tarfile.TarFile(fileobj=win, mode="r")
    except (tarfile.TarError, EOFError) as exc:
        raise ZooError(f"{where} is truncated or not a tar archive: {exc}") from exc


def check_end(win: Window, tar: tarfile.TarFile, where: str) -> None:
    """tarfile stops quietly at a cut-off or garbled header; a complete archive has a zero block there."""
    block = win.pread(tar.offset, tarfile.BLOCKSIZE)
    if len(block) < tarfile.BLOCKSIZE or block.count(0) != tarfile.BLOCKSIZE:
        raise ZooError(f"{where} is truncated or damaged: no end-of-archive marker at byte {tar.offset:,}")


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise ZooError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc


def scan_tar(path: Path, pattern: re.Pattern[str], found: Callable[[str, int, int], None]) -> int:
    """Call found(name, offset, size) for each member of an outer tar, in order, reading only the headers; every
    member must fit `pattern`. Returns the tar's size."""
    where = path.name
    size = file_size(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ZooError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        win = Window(fd, 0, size)
        tar = open_tar(win, where)
        for m in members(tar, where):
            found(accept(m, pattern, where, NOWHERE), m.offset_data, m.size)
        check_end(win, tar, where)
    finally:
        os.close(fd)
    return size
