"""Known-answer fixtures for `zoobench eval`: images that carry their model output in their pixels, and a tiny model
that reads it back.

A crop's top-left pixel says what the model answers for that crop: red = STEP * p names the class p it ranks first,
green = 10 * c sets the confidence c. Logits: c for p, 0.8c for p+1, ... 0.2c for p+4 (mod the class count), 0 for
the rest, so the top-5 is p, p+1, ..., p+4 in that order. The tests choose p per image, so every top-1 and top-5
verdict is known before the pipeline runs. Reachable as `evalfixtures:pixel_model` (tests/ on sys.path).

`run_ranks` runs the CLI as a hand-started group of processes (torchrun's environment, gloo on 127.0.0.1).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from zoobench.cli import main
from zoobench.imagenet.transforms import IMAGENET_MEAN, IMAGENET_STD

STEP = 8  # red levels per class: JPEG's small colour shifts still round to the right class


def pixel(p: int, conf: float = 5.0) -> tuple[int, int, int]:
    """The RGB value that makes PixelModel rank class p first with confidence `conf` (0.1 .. 25.5)."""
    return (STEP * p, round(conf * 10), 128)


def logits_for(p: int, conf: float, num_classes: int) -> np.ndarray:
    """What PixelModel answers for one crop whose top-left pixel is pixel(p, conf)."""
    out = np.zeros(num_classes)
    for r in range(min(5, num_classes)):
        out[(p + r) % num_classes] = conf * (1 - r / 5)
    return out


class PixelModel(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.scale = nn.Parameter(torch.ones(()))  # one parameter, so weights files have something to carry
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = torch.round((x[:, :, 0, 0].float() * self.std + self.mean) * 255)  # undo the normalisation
        p = torch.round(rgb[:, 0] / STEP).long() % self.num_classes
        conf = rgb[:, 1] / 10
        rank = (torch.arange(self.num_classes, device=x.device)[None, :] - p[:, None]) % self.num_classes
        return self.scale * conf[:, None] * (1 - rank / 5).clamp(min=0)


def pixel_model() -> nn.Module:
    return PixelModel(10)


def pixel_model_12() -> nn.Module:
    """Twelve classes: ImageNetV2-style folders 0 ... 11, where "10" < "2" as strings."""
    return PixelModel(12)


def wide_pixel(p: int) -> tuple[int, int, int]:
    """The RGB value that makes WidePixelModel rank class p (0 ... 1023) first: red = p mod 256, green = its 256s."""
    return (p % 256, 32 * (p // 256) + 16, 128)


class WidePixelModel(nn.Module):
    """1000 outputs, for ImageNet-A/R and ReaL: class p = red + 256 * (green // 32) ranks first (logit 5), then p+1
    (4), ... p+4 (1); the rest 0. Needs lossless images (PNG): one red level is one class."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = torch.round((x[:, :, 0, 0].float() * self.std + self.mean) * 255)
        p = (rgb[:, 0] + 256 * torch.div(rgb[:, 1], 32, rounding_mode="floor")).long() % self.num_classes
        rank = (torch.arange(self.num_classes, device=x.device)[None, :] - p[:, None]) % self.num_classes
        return 5 * (1 - rank / 5).clamp(min=0)


def wide_pixel_model() -> nn.Module:
    return WidePixelModel(1000)


class _FailsAtForward(PixelModel):
    """Passes the probe (one blank image), then fails on the first batch of real images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 1 or x.abs().sum() > 0:
            raise RuntimeError("this model breaks on real images")
        return super().forward(x)


def fails_at_forward() -> nn.Module:
    return _FailsAtForward(10)


def fails_to_build() -> nn.Module:
    raise ValueError("this builder always fails")


def pixel_model_7() -> nn.Module:
    """Seven outputs: refused on a ten-class set."""
    return PixelModel(7)


class _DiesOnRank1(PixelModel):
    """On rank 1, its second forward (the first batch, after the probe) kills the process: no Python cleanup,
    no message, the way the OOM killer or a lost node ends a rank."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        if os.environ.get("RANK") == "1" and type(self).calls >= 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(x)


def dies_on_rank_1() -> nn.Module:
    return _DiesOnRank1(10)


WNIDS = [f"n{1000 + 37 * i:08d}" for i in range(10)]  # sorted order = index order


def write_classes(out: Path, wnids: list[str] = WNIDS) -> None:
    entries = [{"index": i, "wnid": w, "words": f"class {i}"} for i, w in enumerate(sorted(wnids))]
    (out / "classes.json").write_text(json.dumps(entries))


def solid(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (300, 260)) -> None:
    Image.new("RGB", size, rgb).save(path)


# Per image: (class folder index, class PixelModel ranks first). rank = (label - p) mod 10 decides the verdict:
# 0 top-1 and top-5, 1..4 top-5 only, 5..9 neither.
OFFSETS = [0, 0, 1, 4, 5, 9, 0, 2, 7, 0, 3, 0, 6, 0, 0, 8, 1, 0, 0, 5, 0, 0, 4]
SIZES = [(300, 260), (260, 400), (256, 256), (500, 333), (257, 300)]


def make_val(out: Path, n: int = len(OFFSETS)) -> list[tuple[str, int, int]]:
    """OUT/val/<wnid>/*.png plus OUT/classes.json; returns (relative file, label, p) in sample order."""
    val = out / "val"
    # Folders are created in shuffled order, so a loader that trusted directory order would mislabel.
    for wnid in reversed(WNIDS[5:] + WNIDS[:5]):
        (val / wnid).mkdir(parents=True)
    write_classes(out)
    made = []
    for i in range(n):
        label = i % 10
        p = (label - OFFSETS[i % len(OFFSETS)]) % 10
        name = f"img_{i:03d}.png"
        solid(val / WNIDS[label] / name, pixel(p, 2 + i % 7), SIZES[i % len(SIZES)])
        made.append((f"{WNIDS[label]}/{name}", label, p))
    made.sort()
    return made


def expected_counts(made: list[tuple[str, int, int]]) -> tuple[int, int]:
    top1 = sum(1 for _, label, p in made if (label - p) % 10 == 0)
    top5 = sum(1 for _, label, p in made if (label - p) % 10 < 5)
    return top1, top5


# --- hand-started process groups -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, argv: list[str], folder: str) -> None:
    """One torchrun-like process: torchrun's environment, then the CLI; stdout, stderr and exit code to files."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    code = 0
    with open(f"{folder}/out{rank}", "w") as out, open(f"{folder}/err{rank}", "w") as err:
        sys.stdout, sys.stderr = out, err
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    Path(f"{folder}/rc{rank}").write_text(str(code))
    os._exit(0)


def run_ranks(folder: Path, world: int, argv: list[str] | list[list[str]]) -> list[tuple[int, str, str]]:
    """Run the CLI in `world` processes joined through env:// (what torchrun sets up), gloo on CPU; their
    stdout, stderr and exit codes go to files in `folder`. A rank that was killed reads as exit code -signal.

    `argv` is the command line of every rank, or one per rank (a node whose disk differs)."""
    per_rank = argv if isinstance(argv[0], list) else [argv] * world
    ctx = multiprocessing.get_context("fork")  # torch is already imported here: fork starts in milliseconds
    port = free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, world, port, per_rank[r], str(folder))) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        if p.is_alive():
            p.kill()
            pytest.fail("a rank hung")
    rc = [folder / f"rc{r}" for r in range(world)]
    return [
        (
            int(rc[r].read_text()) if rc[r].exists() else procs[r].exitcode,
            (folder / f"out{r}").read_text(),
            (folder / f"err{r}").read_text(),
        )
        for r in range(world)
    ]
