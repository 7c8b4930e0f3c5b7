"""One prepare run, in order: find and scan the inputs (refusing bad ones before anything is written), check the
disk, check MD5s, take OUT, extract what is not done yet (or, with verify_only, only count), verify, summarize."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from zoobench import environment
from zoobench.errors import ZooError
from zoobench.imagenet import devkit as dk
from zoobench.imagenet.prepare.extract import Job, run_jobs, train_class_job
from zoobench.imagenet.prepare.result import PrepareResult, SplitStats, human, plural
from zoobench.imagenet.prepare.scan import Plan, scan
from zoobench.imagenet.prepare.sources import SPLITS, Sources, check_no_overlap, find_sources
from zoobench.imagenet.prepare.splits import TrainSplit, ValSplit
from zoobench.imagenet.prepare.state import STATE, Journal, Session, md5_of
from zoobench.imagenet.prepare.tarsafe import file_size
from zoobench.imagenet.prepare.verify import problem, published_problems, verify_split
from zoobench.output.files import atomic_write
from zoobench.output.progress import SILENT, Progress

PUBLISHED_MD5 = {"train": "1d675b47d978889d74fa0da5fadfb00e", "val": "29b22e2961454d5413ddabcf34fc5622"}

# Free space wanted beyond the archive bytes to write. 3 %: an image file's last block is half empty on average,
# about 2 kB per ~110 kB ImageNet JPEG, of which the tar's own 512-byte headers (counted in the archive bytes) cover
# a part; the rest is room for error. One 4 kB block per folder made (a class folder holds its entries), and 1 MB
# for the journal and classes.json. No fixed slack beyond that: a 0.5 MB set needs about 1.5 MB, not 17 MB.
DISK_MARGIN = 1.03
FOLDER_BYTES = 4096
DISK_RESERVE = 1 << 20

Split = TrainSplit | ValSplit


def _existing(path: Path) -> Path:
    """path, or its nearest folder that exists: where a disk check can look before OUT is made."""
    p = path.absolute()
    while not p.exists():
        p = p.parent
    return p


def check_space(out: Path, splits: Sequence[Split]) -> None:
    """Refuse, before writing, a disk that cannot hold what the run still has to write."""
    probe = _existing(out)
    need = {s.name: s.space(probe) for s in splits}
    data = sum(b for b, _ in need.values())
    folders = sum(f for _, f in need.values())
    if data <= 0:
        return
    free = shutil.disk_usage(probe).free
    want = int(data * DISK_MARGIN) + folders * FOLDER_BYTES + DISK_RESERVE
    if want > free:
        parts = " + ".join(f"{name} {human(b)}" for name, (b, _) in need.items() if b)
        raise ZooError(
            f"not enough free disk space for {out}: the tree needs about {human(want)} more ({parts}, plus "
            f"{round((DISK_MARGIN - 1) * 100)} % and {folders:,} folders for file-system overhead) and {human(free)} "
            "is free; free some space or choose another OUT"
        )


def _splits(out: Path, plans: dict[str, Plan], journal: Journal, normalize: bool, workers: int) -> list[Split]:
    return [
        TrainSplit(out, plan, journal, normalize)
        if name == "train"
        else ValSplit(out, plan, journal, normalize, workers)
        for name, plan in plans.items()
    ]


def _new_sources(out: Path, plans: dict[str, Plan], journal: Journal, normalize: bool) -> list[dict]:
    """The source lines to journal; a split half done from other input (or other options) is refused."""
    new = []
    for split, plan in plans.items():
        old = journal.sources.get(split)
        mine = {"fingerprint": plan.fingerprint, "normalize": normalize}
        same = old is not None and {k: old.get(k) for k in mine} == mine
        if old is not None and not same and journal.done[split]:
            raise ZooError(
                f"{str(out / split)!r} was started from other input ({old['fingerprint']}, normalize="
                f"{old['normalize']}); finish it with the same command, or choose an empty OUT"
            )
        if not same:
            new.append({"source": split, **mine})
    return new


def extract(
    out: Path,
    kit: dk.Devkit,
    plans: dict[str, Plan],
    journal: Journal,
    workers: int,
    normalize: bool,
    progress: Progress,
) -> tuple[dict[str, SplitStats], dict[str, dict[str, int]]]:
    """Write what an earlier run did not finish. Everything that can be refused is refused before the first write."""
    classes_path = out / "classes.json"
    wanted = dk.classes_json(kit.classes)
    if classes_path.exists() and classes_path.read_text(encoding="utf-8") != wanted:
        raise ZooError(f"{str(classes_path)!r} comes from another devkit; choose an empty OUT")
    new_sources = _new_sources(out, plans, journal, normalize)
    splits = _splits(out, plans, journal, normalize, workers)
    check_space(out, splits)
    for entry in new_sources:
        journal.write(entry)
    atomic_write(classes_path, wanted)
    t0 = time.perf_counter()
    try:
        run_jobs([job for s in splits for job in s.start()], workers, progress, "extract")
    except BaseException:
        for s in splits:
            s.abandon()
        raise
    elapsed = time.perf_counter() - t0
    for s in splits:
        s.stats.seconds = elapsed
        s.stats.images = sum(s.expected.values())
    return {s.name: s.stats for s in splits}, {s.name: s.expected for s in splits}


def expected_from(
    plans: dict[str, Plan], journal: Journal, workers: int, progress: Progress
) -> tuple[dict[str, SplitStats], dict[str, dict[str, int]]]:
    """verify_only: the counts the archives imply. Val from its headers; train from the journal when it was made
    from this very archive, else by reading the inner headers (no image data)."""
    stats = {split: SplitStats() for split in plans}
    expected: dict[str, dict[str, int]] = dict.fromkeys(plans)  # type: ignore[arg-type] (filled below, in order)
    if "val" in plans:
        expected["val"] = dict(sorted(Counter(v.wnid for v in plans["val"].val).items()))
        stats["val"].classes = len(expected["val"])
        stats["val"].bytes = plans["val"].bytes
    if "train" in plans:
        plan = plans["train"]
        trusted = (journal.sources.get("train") or {}).get("fingerprint") == plan.fingerprint
        counts: dict[str, int] = {}
        jobs = []
        for c in plan.train:
            entry = journal.done["train"].get(c.wnid) if trusted else None
            if entry is not None:
                counts[c.wnid] = entry["images"]
            else:
                jobs.append(Job("train", train_class_job, (c, None, False), lambda r: counts.update(r.counts), c.size))
        run_jobs(jobs, workers, progress, "count")
        expected["train"] = dict(sorted(counts.items()))
        stats["train"].classes = len(counts)
        stats["train"].bytes = plan.bytes
    return stats, expected


def check_md5(sources: Sources, expected: dict[str, str], progress: Progress) -> list[dict]:
    """A row per split: the archive's MD5 against the published one (or why it was skipped)."""
    rows = []
    for split, source in sources.splits.items():
        name = f"md5 {source.path.name}"
        if source.kind != "tar":
            rows.append(problem(split, name, "", "", "skipped (a folder, not the archive)"))
        elif split not in expected:
            rows.append(problem(split, name, "", "", "skipped (no published MD5)"))
        else:
            task = progress.task(f"md5 {split}", file_size(source.path), unit="B")
            try:
                value, _ = md5_of(source.path, task.advance)
            finally:
                task.close()
            rows.append(
                problem(split, name, expected[split], value, "ok" if value == expected[split] else "MD5 differs")
            )
    return rows


def _verify(
    out: Path, kit: dk.Devkit, expected: dict[str, dict[str, int]], stats: dict[str, SplitStats], verify_only: bool
) -> tuple[list[dict], list[dict]]:
    """(a total row per split, the problems)."""
    totals, problems = [], []
    for split, exp in expected.items():
        t0 = time.perf_counter()
        found, split_problems = verify_split(out, split, exp, kit)
        split_problems += published_problems(split, exp, kit)
        st = stats[split]
        totals.append(
            {
                "split": split,
                "class": f"all {len(exp)}",
                "expected": sum(exp.values()),
                "found": found,
                "status": "ok" if not split_problems else plural(len(split_problems), "problem"),
                "extracted": None if verify_only else st.extracted,
                "resumed": None if verify_only else st.resumed,
                "bytes": None if verify_only else st.bytes,
                "seconds": None if verify_only else round(st.seconds, 2),
                "normalized": len(st.normalized),
                "verify_seconds": round(time.perf_counter() - t0, 2),
            }
        )
        problems += split_problems
    return totals, problems


def _summarize(result: PrepareResult, progress: Progress, verify_only: bool) -> None:
    for split, st in result.stats.items():
        if verify_only:
            continue
        text = f"{split}: {st.images:,} images in {st.classes} classes, {human(st.bytes)}"
        if split == "train":
            text += f"; {st.extracted} classes written now, {st.resumed} done before"
        elif st.resumed:
            text += "; done before"
        if st.normalized:
            text += f"; {plural(len(st.normalized), 'image')} re-encoded as RGB JPEG"
        progress.message("note", text + f" ({st.seconds:.1f} s)")
    if result.ok:
        progress.message("note", f"verified {result.out}: every class holds the images its archive implies")
    else:
        progress.message(
            "note",
            f"verification of {result.out} found {plural(len(result.problems), 'problem')} (listed by class on stdout)",
        )


def _workers(workers: int | None) -> int:
    if workers is None:
        return environment.usable_cores()
    if workers < 1:
        raise ZooError("workers must be at least 1")
    return workers


def prepare(
    src: str | Path | None,
    out: str | Path,
    *,
    train: str | Path | None = None,
    val: str | Path | None = None,
    devkit: str | Path | None = None,
    splits: Sequence[str] = SPLITS,
    workers: int | None = None,
    normalize_images: bool = False,
    md5: bool = False,
    verify_only: bool = False,
    expected_md5: dict[str, str] | None = None,
    progress: Progress = SILENT,
) -> PrepareResult:
    """Prepare (or with verify_only, only verify) OUT from the archives in SRC; see the package docstring.

    expected_md5: MD5 per split for md5=True (default: the published ones). Raises ZooError on bad input, before
    anything is written where it can be known then; verification problems come back in the result (`ok` is False).
    Ctrl-C raises KeyboardInterrupt once the workers have stopped; finished classes are kept, half ones removed.
    """
    workers = _workers(workers)
    out = Path(out)
    sources = find_sources(src, list(splits), train=train, val=val, devkit=devkit)
    check_no_overlap(sources, out)
    kit = dk.load_devkit(sources.devkit)
    if verify_only and not out.is_dir():
        raise ZooError(f"nothing to verify: {str(out)!r} does not exist")
    warn = lambda text: progress.message("warning", text)  # noqa: E731
    plans = scan(sources, kit, warn)
    if not verify_only and not (out / STATE).is_dir():  # a fresh OUT: refuse a short disk before making anything
        check_space(out, _splits(out, plans, Journal(), normalize_images, workers))
    rows = check_md5(sources, expected_md5 or PUBLISHED_MD5, progress) if md5 else []
    problems = [r for r in rows if r["status"] == "MD5 differs"]
    if problems and not verify_only:
        first = problems[0]
        raise ZooError(
            f"{first['class'].removeprefix('md5 ')}: MD5 {first['found']} differs from the published "
            f"{first['expected']}; the download is damaged (nothing was extracted)"
        )
    with Session(out, readonly=verify_only, warn=warn) as session:
        if verify_only:
            stats, expected = expected_from(plans, session.journal, workers, progress)
        else:
            stats, expected = extract(out, kit, plans, session.journal, workers, normalize_images, progress)
        totals, found = _verify(out, kit, expected, stats, verify_only)
    problems += found
    result = PrepareResult(out, totals + rows + [p for p in problems if p not in rows], problems, stats)
    _summarize(result, progress, verify_only)
    return result
