"""The validation folder: OUT/val/<wnid>/*.JPEG checked against OUT/classes.json, as (path, label) samples.

torchvision's ImageFolder would silently shift every later label when one class folder is missing; here every class
folder must match classes.json exactly. Without classes.json the labels follow the sorted folder names, with a
warning carried on the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from zoobench.errors import ZooError
from zoobench.imagenet.devkit import ClassInfo, read_classes

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def some(names: Sequence[str], n: int = 5) -> str:
    """The first `n` names and how many more: what one error line can hold."""
    shown = ", ".join(names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


@dataclass
class ImageFolderSet(Dataset):
    """(path, label) samples of a class-per-folder tree, labels from classes.json. Sample order: label, then name.

    Items are (transform(path), label); `transform` defaults to returning the path.
    """

    root: Path
    classes: list[ClassInfo]
    samples: list[tuple[str, int]]  # (path relative to root, label)
    classes_source: str
    ignored: int = 0  # non-image files and sub-folders inside class folders
    transform: Callable | None = None
    warnings: list[str] = field(default_factory=list)
    label_set: str = "imagenet"  # labelsets.LABEL_SETS: how the predictions are scored
    # Per sample, every class that counts as right (ImageNet-ReaL); None: the one label of `samples`.
    targets: list[tuple[int, ...]] | None = None
    # The output classes scored (ImageNet-A/R: their 200 of the 1000); None: every class.
    mask: list[int] | None = None
    left_out: int = 0  # images of the folder not scored (ReaL: no real label)

    def __len__(self) -> int:
        return len(self.samples)

    def path(self, i: int) -> Path:
        return self.root / self.samples[i][0]

    def __getitem__(self, i: int):
        path, label = self.root / self.samples[i][0], self.samples[i][1]
        return (self.transform(path) if self.transform else path), label


def find_classes_file(data: Path) -> Path | None:
    """OUT/classes.json for OUT/val (prepare-imagenet's layout), else one inside the folder itself."""
    for candidate in (data.parent / "classes.json", data / "classes.json"):
        if candidate.is_file():
            return candidate
    return None


def class_folders(root: Path) -> list[str]:
    """The sub-folders of root; refuses loose images, which belong in class folders."""
    if not root.is_dir():
        raise ZooError(f"data folder {str(root)!r} does not exist or is not a folder")
    entries = [e for e in os.scandir(root) if not e.name.startswith(".")]
    loose = sorted(e.name for e in entries if e.is_file() and e.name.lower().endswith(IMG_EXTENSIONS))
    if loose:
        raise ZooError(
            f"{str(root)!r} holds {len(loose)} images outside class folders ({some(loose, 3)}): "
            "sort them into <wnid>/ folders first (zoobench prepare-imagenet does)"
        )
    return sorted(e.name for e in entries if e.is_dir())


def _check_folders(root: Path, folders: list[str], classes: list[ClassInfo], source: str) -> None:
    """No class folder missing (every later label would shift) and none that classes.json does not list."""
    wanted, have = {c.wnid for c in classes}, set(folders)
    missing = [c.wnid for c in classes if c.wnid not in have]
    extra = [f for f in folders if f not in wanted]
    if missing:
        raise ZooError(
            f"{str(root)!r} lacks {len(missing)} of the {len(classes)} class folders listed in {source} "
            f"({some(missing)}): every later label would shift"
        )
    if extra:
        hint = " (left by an unfinished prepare-imagenet run?)" if any(f.endswith(".partial") for f in extra) else ""
        raise ZooError(f"{str(root)!r} has {len(extra)} class folders not in {source}: {some(extra)}{hint}")


def image_folder(
    root: str | Path, classes_file: str | Path | None = None, transform: Callable | None = None
) -> ImageFolderSet:
    """Scan OUT/val (or OUT/train) and check it against classes.json: no missing, extra or empty class folder."""
    root = Path(root)
    folders = class_folders(root)
    path = Path(classes_file) if classes_file is not None else find_classes_file(root)
    warnings = []
    if path is not None:
        classes = read_classes(path)
        source = str(path)
        _check_folders(root, folders, classes, source)
    else:
        if not folders:
            raise ZooError(f"{str(root)!r} has no class folders")
        classes = [ClassInfo(i, name, "") for i, name in enumerate(folders)]
        source = "sorted folder names (no classes.json)"
        warnings.append(
            f"no classes.json beside or inside {str(root)!r}: labels follow the sorted folder names "
            f"({len(folders)} classes); a missing folder would go unnoticed"
        )
    samples, ignored = scan_samples(root, [(cls.wnid, cls.index) for cls in classes])
    return ImageFolderSet(root, classes, samples, source, ignored, transform, warnings)


def scan_samples(root: Path, folders: Sequence[tuple[str, int]]) -> tuple[list[tuple[str, int]], int]:
    """(path relative to root, label) of every image in each (folder, label), in the given folder order and by file
    name inside a folder, and the count of non-image entries; an empty class folder is refused."""
    samples: list[tuple[str, int]] = []
    ignored = 0
    for folder, label in folders:
        names = []
        for entry in os.scandir(root / folder):
            if entry.name.startswith("."):
                continue
            if entry.is_file() and entry.name.lower().endswith(IMG_EXTENSIONS):
                names.append(entry.name)
            else:
                ignored += 1
        if not names:
            raise ZooError(f"class folder {str(root / folder)!r} holds no images")
        samples.extend((f"{folder}/{name}", label) for name in sorted(names))
    return samples, ignored
