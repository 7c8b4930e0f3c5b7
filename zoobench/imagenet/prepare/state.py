"""What a run keeps in OUT/.zoobench-prepare: the lock and the journal; and the MD5 verdict cache.

- The state folder is opened once, as a folder and never through a link; the lock and the journal are opened
  relative to it with O_NOFOLLOW and must be regular files, so a link planted there is refused, never followed.
- The lock is a POSIX lock holding the owner's pid; the kernel drops it when a run dies, even by SIGKILL.
- The journal is append-only JSON lines: the source of each split, each `.partial` folder before it is created,
  each finished class (train) and finished split (val). A kill can only cut off the last line, which is dropped;
  a damaged line elsewhere is skipped with a warning and every valid line is kept.
- A `Session` is one run's hold on OUT. What it created (OUT's missing folders, the state folder, the lock) is removed
  again when the run journaled nothing (refused, interrupted early, or --verify-only): such a run leaves OUT as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

from zoobench.errors import ZooError
from zoobench.output.files import atomic_write

STATE = ".zoobench-prepare"
JOURNAL = "journal.jsonl"
LOCK = "lock"
_SAFE = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # O_NONBLOCK: a FIFO planted there must not hang the open

# The fields each kind of journal line must have; a line that fits none is damaged.
_ENTRY_KINDS = {
    "source": {"source": str, "fingerprint": dict, "normalize": bool},
    "partial": {"partial": str},
    "class": {"class": str, "images": int, "bytes": int, "normalized": list},
    "split_done": {"split_done": str, "counts": dict, "bytes": int, "normalized": list},
}


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class StateDir:
    """OUT/.zoobench-prepare, created if missing and held open as a folder; its files are opened relative to it."""

    def __init__(self, out: Path) -> None:
        self.path = out / STATE
        self.created = False
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise ZooError(f"cannot read {str(self.path)!r}: {_reason(exc)}") from None
        if st is None:
            try:
                os.mkdir(self.path, 0o755)
            except OSError as exc:
                raise ZooError(f"cannot write to OUT {str(out)!r}: {_reason(exc)}") from None
            self.created = True
        elif stat.S_ISLNK(st.st_mode):
            raise _planted(self.path, "a symbolic link")
        elif not stat.S_ISDIR(st.st_mode):
            raise _planted(self.path, "not a folder")
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise ZooError(f"cannot open {str(self.path)!r}: {_reason(exc)}") from None

    def open(self, name: str, flags: int) -> int:
        """A file of the state folder, never through a link, and only if it is a regular file."""
        path = self.path / name
        try:
            fd = os.open(name, flags | _SAFE, 0o644, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _planted(path, "a symbolic link") from None
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise ZooError(f"cannot write to OUT {str(self.path.parent)!r}: {_reason(exc)}") from None
            raise ZooError(f"cannot open {str(path)!r}: {_reason(exc)}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _planted(path, "not a regular file")
        return fd

    def read(self, name: str) -> bytes | None:
        """The whole file, or None when there is none."""
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        fd = self.open(name, os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def inode(self, name: str) -> int | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_ino
        except FileNotFoundError:
            return None

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def close(self) -> None:
        os.close(self.fd)


def _planted(path: Path, what: str) -> ZooError:
    return ZooError(
        f"{str(path)!r} is {what}; prepare-imagenet keeps only its own folder and regular files there "
        "and never follows a link: remove it and run again"
    )


def _lock(state: StateDir) -> int:
    """The locked fd of the lock file. Retried when the file was replaced between open and lock (a run that made
    the state folder removes it again on exit), so that two runs never hold locks on different files."""
    for _ in range(10):
        fd = state.open(LOCK, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise ZooError(f"cannot lock {str(state.path / LOCK)!r}: {_reason(exc)}") from None
            raise ZooError(
                f"{str(state.path.parent)!r} is in use by another prepare-imagenet run (pid {other}); "
                "wait for it to finish or stop it, then run again"
            ) from None
        if state.inode(LOCK) == os.fstat(fd).st_ino:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)
    raise ZooError(f"cannot lock {str(state.path / LOCK)!r}: it keeps being replaced")


def _valid(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    for kind, fields in _ENTRY_KINDS.items():
        if kind in entry:
            return all(isinstance(entry.get(k), t) for k, t in fields.items())
    return False


class Journal:
    """The journal's content (`sources`, `done`, `partials`) and, unless read-only, its appender."""

    def __init__(
        self, state: StateDir | None = None, readonly: bool = False, warn: Callable[[str], None] | None = None
    ) -> None:
        self.state, self.readonly = state, readonly
        self.fd: int | None = None
        self.written = False  # whether this run has journaled anything
        self.sources: dict[str, dict] = {}
        self.done: dict[str, dict[str, dict]] = {"train": {}, "val": {}}
        self.partials: set[str] = set()  # the .partial folders (relative to OUT) runs on this OUT created
        raw = state.read(JOURNAL) if state is not None else None
        if raw:
            self._load(raw, warn or (lambda text: None))

    def _load(self, raw: bytes, warn: Callable[[str], None]) -> None:
        *lines, torn = raw.split(b"\n")  # `torn`: after the last newline, empty unless a kill cut a line off
        bad = []
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if _valid(entry):
                self._apply(entry)
            else:
                bad.append(number)
        if bad:
            warn(
                f"{self.state.path / JOURNAL}: skipped {len(bad)} damaged line(s) (line {', '.join(map(str, bad[:5]))}"
                f"{', …' if len(bad) > 5 else ''}); the {len(lines) - len(bad)} valid lines are kept"
            )
        if torn and not self.readonly:
            os.ftruncate(self._appender(), len(raw) - len(torn))

    def _apply(self, e: dict) -> None:
        if "source" in e:
            self.sources[e["source"]] = e
            self.done[e["source"]] = {}  # a new source starts its split afresh
        elif "partial" in e:
            self.partials.add(e["partial"])
        elif "class" in e:
            self.done["train"][e["class"]] = e
        elif "split_done" in e:
            self.done[e["split_done"]] = {w: {"images": n} for w, n in e["counts"].items()}
            self.done[e["split_done"]]["*"] = e

    def _appender(self) -> int:
        assert not self.readonly and self.state is not None
        if self.fd is None:
            self.fd = self.state.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        return self.fd

    def write(self, entry: dict) -> None:
        """One line, in the kernel when this returns: it survives a kill. (No fsync: the images are not synced.)"""
        self._apply(entry)
        data = memoryview((json.dumps(entry, sort_keys=True) + "\n").encode())
        fd = self._appender()
        while data:
            data = data[os.write(fd, data) :]
        self.written = True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _makedirs(path: Path) -> list[Path]:
    """Create path and its missing parents; return the folders created, outermost first."""
    missing = []
    p = path.absolute()
    while not os.path.lexists(p):
        missing.append(p)
        p = p.parent
    made = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except OSError as exc:
            for done in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(done)
            raise ZooError(f"cannot create {str(path)!r}: {_reason(exc)}") from None
        made.append(folder)
    return made


class Session:
    """One run's hold on OUT: OUT made where missing, the state folder, the lock and the journal (`journal`).
    Never two on one OUT at once. See the module docstring for what it removes again on exit."""

    def __init__(self, out: Path, *, readonly: bool = False, warn: Callable[[str], None] | None = None) -> None:
        self.out, self.readonly, self.warn = Path(out), readonly, warn
        self.made: list[Path] = []
        self.state: StateDir | None = None
        self.lock_fd: int | None = None
        self.journal = Journal()

    def __enter__(self) -> Session:
        if os.path.lexists(self.out) and not self.out.is_dir():
            raise ZooError(f"OUT {str(self.out)!r} exists and is not a folder")
        self.made = _makedirs(self.out)
        try:
            self.state = StateDir(self.out)
            self.lock_fd = _lock(self.state)
            self.journal = Journal(self.state, self.readonly, self.warn)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.journal.close()
        keep = self.journal.written
        if self.state is not None:
            if self.state.created and not keep:
                self.state.remove(LOCK)  # while locked: a run waiting on this file sees it gone and retries
            if self.lock_fd is not None:
                os.ftruncate(self.lock_fd, 0)
                os.close(self.lock_fd)
            self.state.close()
            if self.state.created and not keep:
                with contextlib.suppress(OSError):
                    os.rmdir(self.state.path)
        if not keep:
            for folder in reversed(self.made):
                with contextlib.suppress(OSError):  # not empty: something else is there now; leave it
                    os.rmdir(folder)


# --- MD5 ------------------------------------------------------------------------------------------------------------


def cache_file() -> Path:
    base = os.environ.get("ZOOBENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zoobench"
    )
    return Path(base) / "archive-md5.json"


def md5_of(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, bool]:
    """(MD5 hex, whether it came from the cache). The cache is keyed by the file's path, size and mtime, so a
    changed or replaced file is hashed again. Ctrl-C while hashing leaves the cache as it was."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ZooError(f"cannot read {str(path)!r}: {_reason(exc)}") from exc
    key = str(path.resolve())
    cache_path = cache_file()
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    hit = cache.get(key) if isinstance(cache, dict) else None
    if isinstance(hit, dict) and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
        return hit["md5"], True
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    value = digest.hexdigest()
    cache = cache if isinstance(cache, dict) else {}
    cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": value}
    with contextlib.suppress(OSError, ZooError):  # a cache we cannot write only costs time next run
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_path, json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return value, False
