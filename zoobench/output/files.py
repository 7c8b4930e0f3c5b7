"""Safe output files: check a path before any work, then write the whole file or nothing.

No pandas, rich or torch here: the ImageNet engines and the benchmark scripts import this alone.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from zoobench.errors import ZooError


def check_output(path: Path) -> Path:
    """Refuse, before any measuring, a target that cannot be written or must not be replaced.

    Only a regular file (or nothing) is ever replaced: a symlink, FIFO, device or folder at the target is refused,
    so `-o /dev/null` or a planted link never turns into a regular file or writes somewhere else.
    """
    path = Path(path)
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ZooError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = (
            "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "a symlink"
            if stat.S_ISLNK(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device or special file"
        )
        raise ZooError(f"cannot write {str(path)!r}: it is {kind}; zoobench replaces only regular files")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise ZooError(f"cannot write {str(path)!r}: its folder does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ZooError(f"cannot write {str(path)!r}: its folder is not writable")
    return path


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write a whole file or nothing (text as UTF-8, bytes as they are): temp file in the same folder, fsync, rename
    over the target, with the mode a plain open() would give."""
    path = check_output(Path(path))
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ZooError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content if isinstance(content, bytes) else content.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file owner-only; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ZooError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
        raise
