"""The ILSVRC2012 devkit: class list and validation labels.

meta.mat (read with scipy.io.loadmat) holds 1,860 synsets: the 1,000 leaves (num_children == 0) are the classes,
the rest are WordNet ancestors. Each leaf has a 1-based ILSVRC2012_ID, and the ground-truth file lists one such ID per
validation image. The ID order is NOT the sorted-WNID order that PyTorch ImageNet models use for their outputs, so a
label is always mapped ID -> WNID -> position in the sorted WNIDs (the "index" of classes.json).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import struct
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from zoobench.errors import ZooError
from zoobench.output.files import atomic_write

DEVKIT_NAME = "ILSVRC2012_devkit_t12.tar.gz"
META = "data/meta.mat"
GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
WNID_RE = re.compile(r"n\d{8}")

# Bounds on what a devkit may unpack to, so that a small hostile file (a gzip or zlib bomb) cannot fill the memory.
# The official meta.mat is about 2 MB, the ground truth 0.3 MB and the whole devkit unpacks to a few MB.
MAX_MEMBER_BYTES = 64 << 20
MAX_DEVKIT_BYTES = 256 << 20


@dataclass(frozen=True)
class ClassInfo:
    index: int  # position in the sorted WNIDs = the output index of PyTorch ImageNet models
    wnid: str
    words: str


@dataclass(frozen=True)
class Synset:
    ilsvrc_id: int
    wnid: str
    words: str
    num_children: int
    num_train_images: int | None


@dataclass(frozen=True)
class Devkit:
    classes: tuple[ClassInfo, ...]  # sorted by WNID; classes[i].index == i
    id_to_wnid: dict[int, str]  # ILSVRC2012_ID (leaves only) -> WNID
    val_wnids: tuple[str, ...]  # WNID of ILSVRC2012_val_{k:08d}.JPEG at position k - 1
    num_train_images: dict[str, int]  # per WNID, as meta.mat states it (empty when the field is absent)

    @property
    def wnids(self) -> tuple[str, ...]:
        return tuple(c.wnid for c in self.classes)

    @cached_property
    def index(self) -> dict[str, int]:
        """WNID -> class index."""
        return {c.wnid: c.index for c in self.classes}

    def val_wnid(self, number: int) -> str | None:
        """WNID of validation image `number` (1-based, as in its file name), or None when the ground truth lacks it."""
        return self.val_wnids[number - 1] if 1 <= number <= len(self.val_wnids) else None


def _scalar(value: object) -> object:
    """loadmat wraps every struct field in arrays of varying depth; unwrap a one-element field to a Python value."""
    import numpy as np

    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"expected one value, got shape {arr.shape}")
    item = arr.reshape(-1)[0]
    return item.item() if isinstance(item, np.generic) else item


def parse_meta(data: bytes, where: str = "meta.mat") -> list[Synset]:
    """Every synset of meta.mat (leaves and ancestors) in file order."""
    import numpy as np
    import scipy.io  # here, not at the top: 0.2 s of imports that only reading meta.mat needs

    _check_inflation(data, where)
    try:
        mat = scipy.io.loadmat(io.BytesIO(data), squeeze_me=True)
    except Exception as exc:  # scipy raises several unrelated types for a damaged file
        raise ZooError(f"{where} is not a readable MATLAB file: {exc}") from exc
    if "synsets" not in mat:
        raise ZooError(
            f"{where} has no 'synsets' variable (found: {', '.join(k for k in mat if not k.startswith('_'))})"
        )
    synsets = np.atleast_1d(mat["synsets"])
    fields = synsets.dtype.names or ()
    for needed in ("ILSVRC2012_ID", "WNID", "words", "num_children"):
        if needed not in fields:
            raise ZooError(f"{where}: synsets lack the field {needed!r}")
    out = []
    for i, entry in enumerate(synsets):
        try:
            n_train = _scalar(entry["num_train_images"]) if "num_train_images" in fields else None
            out.append(
                Synset(
                    ilsvrc_id=int(_scalar(entry["ILSVRC2012_ID"])),
                    wnid=str(_scalar(entry["WNID"])),
                    words=str(_scalar(entry["words"])),
                    num_children=int(_scalar(entry["num_children"])),
                    num_train_images=None if n_train is None else int(n_train),
                )
            )
        except (ValueError, TypeError) as exc:
            raise ZooError(f"{where}: synset {i} is malformed: {exc}") from exc
    return out


def leaves(synsets: Sequence[Synset], where: str = "meta.mat") -> list[Synset]:
    """The classes: synsets without children, checked for unique IDs and well-formed unique WNIDs."""
    found = [s for s in synsets if s.num_children == 0]
    if not found:
        raise ZooError(f"{where} has no leaf synsets (num_children == 0)")
    ids = [s.ilsvrc_id for s in found]
    wnids = [s.wnid for s in found]
    if len(set(ids)) != len(ids):
        raise ZooError(f"{where}: two leaf synsets share an ILSVRC2012_ID")
    if len(set(wnids)) != len(wnids):
        raise ZooError(f"{where}: two leaf synsets share a WNID")
    bad = [w for w in wnids if not WNID_RE.fullmatch(w)]
    if bad:
        raise ZooError(f"{where}: {bad[0]!r} is not a WordNet ID (n followed by 8 digits)")
    return found


def parse_ground_truth(text: str, id_to_wnid: dict[int, str], where: str = "ground truth") -> tuple[str, ...]:
    """One ILSVRC2012_ID per line (line k labels ILSVRC2012_val_{k:08d}.JPEG) -> the WNID of each image."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for number, line in enumerate(lines, 1):
        try:
            wnid = id_to_wnid[int(line.strip())]
        except ValueError:
            raise ZooError(f"{where}, line {number}: {line.strip()!r} is not an ILSVRC2012_ID") from None
        except KeyError:
            raise ZooError(
                f"{where}, line {number}: ILSVRC2012_ID {line.strip()} is not a leaf class of meta.mat"
            ) from None
        out.append(wnid)
    if not out:
        raise ZooError(f"{where} is empty")
    return tuple(out)


def build_devkit(meta: bytes, ground_truth: str, where: str = "devkit") -> Devkit:
    synsets = leaves(parse_meta(meta, f"{where}: meta.mat"), f"{where}: meta.mat")
    id_to_wnid = {s.ilsvrc_id: s.wnid for s in synsets}
    ordered = sorted(synsets, key=lambda s: s.wnid)
    classes = tuple(ClassInfo(i, s.wnid, s.words) for i, s in enumerate(ordered))
    counts = {s.wnid: s.num_train_images for s in synsets if s.num_train_images is not None}
    val = parse_ground_truth(ground_truth, id_to_wnid, f"{where}: {Path(GROUND_TRUTH).name}")
    return Devkit(classes, id_to_wnid, val, counts)


def _check_inflation(data: bytes, where: str) -> None:
    """A MAT file's compressed elements must inflate within MAX_MEMBER_BYTES: scipy would inflate them whole.

    Walks the top-level elements of a version 5 file (128-byte header, then tag + data each); other files are left
    to scipy, which reports what it cannot read."""
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        return
    order = "<" if data[126:128] == b"IM" else ">"
    pos = 128
    while pos + 8 <= len(data):
        kind, size = struct.unpack_from(order + "II", data, pos)
        if kind == 15:  # miCOMPRESSED: one zlib stream
            inflate, left, total = zlib.decompressobj(), data[pos + 8 : pos + 8 + size], 0
            try:
                while left and total <= MAX_MEMBER_BYTES:
                    total += len(inflate.decompress(left, 1 << 20))
                    left = inflate.unconsumed_tail
            except zlib.error:
                return  # damaged: scipy names it
            if total > MAX_MEMBER_BYTES:
                raise ZooError(
                    f"{where}: a compressed variable inflates to more than {MAX_MEMBER_BYTES >> 20} MB; "
                    "refused (an ILSVRC2012 meta.mat is about 2 MB)"
                )
            pos += 8 + size
        else:
            pos += 8 + size + (-size % 8)  # uncompressed elements are padded to 8 bytes


class _Capped(io.RawIOBase):
    """The unpacked bytes of a stream, refused past `limit`. The bound sits below tarfile, which reads long-name
    and pax headers whole, so no member header can make it allocate more."""

    def __init__(self, raw: BinaryIO, limit: int, where: str) -> None:
        super().__init__()
        self.raw, self.left, self.where = raw, limit, where

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # noqa: ANN001 (any writable buffer)
        if self.left <= 0:
            if self.raw.read(1):
                raise ZooError(
                    f"{self.where} unpacks to more than {MAX_DEVKIT_BYTES >> 20} MB; refused "
                    "(the ILSVRC2012 devkit unpacks to a few MB)"
                )
            return 0
        data = self.raw.read(min(len(buf), self.left))
        buf[: len(data)] = data
        self.left -= len(data)
        return len(data)


def _unpacked(raw: BinaryIO) -> BinaryIO:
    """The tar inside a .tar.gz, .tar.bz2 or .tar.xz (by magic number), or the file itself."""
    head = raw.peek(6)[:6] if hasattr(raw, "peek") else b""
    for magic, opener in ((b"\x1f\x8b", gzip.GzipFile), (b"BZh", bz2.BZ2File), (b"\xfd7zXZ\x00", lzma.LZMAFile)):
        if head.startswith(magic):
            return opener(fileobj=raw) if opener is gzip.GzipFile else opener(raw)
    return raw


def _too_big(where: str, name: str, size: int, bound: int) -> ZooError:
    return ZooError(
        f"{where}: {name} is {size / 1e6:,.1f} MB unpacked, over the {bound >> 20} MB bound; refused "
        "(the ILSVRC2012 devkit unpacks to a few MB)"
    )


def _read_from_tar(path: Path) -> tuple[bytes, str]:
    """meta.mat and the ground truth from the devkit tarball, read into memory (nothing is extracted to disk), each
    under MAX_MEMBER_BYTES and the whole stream under MAX_DEVKIT_BYTES."""
    wanted = {META: None, GROUND_TRUTH: None}
    where = f"the devkit {str(path)!r}"
    try:
        with (
            open(path, "rb") as raw,
            tarfile.open(fileobj=_Capped(_unpacked(raw), MAX_DEVKIT_BYTES, where), mode="r|") as tar,
        ):
            for member in tar:
                if member.offset_data + member.size > MAX_DEVKIT_BYTES:  # refuse on the header, before unpacking it
                    raise _too_big(where, member.name, member.size, MAX_DEVKIT_BYTES)
                for suffix in wanted:
                    # The official tarball nests them in ILSVRC2012_devkit_t12/; accept any single top folder.
                    if (member.name == suffix or member.name.endswith("/" + suffix)) and wanted[suffix] is None:
                        if not member.isreg():
                            raise ZooError(f"{path}: member {member.name!r} is not a regular file")
                        if member.size > MAX_MEMBER_BYTES:
                            raise _too_big(where, member.name, member.size, MAX_MEMBER_BYTES)
                        wanted[suffix] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise ZooError(f"cannot read the devkit {str(path)!r}: {exc}") from exc
    for suffix, data in wanted.items():
        if data is None:
            raise ZooError(f"the devkit {str(path)!r} has no {suffix}")
    return wanted[META], wanted[GROUND_TRUTH].decode("ascii", errors="replace")


def _read_bounded(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_MEMBER_BYTES:
        raise _too_big(f"the devkit folder {str(path.parent.parent)!r}", path.name, size, MAX_MEMBER_BYTES)
    return path.read_bytes()


def _read_from_folder(path: Path) -> tuple[bytes, str]:
    for base in (path, path / "ILSVRC2012_devkit_t12", path.parent):
        meta, gt = base / META, base / GROUND_TRUTH
        if meta.is_file() and gt.is_file():
            try:
                return _read_bounded(meta), _read_bounded(gt).decode("ascii", errors="replace")
            except OSError as exc:
                raise ZooError(f"cannot read the devkit folder {str(path)!r}: {exc.strerror or exc}") from exc
    raise ZooError(f"the devkit folder {str(path)!r} has no {META} and {GROUND_TRUTH}")


def load_devkit(path: str | Path) -> Devkit:
    """Read ILSVRC2012_devkit_t12.tar.gz, or a folder it was extracted into."""
    path = Path(path)
    if path.is_dir():
        meta, gt = _read_from_folder(path)
    elif path.is_file():
        meta, gt = _read_from_tar(path)
    else:
        raise ZooError(f"the devkit {str(path)!r} does not exist")
    return build_devkit(meta, gt, path.name)


# --- classes.json: a JSON list of {"index", "wnid", "words"}; index = position in the sorted WNIDs ---------------


def classes_json(classes: Sequence[ClassInfo]) -> str:
    rows = [{"index": c.index, "wnid": c.wnid, "words": c.words} for c in classes]
    return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"


def write_classes(path: str | Path, classes: Sequence[ClassInfo]) -> None:
    atomic_write(Path(path), classes_json(classes))


def read_classes(path: str | Path) -> list[ClassInfo]:
    """classes.json back, checked: indices 0..N-1 in order and WNIDs sorted, as write_classes makes them."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ZooError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ZooError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(doc, list) or not doc:
        raise ZooError(f"{str(path)!r} should be a non-empty JSON list of {{index, wnid, words}}")
    out = []
    for i, row in enumerate(doc):
        if not (isinstance(row, dict) and row.get("index") == i and isinstance(row.get("wnid"), str)):
            raise ZooError(f"{str(path)!r}: entry {i} should be {{'index': {i}, 'wnid': ..., 'words': ...}}")
        out.append(ClassInfo(i, row["wnid"], str(row.get("words", ""))))
    wnids = [c.wnid for c in out]
    if wnids != sorted(set(wnids)):
        raise ZooError(f"{str(path)!r}: WNIDs must be unique and sorted (index = position in the sorted WNIDs)")
    return out
