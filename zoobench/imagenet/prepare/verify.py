"""Verification: OUT/<split> against the images per class the archives imply, and the real set's published counts.
Problems come back as rows by class (split, class, expected, found, status), never as an exception."""

from __future__ import annotations

import os
from pathlib import Path

from zoobench.imagenet import devkit as dk
from zoobench.imagenet.prepare.result import plural
from zoobench.imagenet.prepare.scan import VAL_RE, train_re

PUBLISHED_CLASSES, PUBLISHED_TRAIN, PUBLISHED_VAL_PER_CLASS = 1000, 1_281_167, 50


def problem(split: str, cls: str, expected: object, found: object, status: str) -> dict:
    return {"split": split, "class": cls, "expected": expected, "found": found, "status": status}


def _scan_class(path: str, split: str, wnid: str, kit: dk.Devkit) -> tuple[int, list[str]]:
    """Images that belong in this class folder, and the names of entries that do not."""
    good, bad = 0, []
    pattern = train_re(wnid) if split == "train" else VAL_RE
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


def _entry_problems(split: str, wnid: str, bad: list[str]) -> list[dict]:
    rows = [problem(split, wnid, "", "", f"unexpected entry {name}") for name in bad[:3]]
    if len(bad) > 3:
        rows.append(problem(split, wnid, "", "", f"... and {len(bad) - 3} more unexpected entries"))
    return rows


def verify_split(out: Path, split: str, expected: dict[str, int], kit: dk.Devkit) -> tuple[int, list[dict]]:
    """Compare OUT/<split> with the expected images per class; problems by class."""
    root = out / split
    if not root.is_dir():
        return 0, [problem(split, "-", sum(expected.values()), 0, f"missing folder {root}")]
    problems, found = [], {}
    for e in sorted(os.scandir(root), key=lambda e: e.name):
        if e.name.startswith("."):
            continue
        if e.is_dir(follow_symlinks=False) and e.name in expected:
            found[e.name], bad = _scan_class(e.path, split, e.name, kit)
            problems += _entry_problems(split, e.name, bad)
        elif e.name.endswith(".partial"):
            problems.append(problem(split, e.name, "", "", "unfinished class folder (run again to resume)"))
        else:
            kind = "folder" if e.is_dir(follow_symlinks=False) else "entry"
            problems.append(problem(split, e.name, "", "", f"unexpected {kind} (no such class in the archive)"))
    for wnid, n in sorted(expected.items()):
        if wnid not in found:
            problems.append(problem(split, wnid, n, 0, "missing class folder"))
        elif found[wnid] != n:
            diff = found[wnid] - n
            status = f"{plural(abs(diff), 'image')} {'extra' if diff > 0 else 'missing'}"
            problems.append(problem(split, wnid, n, found[wnid], status))
    return sum(found.values()), problems


def published_problems(split: str, expected: dict[str, int], kit: dk.Devkit) -> list[dict]:
    """For the real 1,000-class set, the archive itself must hold the published counts."""
    if len(kit.classes) != PUBLISHED_CLASSES:
        return []
    out = []
    if len(expected) != PUBLISHED_CLASSES:
        out.append(problem(split, "(classes)", PUBLISHED_CLASSES, len(expected), "the archive lacks classes"))
    total = sum(expected.values())
    if split == "train" and total != PUBLISHED_TRAIN:
        out.append(problem(split, "(published)", PUBLISHED_TRAIN, total, "the archive differs from the published set"))
    if split == "val":
        for wnid, n in sorted(expected.items()):
            if n != PUBLISHED_VAL_PER_CLASS:
                out.append(
                    problem(split, wnid, PUBLISHED_VAL_PER_CLASS, n, "the archive differs from the published set")
                )
    return out
