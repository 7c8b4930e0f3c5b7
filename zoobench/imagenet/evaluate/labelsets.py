"""Label sets other than ImageNet-1k's own: what counts as a right answer, and over which classes.

- `real`: ImageNet-ReaL (Beyer et al. 2020, "Are we done with ImageNet?"). The val folder as prepare-imagenet writes
  it; each ILSVRC2012_val_NNNNNNNN file gets its set of real labels (timm's wheel ships them:
  timm/data/_info/imagenet_real_labels.json, or `real:PATH` for another copy). Images without a real label are left
  out; a prediction is right when it is in the image's set (top-5: any of the five).
- `v2`: ImageNetV2 (Recht et al. 2019): class folders named by class index, 0 ... 999. The label is the folder's
  number, never its place among the names sorted as strings (where "10" comes before "2").
- `a`, `r`: ImageNet-A / ImageNet-R: folders named by WNID, 200 of ImageNet-1k's classes. The 1000-way output is
  scored over those 200 classes only (the logits of the others are dropped before the softmax), with the class list
  timm ships (imagenet_a_synsets.txt / imagenet_r_synsets.txt); without timm, the folders' own WNIDs stand for it.
The 1000 classes come from classes.json (beside or inside the folder, or classes_file), else timm's
imagenet_synsets.txt (sorted WNIDs = the output order of PyTorch ImageNet models).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from zoobench.errors import ZooError
from zoobench.imagenet.devkit import ClassInfo, read_classes
from zoobench.imagenet.evaluate.dataset import (
    ImageFolderSet,
    class_folders,
    find_classes_file,
    image_folder,
    scan_samples,
    some,
)

LABEL_SETS = ("imagenet", "real", "v2", "a", "r")
NAMES = {
    "imagenet": "ImageNet-1k",
    "real": "ImageNet-ReaL",
    "v2": "ImageNetV2",
    "a": "ImageNet-A",
    "r": "ImageNet-R",
}
_VAL_NAME = re.compile(r"(?:^|/)ILSVRC2012_val_(\d{8})\.[A-Za-z]+$")
_MAX_REAL_BYTES = 64 << 20  # timm's file is 0.4 MB


def timm_info(name: str) -> Path | None:
    """A file of timm's wheel (timm/data/_info/NAME), found without importing timm; None when timm is absent."""
    try:
        spec = importlib.util.find_spec("timm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = Path(base) / "data" / "_info" / name
        if path.is_file():
            return path
    return None


def parse(labels: str) -> tuple[str, Path | None]:
    """'real:PATH' -> ('real', PATH); a plain name -> (name, None); anything else refused."""
    name, _, path = str(labels).partition(":")
    if name not in LABEL_SETS or (path and name != "real"):
        raise ZooError(
            f"labels must be {', '.join(LABEL_SETS[:-1])} or {LABEL_SETS[-1]} (or real:PATH), not {labels!r}"
        )
    return name, Path(path) if path else None


def load(root: str | Path, classes_file: str | Path | None = None, labels: str = "imagenet") -> ImageFolderSet:
    """The folder `root` read as label set `labels` (see the module's docstring), checked before any image is read."""
    name, real_file = parse(labels)
    root = Path(root)
    if name == "imagenet":
        return image_folder(root, classes_file)
    if name == "real":
        return _real(image_folder(root, classes_file), real_file)
    if name == "v2":
        return _v2(root, classes_file)
    return _subset(root, classes_file, name)


# --- ImageNet-ReaL --------------------------------------------------------------------------------------------------


def read_real(path: Path | None) -> list[list[int]]:
    """The ReaL labels: a JSON list, entry i for ILSVRC2012_val_{i+1:08d}, each a list of class indices."""
    if path is None:
        path = timm_info("imagenet_real_labels.json")
        if path is None:
            raise ZooError(
                "labels='real' reads ImageNet-ReaL's labels from timm's wheel, and timm is not installed "
                "(pip install 'zoobench[weights]'), or give labels='real:PATH' (imagenet_real_labels.json / real.json)"
            )
    try:
        if path.stat().st_size > _MAX_REAL_BYTES:
            raise ZooError(f"{str(path)!r} is too large for a ReaL labels file")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ZooError(f"cannot read the ReaL labels {str(path)!r}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ZooError(f"the ReaL labels {str(path)!r} are not valid JSON: {exc}") from exc
    ok = isinstance(doc, list) and all(
        isinstance(e, list) and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in e) for e in doc
    )
    if not ok:
        raise ZooError(f"the ReaL labels {str(path)!r} should be a JSON list of lists of class indices")
    return doc


def _real(folder: ImageFolderSet, real_file: Path | None) -> ImageFolderSet:
    real = read_real(real_file)
    n_classes = len(folder.classes)
    samples, targets = [], []
    for rel, label in folder.samples:
        m = _VAL_NAME.search(rel)
        if m is None or not 1 <= int(m.group(1)) <= len(real):
            raise ZooError(
                f"labels='real' scores ImageNet's own val images by name (ILSVRC2012_val_00000001 ... "
                f"{len(real):08d}); {rel!r} is not one of them"
            )
        wanted = tuple(sorted(set(real[int(m.group(1)) - 1])))
        if any(c >= n_classes for c in wanted):
            raise ZooError(f"the ReaL labels give {rel!r} a class beyond the {n_classes} of {folder.classes_source}")
        if wanted:
            samples.append((rel, label))
            targets.append(wanted)
    left_out = len(folder.samples) - len(samples)
    if not samples:
        raise ZooError(f"none of the {len(folder.samples)} images of {str(folder.root)!r} has a ReaL label")
    folder.samples, folder.targets, folder.left_out, folder.label_set = samples, targets, left_out, "real"
    return folder


# --- ImageNetV2 -----------------------------------------------------------------------------------------------------


def _v2(root: Path, classes_file: str | Path | None) -> ImageFolderSet:
    folders = class_folders(root)
    if not folders:
        raise ZooError(f"{str(root)!r} has no class folders")
    odd = [f for f in folders if not (f.isascii() and f.isdecimal()) or (len(f) > 1 and f.startswith("0"))]
    if odd:
        raise ZooError(
            f"ImageNetV2's class folders are named by class index (0 ... 999); {str(root)!r} has {some(odd)}"
        )
    numbers = sorted(int(f) for f in folders)  # by number: "10" after "9", not after "1"
    path = Path(classes_file) if classes_file is not None else find_classes_file(root)
    warnings = []
    if path is not None:
        classes, source = read_classes(path), f"folder numbers = class indices of {path}"
        beyond = [str(n) for n in numbers if n >= len(classes)]
        if beyond:
            raise ZooError(
                f"{str(root)!r} has class folders beyond the {len(classes)} classes of {path}: {some(beyond)}"
            )
    else:
        missing = [str(i) for i in range(numbers[-1] + 1) if i not in set(numbers)]
        if missing:
            raise ZooError(
                f"{str(root)!r} lacks class folders {some(missing)} (ImageNetV2 has one per class index): "
                "an incomplete download? (or give classes_file to fix the class count)"
            )
        classes = [ClassInfo(i, str(i), "") for i in numbers]
        source = "folder numbers = class indices (no classes.json)"
        warnings.append(f"no classes.json beside or inside {str(root)!r}: {len(classes)} classes, numbered by folder")
    samples, ignored = scan_samples(root, [(str(n), n) for n in numbers])
    return ImageFolderSet(root, classes, samples, source, ignored, None, warnings, label_set="v2")


# --- ImageNet-A / ImageNet-R ----------------------------------------------------------------------------------------


def imagenet_classes(root: Path, classes_file: str | Path | None) -> tuple[list[ClassInfo], str]:
    """The 1000 classes a subset's WNIDs index into: classes.json, else timm's sorted synsets."""
    path = Path(classes_file) if classes_file is not None else find_classes_file(root)
    if path is not None:
        return read_classes(path), str(path)
    synsets = timm_info("imagenet_synsets.txt")
    if synsets is None:
        raise ZooError(
            f"no classes.json beside or inside {str(root)!r} and timm is not installed: give classes_file "
            "(the classes.json prepare-imagenet writes) so WNIDs map to the model's output indices"
        )
    wnids = synsets.read_text(encoding="utf-8").split()
    return [ClassInfo(i, w, "") for i, w in enumerate(wnids)], f"timm's {synsets.name}"


def _subset(root: Path, classes_file: str | Path | None, name: str) -> ImageFolderSet:
    folders = class_folders(root)
    if not folders:
        raise ZooError(f"{str(root)!r} has no class folders")
    classes, source = imagenet_classes(root, classes_file)
    index = {c.wnid: c.index for c in classes}
    unknown = [f for f in folders if f not in index]
    if unknown:
        raise ZooError(f"{str(root)!r} has class folders that are not classes of {source}: {some(unknown)}")
    shipped = timm_info(f"imagenet_{name}_synsets.txt")
    warnings = []
    if shipped is not None:
        subset = shipped.read_text(encoding="utf-8").split()
        outside = [f for f in folders if f not in set(subset)]
        if outside:
            raise ZooError(f"{str(root)!r} has class folders that are not {NAMES[name]} classes: {some(outside)}")
        mask_source = f"timm's {shipped.name}"
    else:
        subset = folders
        mask_source = "the folder names (timm's class list is not installed)"
        warnings.append(
            f"timm is not installed: {NAMES[name]} is scored over the {len(folders)} classes of its folders"
        )
    mask = sorted(index[w] for w in subset)
    samples, ignored = scan_samples(root, [(w, index[w]) for w in folders])
    source = f"{source}; scored over {len(mask)} classes ({mask_source})"
    return ImageFolderSet(root, classes, samples, source, ignored, None, warnings, label_set=name, mask=mask)
