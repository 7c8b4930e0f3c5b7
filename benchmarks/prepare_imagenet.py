"""prepare-imagenet against the seed's method, on a synthetic ILSVRC2012 set with the official layout.

The seed's method (its README): `tar xvf` of the outer train tar and of the val tar, then unzip.sh (a shell loop:
mkdir + `tar xvf` of each inner tar, then `rm *.tar`) and valprep.sh (one `mv` per validation image). Ours: the
`prepare` library call (and, separately, the whole `zoobench prepare-imagenet` command, interpreter start included).
Both run in the same invocation, alternating, several rounds; the median counts.

Peak disk: the seed's is measured after each of its steps (its use only grows within a step, and the inner tars sit
beside the extracted images until `rm`); ours by sampling the output tree during a separate run (not a timed one).
Sizes are blocks actually allocated (st_blocks), like du.

Target (issue 6): >= 1.5x faster than the seed's method on 2 cores, peak disk <= 1.1x the final tree, on >= 200 MB.
Writes results/prepare_imagenet.json (with machine metadata) for a set of >= 200 MB; a smaller set (a quick check)
writes only where --output says.

Usage: python benchmarks/prepare_imagenet.py [--size-mb 200] [--classes 50] [--image-kb 110] [--workers N]
       [--rounds 3] [--workdir DIR] [--output PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from imagenet_fixtures import make_imagenet_archives  # noqa: E402

from zoobench import environment  # noqa: E402
from zoobench.imagenet.prepare import prepare  # noqa: E402
from zoobench.output.files import atomic_write  # noqa: E402

RESULT = REPO / "results" / "prepare_imagenet.json"
FULL_SIZE_MB = 200
TARGET_SPEEDUP, TARGET_PEAK = 1.5, 1.1
REAL_VAL_SHARE = 50 / 1281  # validation images per training image in ILSVRC2012


def disk_use(path: Path) -> int:
    """Bytes allocated under path (files and folders), like `du -s --block-size=1`."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except FileNotFoundError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            total += st.st_blocks * 512
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
    return total


def noise_pool(image_kb: float, n: int = 32, seed: int = 0) -> list[bytes]:
    """JPEGs of random noise around image_kb each (noise does not compress, like photos at ImageNet's quality)."""
    rng = random.Random(seed)
    probe = Image.effect_noise((256, 256), 64).convert("RGB")
    buf = io.BytesIO()
    probe.save(buf, "JPEG", quality=90)
    side = 256 * (image_kb * 1000 / len(buf.getvalue())) ** 0.5
    out = []
    for _ in range(n):
        s = max(16, int(side * rng.uniform(0.75, 1.25)))
        img = Image.merge("RGB", [Image.effect_noise((s, int(s * 0.75)), rng.uniform(40, 90)) for _ in range(3)])
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def build(src: Path, size_mb: float, classes: int, image_kb: float) -> dict:
    pool = noise_pool(image_kb)
    mean_kb = sum(map(len, pool)) / len(pool) / 1000
    per_class = size_mb * 1000 / mean_kb / classes / (1 + REAL_VAL_SHARE)
    n_train = max(2, round(per_class))
    n_val = max(1, round(per_class * REAL_VAL_SHARE))
    arch = make_imagenet_archives(
        src,
        classes,
        n_train,
        n_val,
        quirks=False,
        image=lambda split, w, i, c: pool[zlib.crc32(f"{split}{w}{i}".encode()) % len(pool)],
    )
    return {
        "classes": classes,
        "train_images": classes * n_train,
        "val_images": classes * n_val,
        "mean_image_bytes": round(mean_kb * 1000),
        "train_tar_bytes": arch.train.stat().st_size,
        "val_tar_bytes": arch.val.stat().st_size,
        "archives": arch,
    }


def seed_method(arch, dest: Path) -> tuple[float, dict[str, float], int]:
    """The seed README's steps, as written there. Returns (seconds, seconds per step, the largest disk use seen
    after a step; the true peak, before unzip.sh's rm, is measured by seed_peak_before_rm)."""
    train, val = dest / "train", dest / "val"
    train.mkdir(parents=True)
    val.mkdir()
    unzip = dest / "unzip.sh"
    unzip.write_text(
        f"dir={train}\n"
        "for x in `ls $dir/*tar`\ndo\n  filename=`basename $x .tar`\n  mkdir $dir/$filename\n"
        "  tar -xvf $x -C $dir/$filename\ndone\n"
        "rm *.tar\n"  # the seed's script removes from the current folder, which it expects to be $dir
    )
    lines = [f"mkdir -p {w}" for w in arch.wnids]
    lines += [f"mv {name} {w}/" for name, w in sorted(arch.val_labels.items())]
    valprep = dest / "valprep.sh"
    valprep.write_text("\n".join(lines) + "\n")
    steps = [
        ("tar xvf train", ["tar", "xvf", str(arch.train), "-C", str(train)], dest),
        ("tar xvf val", ["tar", "xvf", str(arch.val), "-C", str(val)], dest),
        ("unzip.sh", ["sh", str(unzip)], train),
        ("valprep.sh", ["sh", str(valprep)], val),
    ]
    times, peak = {}, 0
    for name, cmd, cwd in steps:
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times[name] = time.perf_counter() - start
        peak = max(peak, disk_use(dest) - unzip.stat().st_blocks * 512 - valprep.stat().st_blocks * 512)
    return sum(times.values()), times, peak


def seed_peak_before_rm(arch, dest: Path) -> int:
    """unzip.sh without its rm, measured, then the rm: the seed's true peak (inner tars + images + val)."""
    train, val = dest / "train", dest / "val"
    train.mkdir(parents=True)
    val.mkdir()
    subprocess.run(["tar", "xf", str(arch.train), "-C", str(train)], check=True)
    subprocess.run(["tar", "xf", str(arch.val), "-C", str(val)], check=True)
    for x in sorted(train.glob("*.tar")):
        (train / x.stem).mkdir()
        subprocess.run(["tar", "xf", str(x), "-C", str(train / x.stem)], check=True)
    return disk_use(dest)


class Sampler(threading.Thread):
    def __init__(self, path: Path, every: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.path, self.every, self.peak, self.stop = path, every, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, disk_use(self.path))
            time.sleep(self.every)


def ours(arch, dest: Path, workers: int) -> float:
    start = time.perf_counter()
    result = prepare(arch.folder, dest, workers=workers)
    seconds = time.perf_counter() - start
    assert result.ok, result.problems
    return seconds


def ours_cli(arch, dest: Path, workers: int) -> float:
    cmd = [sys.executable, "-m", "zoobench", "prepare-imagenet", str(arch.folder), str(dest), "-j", str(workers)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def tree_use(dest: Path) -> int:
    return disk_use(dest / "train") + disk_use(dest / "val")


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["sync"], check=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=FULL_SIZE_MB, help="archive bytes to build (default 200)")
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--image-kb", type=float, default=110, help="mean image size (ILSVRC2012: about 110 kB)")
    parser.add_argument("--workers", type=int, default=environment.usable_cores())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where to build and extract (default: a temp dir)")
    parser.add_argument("--output", type=Path, default=None, help=f"result JSON (default: {RESULT} for a full run)")
    args = parser.parse_args()
    output = args.output or (RESULT if args.size_mb >= FULL_SIZE_MB else None)

    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="prepare-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        data = build(work / "src", args.size_mb, args.classes, args.image_kb)
        arch = data.pop("archives")
        print(f"built {data} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        runs = []
        for r in range(args.rounds):
            seconds, steps, peak = seed_method(arch, fresh(work / "seed"))
            runs.append({"method": "seed", "round": r, "seconds": seconds, "steps": steps, "peak_after_steps": peak})
            seed_tree = tree_use(work / "seed")
            runs.append({"method": "ours", "round": r, "seconds": ours(arch, fresh(work / "ours"), args.workers)})
            ours_tree = tree_use(work / "ours")
            runs.append(
                {"method": "ours_cli", "round": r, "seconds": ours_cli(arch, fresh(work / "cli"), args.workers)}
            )
            print(" ".join(f"{x['method']}={x['seconds']:.2f}s" for x in runs[-3:]), file=sys.stderr)

        seed_peak = seed_peak_before_rm(arch, fresh(work / "seed_peak"))
        sampler = Sampler(fresh(work / "ours_peak"))
        sampler.start()
        ours(arch, work / "ours_peak", args.workers)
        sampler.stop.set()
        sampler.join()
        ours_peak = max(sampler.peak, disk_use(work / "ours_peak"))
        fresh(work / "seed_peak")

    def median(method: str) -> float:
        return statistics.median(x["seconds"] for x in runs if x["method"] == method)

    summary = {
        "seed_median_s": median("seed"),
        "ours_median_s": median("ours"),
        "ours_cli_median_s": median("ours_cli"),
        "speedup": median("seed") / median("ours"),
        "speedup_cli": median("seed") / median("ours_cli"),
        "final_tree_bytes_seed": seed_tree,
        "final_tree_bytes_ours": ours_tree,
        "peak_disk_bytes_seed": seed_peak,
        "peak_disk_bytes_ours": ours_peak,
        "peak_over_final_seed": seed_peak / seed_tree,
        "peak_over_final_ours": ours_peak / ours_tree,
    }
    summary["meets_target"] = summary["speedup"] >= TARGET_SPEEDUP and summary["peak_over_final_ours"] <= TARGET_PEAK
    doc = {
        "benchmark": "zoobench prepare-imagenet vs the seed's tar/unzip.sh/valprep.sh",
        "target": {"speedup_min": TARGET_SPEEDUP, "peak_over_final_max": TARGET_PEAK, "size_mb_min": FULL_SIZE_MB},
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "dataset": data,
        "notes": [
            "ours = the prepare() library call; ours_cli = the whole command, interpreter start and imports included",
            "a set this size sits in the page cache: this measures the work done per byte and per file, "
            "not the disk; the seed writes every training byte twice (inner tars, then their images)",
            "peak disk: seed measured before its rm (inner tars + images + val); ours sampled every 10 ms",
        ],
        "summary": summary,
        "runs": runs,
        "environment": environment.collect(),
    }
    text = json.dumps(doc, indent=2) + "\n"
    if output is not None:
        atomic_write(output, text)
        print(f"wrote {output}", file=sys.stderr)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
