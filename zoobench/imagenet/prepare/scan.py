"""What the archives hold, read from their headers alone: a plan of inner tars (train) and images (val) with the
byte range of each, checked against the devkit before anything is written."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zoobench.errors import ZooError
from zoobench.imagenet import devkit as dk
from zoobench.imagenet.prepare.sources import Source, Sources
from zoobench.imagenet.prepare.tarsafe import scan_tar

OUTER_RE = re.compile(r"(?:\./)?((n\d{8})\.tar)")  # group 1: the file name, 2: the WNID
VAL_RE = re.compile(r"(?:\./)?(ILSVRC2012_val_(\d{8})\.JPEG)")

Warn = Callable[[str], None]


def train_re(wnid: str) -> re.Pattern[str]:
    return re.compile(rf"(?:\./)?({wnid}_\d+\.JPEG)")


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
    offset: int  # -1: the whole file at `path`
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

    @property
    def wnids(self) -> set[str]:
        return {c.wnid for c in self.train} | {v.wnid for v in self.val}


def folder_entries(folder: Path, pattern: re.Pattern[str], warn: Warn) -> list[os.DirEntry]:
    """Entries of an extracted folder whose names fit the layout; other entries are named in a warning.

    A link with a layout name is refused: it may point at any file (its bytes would be copied into OUT), and a hard
    link to it would put the link itself into OUT."""
    keep, other = [], []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise ZooError(f"cannot read the folder {str(folder)!r}: {exc.strerror or exc}") from exc
    for e in entries:
        if pattern.fullmatch(e.name) and e.is_symlink():
            raise ZooError(
                f"{e.path!r} is a symbolic link; zoobench reads only regular files from an input folder "
                "(replace it with the file it points to)"
            )
        (keep if pattern.fullmatch(e.name) and e.is_file(follow_symlinks=False) else other).append(e)
    if other:
        shown = ", ".join(e.name for e in other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        warn(f"{folder}: ignoring {len(other)} entries that are not {pattern.pattern} files: {shown}")
    return keep


def scan_train(source: Source, classes: set[str], warn: Warn) -> Plan:
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
        for e in folder_entries(source.path, OUTER_RE, warn):
            add(OUTER_RE.fullmatch(e.name).group(2), e.path, 0, e.stat().st_size, f"{source.path.name}/{e.name}")
        if not plan.train:
            raise ZooError(f"the train folder {str(source.path)!r} holds no <wnid>.tar files")
        plan.fingerprint = {"kind": "dir", "files": len(plan.train), "bytes": plan.bytes}
        return plan
    where = source.path.name

    def member(name: str, offset: int, size: int) -> None:
        add(OUTER_RE.fullmatch(name).group(2), str(source.path), offset, size, f"{where} > {name}")

    size = scan_tar(source.path, OUTER_RE, member)
    if not plan.train:
        raise ZooError(f"{where} holds no <wnid>.tar members")
    plan.fingerprint = {"kind": "tar", "name": where, "bytes": size}
    return plan


def scan_val(source: Source, kit: dk.Devkit, warn: Warn) -> Plan:
    """Every validation image with its class (ground truth ID -> WNID). Reads only the headers."""
    plan = Plan(source, {})

    def label(name: str, where: str) -> str:
        wnid = kit.val_wnid(int(VAL_RE.fullmatch(name).group(2)))
        if wnid is None:
            raise ZooError(f"{where}: {name} has no label in the devkit's ground truth ({len(kit.val_wnids)} lines)")
        return wnid

    if source.kind == "dir":
        for e in folder_entries(source.path, VAL_RE, warn):
            plan.val.append(ValImage(e.name, label(e.name, str(source.path)), e.path, -1, e.stat().st_size))
        if not plan.val:
            raise ZooError(f"the val folder {str(source.path)!r} holds no ILSVRC2012_val_*.JPEG files")
        plan.fingerprint = {"kind": "dir", "files": len(plan.val), "bytes": plan.bytes}
        return plan
    where = source.path.name

    def member(name: str, offset: int, size: int) -> None:
        plan.val.append(ValImage(name, label(name, where), str(source.path), offset, size))

    size = scan_tar(source.path, VAL_RE, member)
    names = [v.name for v in plan.val]
    if len(set(names)) != len(names):
        dup = next(n for n, c in Counter(names).items() if c > 1)
        raise ZooError(f"{where}: member {dup!r} appears twice")
    if not plan.val:
        raise ZooError(f"{where} holds no ILSVRC2012_val_*.JPEG members")
    plan.fingerprint = {"kind": "tar", "name": where, "bytes": size}
    return plan


def check_classes(plan: Plan, kit: dk.Devkit) -> None:
    """The archive must hold every class the devkit names: classes.json lists the devkit's, and an index that
    counts a class the images lack would shift every label after it."""
    missing = sorted(set(kit.wnids) - plan.wnids)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ZooError(
            f"the devkit names {len(kit.wnids)} classes but {plan.source.path.name} holds images of "
            f"{len(plan.wnids)} (none of {shown}); the devkit and the archives must come from the same release"
        )


def scan(sources: Sources, kit: dk.Devkit, warn: Warn) -> dict[str, Plan]:
    """A plan per split, each checked to hold exactly the devkit's classes (scan_train refuses an extra one)."""
    plans = {}
    for split, source in sources.splits.items():
        plans[split] = scan_train(source, set(kit.wnids), warn) if split == "train" else scan_val(source, kit, warn)
        check_classes(plans[split], kit)
    return plans
