"""prepare-imagenet killed and resumed, N times in a row: does every resume end in the tree an uninterrupted run makes?

Each round: `zoobench prepare-imagenet` in a subprocess, each image write slowed so that the kill lands mid-run,
SIGKILLed as soon as one class is journaled and another half written; then the same `prepare` call resumes it.
A round passes when nothing wrote into OUT after the kill, the resume verified, the tree is byte for byte the one an
uninterrupted run made, and the classes finished before the kill were kept (same inode and mtime), not redone.

Writes results/prepare_kill_resume.json (with machine metadata); --rounds below the default writes only where
--output says, so a quick check does not replace the recorded result.

Usage: python benchmarks/prepare_kill_resume.py [--rounds 20] [--classes 6] [--images 6] [--workers 2]
       [--delay 0.05] [--workdir DIR] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from imagenet_fixtures import kill_mid_prepare, make_imagenet_archives, prepared_tree  # noqa: E402

from zoobench.imagenet.prepare import prepare  # noqa: E402
from zoobench.output.files import atomic_write  # noqa: E402

RESULT = REPO / "results" / "prepare_kill_resume.json"
FULL_ROUNDS = 20


def one_round(arch, out: Path, reference: dict[str, bytes], workers: int, delay: float) -> dict:
    killed = kill_mid_prepare(arch, out, workers=workers, delay=delay)
    start = time.perf_counter()
    result = prepare(arch.folder, out, workers=workers)
    resume_s = time.perf_counter() - start
    st = result.stats["train"]
    kept = all((Path(f).stat().st_ino, Path(f).stat().st_mtime_ns) == v for f, v in killed.kept.items())
    same = prepared_tree(out) == reference
    return {
        "killed_after_s": round(killed.seconds, 3),
        "finished_at_kill": len(killed.finished),
        "partial_at_kill": len(killed.partial),
        "quiet_after_kill": killed.quiet_after,
        "resume_s": round(resume_s, 3),
        "resumed": st.resumed,
        "extracted": st.extracted,
        "verified": result.ok,
        "finished_kept": kept and st.resumed == len(killed.finished),
        "same_tree": same,
        "passed": killed.quiet_after and result.ok and kept and same and st.resumed == len(killed.finished),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=FULL_ROUNDS)
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--images", type=int, default=6, help="training images per class")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added to each image write")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build and extract (default: a temp dir)")
    parser.add_argument("--output", type=Path, default=None, help=f"result JSON (default: {RESULT} for a full run)")
    args = parser.parse_args()
    output = args.output or (RESULT if args.rounds >= FULL_ROUNDS else None)

    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="prepare-kill-") as tmp:
        work = Path(tmp)
        arch = make_imagenet_archives(work / "src", args.classes, args.images, 2)
        assert prepare(arch.folder, work / "reference", workers=args.workers).ok
        reference = prepared_tree(work / "reference")
        rounds = []
        for r in range(args.rounds):
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            rounds.append({"round": r, **one_round(arch, out, reference, args.workers, args.delay)})
            x = rounds[-1]
            print(
                f"round {r}: killed after {x['killed_after_s']:.2f} s with {x['finished_at_kill']} classes done, "
                f"{x['partial_at_kill']} half; resume {'passed' if x['passed'] else 'FAILED'}",
                file=sys.stderr,
            )

    from zoobench import environment  # here: it imports torch, which the rounds do not need

    summary = {"rounds": len(rounds), "passed": sum(x["passed"] for x in rounds)}
    summary["all_passed"] = summary["passed"] == summary["rounds"]
    doc = {
        "benchmark": "prepare-imagenet: SIGKILL mid-run, resume, compare with an uninterrupted run",
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "summary": summary,
        "rounds": rounds,
        "environment": environment.collect(),
    }
    if output is not None:
        atomic_write(output, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {output}", file=sys.stderr)
    print(json.dumps(summary, indent=2))
    if not summary["all_passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
