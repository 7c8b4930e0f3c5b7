"""Where the archives are: the devkit and one source (the official tar, or the folder it was extracted into) per
split, found in SRC or given explicitly; and the check that OUT does not overlap an input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoobench.errors import ZooError
from zoobench.imagenet import devkit as dk

TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
DEVKIT = dk.DEVKIT_NAME
SPLITS = ("train", "val")
ARCHIVES = {"train": TRAIN_TAR, "val": VAL_TAR}


@dataclass(frozen=True)
class Source:
    split: str
    path: Path
    kind: str  # "tar": the official archive; "dir": the archive already extracted (inner tars / flat JPEGs)


@dataclass(frozen=True)
class Sources:
    devkit: Path
    splits: dict[str, Source]


def _pick(src: Path | None, explicit: str | Path | None, names: Sequence[str], what: str) -> Path | None:
    """The explicit path (which must exist), else the first of `names` present in SRC."""
    if explicit is not None:
        path = Path(explicit)
        if not path.exists():
            raise ZooError(f"the {what} {str(path)!r} does not exist")
        return path
    for name in names:
        if src is not None and (src / name).exists():
            return src / name
    return None


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
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ZooError(f"unknown split {unknown[0]!r} in splits; choose from {', '.join(SPLITS)}")
    if not splits:
        raise ZooError("no split to prepare: splits takes train, val or both")
    kit = _pick(src, devkit, [DEVKIT, "ILSVRC2012_devkit_t12"], "devkit")
    if kit is None:
        raise ZooError(
            f"no devkit in {str(src)!r}: {DEVKIT} ('Development kit (Task 1 & 2)' on image-net.org) names the classes "
            "and labels the validation images; put it there or give the devkit's path"
        )
    found = {}
    for split in dict.fromkeys(splits):
        path = _pick(src, train if split == "train" else val, [ARCHIVES[split], split], f"{split} source")
        if path is None:
            raise ZooError(
                f"no {split} images in {str(src)!r}: expected {ARCHIVES[split]} (or a {split}/ folder it was "
                f"extracted into); give the {split} source's path, or leave {split} out of the splits"
            )
        found[split] = Source(split, path, "dir" if path.is_dir() else "tar")
    return Sources(kit, found)


def check_no_overlap(sources: Sources, out: Path) -> None:
    """OUT must not be inside an input folder, nor an input folder inside OUT: we would write into it."""
    out = out.resolve()
    for folder in [s.path for s in sources.splits.values() if s.kind == "dir"]:
        p = folder.resolve()
        if out == p or p in out.parents or out in p.parents:
            raise ZooError(f"OUT {str(out)!r} overlaps the input folder {str(p)!r}; choose an OUT outside it")
