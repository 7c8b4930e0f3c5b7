"""Tiny ILSVRC2012 archives with the official layout, built at test time (nothing is fetched).

Reusable outside these tests (e.g. for `zoobench eval` tests, with `tests/` on sys.path as pytest puts it):

    from imagenet_fixtures import make_imagenet_archives, prepared_imagenet

    arch = make_imagenet_archives(tmp_path / "src", n_classes=4, n_train=3, n_val=2)
    # arch.train, arch.val, arch.devkit: ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar,
    # ILSVRC2012_devkit_t12.tar.gz in tmp_path / "src"; arch.wnids (sorted), arch.ids, arch.val_labels, ...
    out, arch = prepared_imagenet(tmp_path)   # archives + `prepare` -> out/train/<wnid>/, out/val/<wnid>/, classes.json

The layout matches the real files:
- ILSVRC2012_img_train.tar: flat `<wnid>.tar` members, each a flat tar of `<wnid>_<n>.JPEG`;
- ILSVRC2012_img_val.tar: flat `ILSVRC2012_val_<8 digits>.JPEG`;
- ILSVRC2012_devkit_t12.tar.gz: ILSVRC2012_devkit_t12/data/meta.mat (scipy.io.savemat struct array `synsets` with the
  real fields, leaves AND non-leaf ancestors interleaved) and ILSVRC2012_devkit_t12/data/
  ILSVRC2012_validation_ground_truth.txt (one 1-based ILSVRC2012_ID per line).
ILSVRC2012_IDs are shuffled against the sorted WNIDs (as in the real devkit), so a label mapped by ID order instead of
ID -> WNID -> sorted index comes out wrong. Every image of a class is a solid colour of its own (`arch.colors`), so a
test can check labels from pixels alone. With quirks=True the set also holds a CMYK JPEG, a PNG named .JPEG and
grayscale JPEGs, like the real one.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

TRAIN_NAME = "ILSVRC2012_img_train.tar"
VAL_NAME = "ILSVRC2012_img_val.tar"
DEVKIT_NAME = "ILSVRC2012_devkit_t12.tar.gz"
DEVKIT_DIR = "ILSVRC2012_devkit_t12"

# Colours far apart so that JPEG noise never confuses two classes.
PALETTE = [(230, 25, 25), (25, 200, 40), (30, 60, 230), (240, 220, 30), (200, 40, 210), (30, 210, 220), (250, 140, 20)]

ImageMaker = Callable[[str, str, int, tuple[int, int, int]], bytes]  # (split, wnid, i, colour) -> file bytes


@dataclass
class ImagenetArchives:
    folder: Path
    train: Path
    val: Path
    devkit: Path
    wnids: list[str]  # sorted: wnids[i] is class index i
    ids: dict[str, int]  # WNID -> ILSVRC2012_ID (shuffled against the sorted order)
    words: dict[str, str]
    colors: dict[str, tuple[int, int, int]]
    train_files: dict[str, dict[str, bytes]]  # WNID -> {file name: bytes}
    val_files: dict[str, bytes]  # file name -> bytes
    val_labels: dict[str, str]  # file name -> WNID
    quirks: dict[str, str] = field(default_factory=dict)  # file name -> "cmyk" | "png" | "gray"

    @property
    def n_train(self) -> int:
        return sum(len(files) for files in self.train_files.values())

    def paths(self) -> list[Path]:
        return [self.train, self.val, self.devkit]


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=95)
    return buf.getvalue()


def solid_jpeg(split: str, wnid: str, i: int, color: tuple[int, int, int], size: int = 8) -> bytes:
    return encode(Image.new("RGB", (size, size), color))


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed tar of flat regular files, in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            add_bytes(tar, name, data)
    return buf.getvalue()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 1_339_000_000
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.isreg() else None)


def meta_mat(leaves: list[tuple[int, str, str, int]], parents: list[tuple[int, str, str, list[int]]]) -> bytes:
    """meta.mat with a `synsets` struct array: leaves (id, wnid, words, n_train) and ancestors (id, wnid, words,
    children ids), interleaved so that a reader must filter on num_children."""
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height"]
    fields.append("num_train_images")
    rows = []
    for ilsvrc_id, wnid, words, n_train in leaves:
        rows.append((ilsvrc_id, wnid, words, f"gloss of {words}", 0, np.zeros((1, 0), np.uint16), 0, n_train))
    for k, (ilsvrc_id, wnid, words, children) in enumerate(parents):
        kids = np.array([children], dtype=np.uint16)
        rows.insert(1 + 2 * k, (ilsvrc_id, wnid, words, "an ancestor", len(children), kids, 1 + k, 0))
    arr = np.zeros((len(rows), 1), dtype=[(f, "O") for f in fields])
    for i, row in enumerate(rows):
        arr[i, 0] = row
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"synsets": arr})
    return buf.getvalue()


def devkit_tgz(path: Path, meta: bytes, ground_truth: str, prefix: str = DEVKIT_DIR + "/") -> None:
    with tarfile.open(path, "w:gz") as tar:
        add_bytes(tar, f"{prefix}COPYING", b"synthetic devkit for tests\n")
        add_bytes(tar, f"{prefix}data/meta.mat", meta)
        add_bytes(tar, f"{prefix}data/ILSVRC2012_validation_ground_truth.txt", ground_truth.encode())


def make_imagenet_archives(
    folder: str | Path,
    n_classes: int = 4,
    n_train: int = 3,
    n_val: int = 2,
    *,
    quirks: bool = True,
    image: ImageMaker = solid_jpeg,
    seed: int = 0,
) -> ImagenetArchives:
    """Write the three official archives into `folder` and return what they hold (see the module docstring).

    n_train / n_val: images per class. `image(split, wnid, i, colour)` makes each file's bytes (default: an 8x8 solid
    JPEG of the class colour); quirks=True replaces some with a CMYK JPEG, a PNG named .JPEG and grayscale JPEGs.
    """
    assert n_classes >= 2 and n_train >= 2 and n_val >= 1
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    wnids = sorted(f"n{v:08d}" for v in rng.sample(range(1_000_000, 15_000_000), n_classes))
    # IDs shuffled against the sorted WNIDs: never the identity, so ID order != index order.
    perm = list(range(1, n_classes + 1))
    while perm == sorted(perm):
        rng.shuffle(perm)
    ids = dict(zip(wnids, perm, strict=True))
    words = {w: f"synthetic class {i}, thing {ids[w]}" for i, w in enumerate(wnids)}
    colors = {w: PALETTE[i % len(PALETTE)] for i, w in enumerate(wnids)}

    quirk_names: dict[str, str] = {}
    train_files: dict[str, dict[str, bytes]] = {}
    for ci, w in enumerate(wnids):
        numbers = rng.sample(range(1, 20_000), n_train)
        files = {f"{w}_{n}.JPEG": image("train", w, i, colors[w]) for i, n in enumerate(numbers)}
        if quirks and ci == 0:  # the real set has 22 CMYK JPEGs
            name = f"{w}_{numbers[0]}.JPEG"
            files[name] = encode(Image.new("CMYK", (8, 8), _cmyk(colors[w])))
            quirk_names[name] = "cmyk"
        if quirks and ci == 1:  # ... and one PNG named .JPEG (n02105855_2933.JPEG)
            name = f"{w}_{numbers[0]}.JPEG"
            files[name] = encode(Image.new("RGB", (8, 8), colors[w]), "PNG")
            quirk_names[name] = "png"
        if quirks and ci == 2 % n_classes:  # ... and grayscale images
            name = f"{w}_{numbers[1]}.JPEG"
            files[name] = encode(Image.new("RGB", (8, 8), colors[w]).convert("L"))
            quirk_names[name] = "gray"
        train_files[w] = files

    labels = [w for w in wnids for _ in range(n_val)]
    rng.shuffle(labels)
    val_files, val_labels = {}, {}
    for k, w in enumerate(labels, 1):
        name = f"ILSVRC2012_val_{k:08d}.JPEG"
        val_files[name] = image("val", w, k, colors[w])
        val_labels[name] = w
    if quirks:
        gray = next(n for n, w in val_labels.items() if w == wnids[-1])
        val_files[gray] = encode(Image.new("RGB", (8, 8), colors[wnids[-1]]).convert("L"))
        quirk_names[gray] = "gray"

    train = folder / TRAIN_NAME
    train.write_bytes(tar_bytes([(f"{w}.tar", tar_bytes(list(train_files[w].items()))) for w in _shuffled(wnids, rng)]))
    val = folder / VAL_NAME
    val.write_bytes(tar_bytes(sorted(val_files.items())))

    parent_ids = list(range(n_classes + 1, n_classes + 3))
    parents = [
        (parent_ids[0], "n00001740", "entity", [ids[w] for w in wnids[: n_classes // 2]]),
        (parent_ids[1], "n00002684", "object", [ids[w] for w in wnids[n_classes // 2 :]]),
    ]
    leaves = sorted(((ids[w], w, words[w], n_train) for w in wnids), key=lambda t: t[0])
    ground_truth = "".join(f"{ids[val_labels[n]]}\n" for n in sorted(val_labels))
    devkit = folder / DEVKIT_NAME
    devkit_tgz(devkit, meta_mat(leaves, parents), ground_truth)
    return ImagenetArchives(
        folder, train, val, devkit, wnids, ids, words, colors, train_files, val_files, val_labels, quirk_names
    )


def _shuffled(items: list[str], rng: random.Random) -> list[str]:
    out = list(items)
    rng.shuffle(out)
    return out


def _cmyk(rgb: tuple[int, int, int]) -> tuple[int, int, int, int]:
    c, m, y = (255 - v for v in rgb)
    k = min(c, m, y)
    return (c - k, m - k, y - k, k)


def split_into_folders(arch: ImagenetArchives, folder: str | Path) -> tuple[Path, Path]:
    """What users of the seed's instructions have: folder/train/<wnid>.tar (the outer tar extracted) and
    folder/val/ILSVRC2012_val_*.JPEG (the val tar extracted flat)."""
    folder = Path(folder)
    train, val = folder / "train", folder / "val"
    for archive, dest in ((arch.train, train), (arch.val, val)):
        dest.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    return train, val


# --- hostile archives -------------------------------------------------------------------------------------------

# kind -> (where the bad member goes, what it is); "inner" = inside the first class's inner tar.
HOSTILE = {
    "traversal": "inner",
    "absolute": "inner",
    "symlink": "inner",
    "hardlink": "inner",
    "chardev": "inner",
    "blockdev": "inner",
    "fifo": "inner",
    "directory": "inner",
    "outer-traversal": "outer",
    "outer-absolute": "outer",
    "outer-symlink": "outer",
    "val-traversal": "val",
    "val-symlink": "val",
    "val-hardlink": "val",
}


def _hostile_member(tar: tarfile.TarFile, kind: str, base: str, outside: Path, payload: bytes) -> str:
    """Add one hostile member; return its name."""
    k = kind.split("-", 1)[-1] if kind.startswith(("outer-", "val-")) else kind
    if k == "traversal":  # from OUT/train/<wnid>.partial/ or OUT/val.partial/<wnid>/: the folder holding OUT
        name = f"../../../{base}"
    elif k == "absolute":
        name = str(outside / base)
    else:
        name = base
    if k in ("traversal", "absolute"):
        add_bytes(tar, name, payload)
    elif k == "symlink":
        add_bytes(tar, name, b"", type=tarfile.SYMTYPE, linkname=str(outside / "target"))
    elif k == "hardlink":
        add_bytes(tar, name, b"", type=tarfile.LNKTYPE, linkname=str(outside / "target"))
    elif k == "chardev":
        add_bytes(tar, name, b"", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    elif k == "blockdev":
        add_bytes(tar, name, b"", type=tarfile.BLKTYPE, devmajor=7, devminor=0)
    elif k == "fifo":
        add_bytes(tar, name, b"", type=tarfile.FIFOTYPE)
    elif k == "directory":
        add_bytes(tar, name, b"", type=tarfile.DIRTYPE, mode=0o755)
    else:
        raise ValueError(kind)
    return name


def hostile_archives(arch: ImagenetArchives, folder: str | Path, kind: str, outside: Path) -> tuple[Path, str]:
    """Copy the set into `folder` with one hostile member of `kind` (a key of HOSTILE) aimed at `outside`.

    Returns (the source folder, the hostile member's name)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DEVKIT_NAME).write_bytes(arch.devkit.read_bytes())
    (folder / VAL_NAME).write_bytes(arch.val.read_bytes())
    (folder / TRAIN_NAME).write_bytes(arch.train.read_bytes())
    where = HOSTILE[kind]
    w = arch.wnids[0]
    if where == "inner":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as inner:
            for name, data in arch.train_files[w].items():
                add_bytes(inner, name, data)
            bad = _hostile_member(inner, kind, f"{w}_99999.JPEG", outside, b"evil")
        members = [
            (f"{x}.tar", buf.getvalue() if x == w else tar_bytes(list(arch.train_files[x].items()))) for x in arch.wnids
        ]
        (folder / TRAIN_NAME).write_bytes(tar_bytes(members))
    elif where == "outer":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as outer:
            for x in arch.wnids[1:]:
                add_bytes(outer, f"{x}.tar", tar_bytes(list(arch.train_files[x].items())))
            bad = _hostile_member(outer, kind, f"{w}.tar", outside, tar_bytes(list(arch.train_files[w].items())))
        (folder / TRAIN_NAME).write_bytes(buf.getvalue())
    else:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as val:
            for name, data in sorted(arch.val_files.items())[1:]:
                add_bytes(val, name, data)
            bad = _hostile_member(val, kind, sorted(arch.val_files)[0], outside, b"evil")
        (folder / VAL_NAME).write_bytes(buf.getvalue())
    return folder, bad


def prepared_imagenet(
    tmp: str | Path, n_classes: int = 4, n_train: int = 3, n_val: int = 2, **kwargs: object
) -> tuple[Path, ImagenetArchives]:
    """Archives in tmp/src, prepared into tmp/out with one worker; returns (out, archives)."""
    from zoobench.imagenet.prepare import prepare

    tmp = Path(tmp)
    arch = make_imagenet_archives(tmp / "src", n_classes, n_train, n_val, **kwargs)
    prepare(arch.folder, tmp / "out", workers=1)
    return tmp / "out", arch


# --- a run killed mid-way -------------------------------------------------------------------------------------------

# `zoobench ...` with every image write slowed down, so that a test can kill it between two classes.
SLOW_DRIVER = """
import sys, time
import zoobench.imagenet.prepare.extract as extract
write = extract.write_image
def slow(*args, **kwargs):
    time.sleep(DELAY)
    return write(*args, **kwargs)
extract.write_image = slow
from zoobench.cli import main
main(sys.argv[1:])
"""


def prepared_tree(out: Path) -> dict[str, bytes]:
    """Every file under OUT/train and OUT/val, by relative path."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for split in ("train", "val")
        if (out / split).exists()
        for p in sorted((out / split).rglob("*"))
        if p.is_file()
    }


@dataclass
class Killed:
    seconds: float  # from the start to the kill
    finished: list[str]  # class folders complete when it was killed
    partial: list[str]  # train `.partial` folders it left
    kept: dict[str, tuple[int, int]]  # (inode, mtime) of each image of a finished class, to check it is not redone
    quiet_after: bool  # nothing changed in OUT in the half second after the kill


def _half_written(train: Path) -> bool:
    for p in train.glob("*.partial") if train.exists() else []:
        try:
            if any(p.iterdir()):
                return True
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return False


def kill_mid_prepare(
    arch: ImagenetArchives, out: Path, *, workers: int = 2, delay: float = 0.15, timeout: float = 120
) -> Killed:
    """Start `zoobench prepare-imagenet` (each image write slowed by `delay` s) and SIGKILL it as soon as one class is
    journaled and another is half written. Raises AssertionError if it finished first."""
    journal = out / ".zoobench-prepare" / "journal.jsonl"
    driver = SLOW_DRIVER.replace("DELAY", repr(delay))
    cmd = [sys.executable, "-c", driver, "prepare-imagenet", str(arch.folder), str(out), "-j", str(workers)]
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.monotonic() < start + timeout and proc.poll() is None:
            if journal.exists() and '"class"' in journal.read_text() and _half_written(out / "train"):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        seconds = time.monotonic() - start
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    listing = sorted(str(p) for p in out.rglob("*"))
    time.sleep(0.5)
    quiet = sorted(str(p) for p in out.rglob("*")) == listing
    done = sorted(p for p in (out / "train").iterdir() if not p.name.endswith(".partial"))
    kept = {str(f): (f.stat().st_ino, f.stat().st_mtime_ns) for d in done for f in d.iterdir()}
    partial = sorted(p.name for p in (out / "train").glob("*.partial"))
    return Killed(seconds, [p.name for p in done], partial, kept, quiet)
