"""Each image's prediction: kept in sample order, written as CSV or JSON, and scored again from such a file."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoobench.imagenet.devkit import ClassInfo
from zoobench.imagenet.evaluate.stats import Accuracy, Score
from zoobench.output.files import atomic_write


@dataclass
class Predictions:
    """Per image, in sample order: label, top-k class indices and their probabilities (-1 / nan when skipped)."""

    files: list[str]
    labels: np.ndarray
    top: np.ndarray  # (N, k) int64
    prob: np.ndarray  # (N, k) float32
    ok: np.ndarray  # (N,) bool: False for skipped images
    # (N, m) int64, -1 padded: every class that counts as right (ImageNet-ReaL's label sets); None: `labels`
    targets: np.ndarray | None = None

    def correct(self, k: int) -> np.ndarray:
        """Per image: one of its top-k is right (its label, or any class of its target set)."""
        if self.targets is None:
            return (self.top[:, :k] == self.labels[:, None]).any(1) & self.ok
        hit = self.top[:, :k, None] == self.targets[:, None, :]
        return hit.any((1, 2)) & self.ok

    def target_text(self, i: int) -> str:
        """Image i's right answers as written to a predictions file: class indices separated by spaces."""
        row = self.targets[i] if self.targets is not None else self.labels[i : i + 1]
        return " ".join(str(int(c)) for c in row if c >= 0)

    def accuracy(self) -> Accuracy:
        k, n = self.top.shape[1], int(self.ok.sum())
        return Accuracy(Score(int(self.correct(1).sum()), n), Score(int(self.correct(k).sum()), n), k)


def _json_doc(p: Predictions, wnids: list[str], settings: dict) -> str:
    doc = {
        "settings": {key: v for key, v in settings.items() if not isinstance(v, float) or math.isfinite(v)},
        "classes": wnids,
        "predictions": [
            {
                "index": i,
                "file": p.files[i],
                "label": int(p.labels[i]),
                **({"targets": [int(c) for c in p.target_text(i).split()]} if p.targets is not None else {}),
                "status": "ok" if p.ok[i] else "skipped",
                "top": [int(c) for c in p.top[i]] if p.ok[i] else [],
                "prob": [float(f"{v:.9g}") for v in p.prob[i]] if p.ok[i] else [],
            }
            for i in range(len(p.files))
        ],
    }
    return json.dumps(doc, indent=1) + "\n"


def _csv_doc(p: Predictions, wnids: list[str]) -> str:
    k = p.top.shape[1]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(
        [
            "index",
            "file",
            "label",
            "wnid",
            "status",
            *(["targets"] if p.targets is not None else []),
            *(f"top{j + 1}" for j in range(k)),
            *(f"p{j + 1}" for j in range(k)),
        ]
    )
    for i, file in enumerate(p.files):
        ok = bool(p.ok[i])
        tail = [*(int(c) for c in p.top[i]), *(f"{v:.9g}" for v in p.prob[i])] if ok else [""] * (2 * k)
        targets = [p.target_text(i)] if p.targets is not None else []
        out.writerow([i, file, int(p.labels[i]), wnids[p.labels[i]], "ok" if ok else "skipped", *targets, *tail])
    return buf.getvalue()


def write_predictions(path: str | Path, predictions: Predictions, classes: Sequence[ClassInfo], settings: dict) -> None:
    """Each image's label and top-5 classes with probabilities, atomically: CSV, or JSON when the name ends .json
    (which also carries `settings`, the result's row)."""
    path = Path(path)
    wnids = [c.wnid for c in classes]
    if path.suffix.lower() == ".json":
        atomic_write(path, _json_doc(predictions, wnids, settings))
    else:
        atomic_write(path, _csv_doc(predictions, wnids))


def rescore(path: str | Path) -> dict:
    """Top-1 / top-5 (%, with counts) recomputed from a predictions file written by `evaluate` (its `targets`, the
    ReaL label sets, when it has them)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        items = json.loads(path.read_text())["predictions"]
        rows = [(set(it.get("targets", [it["label"]])), it["top"]) for it in items if it["status"] == "ok"]
    else:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            cols = [c for c in reader.fieldnames or [] if c.startswith("top")]
            rows = [
                (
                    {int(c) for c in r["targets"].split()} if "targets" in r else {int(r["label"])},
                    [int(r[c]) for c in cols],
                )
                for r in reader
                if r["status"] == "ok"
            ]
    n = len(rows)
    c1 = sum(1 for right, top in rows if set(top[:1]) & right)
    c5 = sum(1 for right, top in rows if set(top[:5]) & right)
    return {
        "images": n,
        "correct1": c1,
        "correct5": c5,
        "top1": 100 * c1 / n if n else math.nan,
        "top5": 100 * c5 / n if n else math.nan,
    }
