"""`zoobench prepare-imagenet SRC OUT`: the official ILSVRC2012 archives -> OUT/train/<wnid>/, OUT/val/<wnid>/ and
OUT/classes.json, verified. Replaces the seed's unzip.sh and valprep.sh.

How:
- The outer train tar is read header by header; each inner `<wnid>.tar` is read by a worker straight from its byte
  range inside the outer archive, and its images are copied (kernel copy_file_range) into OUT/train/<wnid>.partial/.
  Inner tars never land on disk, every archive byte is read once, and peak disk use is the final tree.
- Classes run in parallel (`workers` threads, default: the usable cores; the work is system calls, which run outside
  the GIL); validation images are split into chunks that run alongside them.
- Atomic and resumable: a class is renamed from `<wnid>.partial` to `<wnid>` only when complete, after the journal
  (OUT/.zoobench-prepare/journal.jsonl) records it. A re-run skips journaled classes whose folder exists, deletes
  the `.partial` folders the journal says a run created and redoes them; any other `.partial` is refused, never
  deleted. A POSIX lock on OUT/.zoobench-prepare/lock stops two runs on the same OUT; the kernel drops it when a run
  dies, even by SIGKILL.
- Safe: only regular-file members whose names fit the layout are accepted; traversal, absolute names, links and
  devices are refused by name (and by tarfile's 'data' filter as a second check), and files are created with
  O_EXCL | O_NOFOLLOW inside OUT. The user's archives are opened read-only and never touched. Bad input (a hostile
  member, a devkit that does not match the archives, a short disk) is refused before anything is written where it
  can be known then.
- Verified at the end of every run (and alone with verify_only) against the counts the archives imply; for the real
  set also against the published counts. md5=True checks the published MD5s, caching each verdict by size and mtime.

Modules: sources (finding the inputs), tarsafe (members read in place, refusal rules), scan (plans from headers),
extract (writing images, the thread pool), splits (OUT/train and OUT/val: resume, jobs, finishing), state (journal,
lock, MD5 cache), verify (checking OUT), result (what a run returns), run (the orchestration: `prepare`).
"""

from zoobench.imagenet.prepare.result import PrepareResult, SplitStats, human
from zoobench.imagenet.prepare.run import PUBLISHED_MD5, check_space, prepare
from zoobench.imagenet.prepare.scan import Plan, TrainClass, ValImage, scan_train, scan_val
from zoobench.imagenet.prepare.sources import DEVKIT, SPLITS, TRAIN_TAR, VAL_TAR, Source, Sources, find_sources
from zoobench.imagenet.prepare.state import STATE, Journal, Session, md5_of
from zoobench.imagenet.prepare.verify import published_problems, verify_split

__all__ = [
    "DEVKIT",
    "PUBLISHED_MD5",
    "SPLITS",
    "STATE",
    "TRAIN_TAR",
    "VAL_TAR",
    "Journal",
    "Plan",
    "PrepareResult",
    "Session",
    "Source",
    "Sources",
    "SplitStats",
    "TrainClass",
    "ValImage",
    "check_space",
    "find_sources",
    "human",
    "md5_of",
    "prepare",
    "published_problems",
    "scan_train",
    "scan_val",
    "verify_split",
]
