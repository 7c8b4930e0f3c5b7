"""prepare-imagenet's bad-input suite: each case one stderr line, exit 2, nothing of the user's touched.

Table cases run through tests/badinput.py; the cases that need a monkeypatch (a short disk, Ctrl-C, lowered
bounds) or that end in success (a damaged journal line) are plain tests below the table. Ids starting with Dn- are
the hardening issue's defects; each of those failed on the code before its fix.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import tarfile
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from badinput import Case, assert_bad_input, cases, snapshot
from clihelp import run_cli
from imagenet_fixtures import (
    DEVKIT_NAME,
    TRAIN_NAME,
    VAL_NAME,
    add_bytes,
    devkit_tgz,
    hostile_archives,
    make_imagenet_archives,
    meta_mat,
    split_into_folders,
)

import zoobench.imagenet.prepare.extract as extract
from zoobench.errors import ZooError
from zoobench.imagenet import devkit as dk
from zoobench.imagenet import prepare as prep
from zoobench.output.progress import SILENT

BASE: dict[str, object] = {}  # one set of archives for the whole module, copied into each case's folder


@pytest.fixture(scope="module", autouse=True)
def _base(tmp_path_factory):
    BASE["arch"] = make_imagenet_archives(tmp_path_factory.mktemp("base") / "src", n_classes=4, n_train=3, n_val=2)


@pytest.fixture(autouse=True)
def _md5_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOBENCH_CACHE_DIR", str(tmp_path / "cache"))


def arch():
    return BASE["arch"]


def src(tmp: Path, *, without: str | None = None) -> Path:
    """The base archives copied into tmp/src (less one of them)."""
    (tmp / "src").mkdir()
    for p in arch().paths():
        if p.name != without:
            shutil.copy2(p, tmp / "src" / p.name)
    return tmp / "src"


def prepared(tmp: Path) -> Path:
    """tmp/src prepared into tmp/out by an earlier, complete run."""
    assert prep.prepare(src(tmp), tmp / "out", workers=1).ok
    return tmp / "out"


def cmd(*extra: str, src: str = "{tmp}/src", out: str = "{tmp}/out") -> list[str]:
    return ["prepare-imagenet", src, out, "-j", "1", *extra]


def victim(tmp: Path, text: str = "") -> Path:
    """A file of the user's that a planted link points at."""
    (tmp / "victim").write_text(text)
    return tmp / "victim"


# --- setups ---------------------------------------------------------------------------------------------------------


def hostile(kind: str):
    def setup(tmp: Path) -> None:
        (tmp / "outside").mkdir()
        (tmp / "outside" / "target").write_text("precious")
        hostile_archives(arch(), tmp / "src", kind, tmp / "outside")

    return setup


def cut_train(tmp: Path) -> None:
    train = src(tmp) / TRAIN_NAME
    train.write_bytes(train.read_bytes()[: train.stat().st_size // 2])


def garbage_train(tmp: Path) -> None:
    (src(tmp) / TRAIN_NAME).write_bytes(b"not a tar archive at all\n" * 100)


def garbage_devkit(tmp: Path) -> None:
    (src(tmp) / DEVKIT_NAME).write_bytes(b"\x1f\x8b garbage")


def short_ground_truth(tmp: Path) -> None:
    """A devkit whose ground truth labels only the first validation image."""
    s = src(tmp)
    a = arch()
    leaves = sorted(((a.ids[w], w, a.words[w], 3) for w in a.wnids), key=lambda t: t[0])
    first = sorted(a.val_labels)[0]
    devkit_tgz(s / DEVKIT_NAME, meta_mat(leaves, []), f"{a.ids[a.val_labels[first]]}\n")


def devkit_with_extra_classes(tmp: Path) -> None:
    """D11: a devkit naming two classes more than the archives hold (same IDs and labels for the others)."""
    s = src(tmp)
    a = arch()
    n = len(a.wnids)
    leaves = [(a.ids[w], w, a.words[w], 3) for w in a.wnids]
    leaves += [(n + 1, "n99999998", "extra one", 3), (n + 2, "n99999999", "extra two", 3)]
    ground_truth = "".join(f"{a.ids[a.val_labels[name]]}\n" for name in sorted(a.val_labels))
    devkit_tgz(s / DEVKIT_NAME, meta_mat(sorted(leaves), []), ground_truth)


def gzip_bomb(tmp: Path) -> None:
    """D10: a devkit whose meta.mat unpacks to 65 MB (of zeros: the .tar.gz is 66 kB)."""
    s = src(tmp)
    with tarfile.open(s / DEVKIT_NAME, "w:gz") as tar:
        info = tarfile.TarInfo("ILSVRC2012_devkit_t12/data/meta.mat")
        info.size = 65 << 20
        tar.addfile(info, _Zeros(info.size))


class _Zeros(io.RawIOBase):
    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # noqa: ANN001
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


def foreign_partial(rel: str, after_run: bool = False):
    """D12: a folder of the user's named like one of ours, with a file in it."""

    def setup(tmp: Path) -> None:
        if after_run:
            prepared(tmp)
        else:
            src(tmp)
        folder = tmp / "out" / rel
        folder.mkdir(parents=True)
        (folder / "mine.JPEG").write_bytes(b"user data")

    return setup


def state_folder(tmp: Path) -> Path:
    src(tmp)
    state = tmp / "out" / prep.STATE
    state.mkdir(parents=True)
    return state


def state_is_a_file(tmp: Path) -> None:
    src(tmp)
    (tmp / "out").mkdir()
    (tmp / "out" / prep.STATE).write_text("not a folder")


def out_is_a_file(tmp: Path) -> None:
    src(tmp)
    (tmp / "out").write_text("a file of the user's")


def linked_lock(tmp: Path) -> None:
    """D13: the lock is a link to the user's file (the old code truncated it and wrote its pid there)."""
    (state_folder(tmp) / "lock").symlink_to(victim(tmp, "precious\n"))


def linked_journal(tmp: Path) -> None:
    """D13: the journal is a link to the user's file (the old code appended its lines to it)."""
    state = state_folder(tmp)
    (state / "lock").write_text("")
    (state / "journal.jsonl").symlink_to(victim(tmp))


def linked_state(tmp: Path) -> None:
    """D13: the state folder itself is a link to a folder of the user's."""
    src(tmp)
    (tmp / "out").mkdir()
    (tmp / "elsewhere").mkdir()
    (tmp / "out" / prep.STATE).symlink_to(tmp / "elsewhere")


def fifo_lock(tmp: Path) -> None:
    os.mkfifo(state_folder(tmp) / "lock")


def val_folder_with_link(tmp: Path) -> None:
    """D16: an extracted val folder where one image is a link to a file outside it."""
    train, val = split_into_folders(arch(), tmp / "seed")
    shutil.copy2(arch().devkit, tmp / "seed" / DEVKIT_NAME)
    first = sorted(val.iterdir())[0]
    first.unlink()
    first.symlink_to(victim(tmp, "secret\n"))


def seed_folders(tmp: Path) -> None:
    split_into_folders(arch(), tmp / "seed")
    shutil.copy2(arch().devkit, tmp / "seed" / DEVKIT_NAME)


def user_class_folder(tmp: Path) -> None:
    src(tmp)
    mine = tmp / "out" / "train" / arch().wnids[2]
    mine.mkdir(parents=True)
    (mine / "mine.JPEG").write_bytes(b"user data")


def other_classes_json(tmp: Path) -> None:
    out = prepared(tmp)
    (out / "classes.json").write_text("[]\n")


TABLE = [
    # inputs: missing, wrong or damaged
    Case("src-missing", cmd(src="{tmp}/nowhere"), r"SRC .*nowhere.* is not a folder"),
    Case("devkit-missing", cmd(), r"no devkit in", setup=lambda t: src(t, without=DEVKIT_NAME)),
    Case("val-archive-missing", cmd(), r"no val images in", setup=lambda t: src(t, without=VAL_NAME)),
    Case("train-path-missing", cmd("--train", "{tmp}/nowhere.tar"), r"train source .* does not exist", setup=src),
    Case("devkit-garbage", cmd(), r"cannot read the devkit", setup=garbage_devkit),
    Case("train-truncated", cmd(), rf"{TRAIN_NAME}.* is truncated", setup=cut_train),
    Case("train-not-a-tar", cmd(), rf"{TRAIN_NAME} is truncated or not a tar archive", setup=garbage_train),
    Case("val-unlabelled", cmd(), r"has no label in the devkit's ground truth", setup=short_ground_truth),
    Case("D10-devkit-gzip-bomb", cmd(), r"meta\.mat is 68\.2 MB unpacked, over the 64 MB bound", setup=gzip_bomb),
    Case(
        "D11-devkit-more-classes",
        cmd(),
        r"the devkit names 6 classes but .* holds images of 4",
        setup=devkit_with_extra_classes,
    ),
    Case(
        "D16-val-folder-link",
        cmd(src="{tmp}/seed"),
        r"val/ILSVRC2012_val_00000001\.JPEG.* is a symbolic link",
        setup=val_folder_with_link,
    ),
    # options
    Case("splits-unknown", cmd("--splits", "train,test"), r"unknown split 'test'", setup=src),
    Case("splits-empty", cmd("--splits", ","), r"no split to prepare", setup=src),
    Case("workers-zero", cmd("-j", "0"), r"Invalid value for '--workers'", setup=src),
    Case("format-unknown", cmd("-f", "xml"), r"unknown format 'xml'", setup=src),
    Case("verify-only-no-out", cmd("--verify-only"), r"nothing to verify", setup=src),
    Case("md5-differs", cmd("--md5"), r"MD5 [0-9a-f]{32} differs from the published", setup=src, may_change=("cache",)),
    # hostile members, inside an inner tar (found while extracting), in the outer tar and in val (found by the scan)
    *[
        Case(f"hostile-{kind}", cmd(), r"refused member", setup=hostile(kind), may_change=("out",))
        for kind in ("traversal", "absolute", "symlink", "hardlink", "chardev", "fifo", "directory")
    ],
    *[
        Case(f"hostile-{kind}", cmd(), r"refused member", setup=hostile(kind))
        for kind in ("outer-traversal", "outer-symlink", "val-traversal", "val-hardlink")
    ],
    # OUT
    Case(
        "out-inside-input",
        cmd(src="{tmp}/seed", out="{tmp}/seed/train/out"),
        r"overlaps the input folder",
        setup=seed_folders,
    ),
    Case("out-holds-input", cmd(src="{tmp}/seed", out="{tmp}/seed"), r"overlaps the input folder", setup=seed_folders),
    Case("out-is-a-file", cmd(), r"OUT .* exists and is not a folder", setup=out_is_a_file),
    Case("user-class-folder", cmd(), r"exists but no prepare-imagenet run finished it", setup=user_class_folder),
    Case("classes-json-of-another-devkit", cmd(), r"comes from another devkit", setup=other_classes_json),
    Case("rerun-other-options", cmd("--normalize-images"), r"was started from other input", setup=prepared),
    Case("D9-state-folder-is-a-file", cmd(), r"\.zoobench-prepare' is not a folder", setup=state_is_a_file),
    Case(
        "D12-foreign-train-partial",
        cmd(),
        r"n\d{8}\.partial' was not made by prepare-imagenet",
        setup=foreign_partial("train/n00000000.partial"),
    ),
    Case(
        "D12-foreign-val-partial",
        cmd(),
        r"val\.partial' was not made by prepare-imagenet",
        setup=foreign_partial("val.partial"),
    ),
    Case(
        "D12-foreign-partial-after-run",
        cmd(),
        r"later\.partial' was not made",
        setup=foreign_partial("train/later.partial", True),
    ),
    Case("D13-linked-lock", cmd(), r"lock' is a symbolic link", setup=linked_lock),
    Case("D13-linked-journal", cmd(), r"journal\.jsonl' is a symbolic link", setup=linked_journal),
    Case("D13-linked-state-folder", cmd(), r"\.zoobench-prepare' is a symbolic link", setup=linked_state),
    Case("D13-fifo-lock", cmd(), r"lock' is not a regular file", setup=fifo_lock),
]


@cases(TABLE)
def test_bad_input(case, tmp_path, capsys):
    assert_bad_input(case, tmp_path, capsys)


# --- cases that need a monkeypatch ---------------------------------------------------------------------------------

Usage = namedtuple("Usage", "total used free")


def test_D19_a_short_disk_is_refused_before_anything_is_made(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 5000, 5000))
    assert_bad_input(Case("D19-short-disk", cmd(), r"not enough free disk space", setup=src), tmp_path, capsys)
    assert not (tmp_path / "out").exists()


def test_D19_a_small_set_needs_little_slack(tmp_path, capsys, monkeypatch):
    """The set's archives are a few kB: 3 MB free is plenty (the old rule asked for 16 MB more than the set)."""
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - (3 << 20), 3 << 20))
    src(tmp_path)
    code, _, err = run_cli(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in cmd("-f", "csv")])
    assert code == 0, err


def test_D9_an_unwritable_out_is_one_line(tmp_path, capsys, monkeypatch):
    """Root ignores permissions, so the refusal is simulated where the state folder is made."""
    if os.geteuid() != 0:
        src(tmp_path)
        (tmp_path / "out").mkdir()
        (tmp_path / "out").chmod(0o555)
    else:
        mkdir = os.mkdir

        def refuse(path, *args, **kwargs):
            if str(path).endswith(prep.STATE):
                raise PermissionError(13, "Permission denied", str(path))
            return mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", refuse)
        src(tmp_path)
        (tmp_path / "out").mkdir()
    try:
        assert_bad_input(Case("D9-unwritable-out", cmd(), r"cannot write to OUT .*Permission denied"), tmp_path, capsys)
    finally:
        (tmp_path / "out").chmod(0o755)


def ctrl_c() -> None:
    """What pressing Ctrl-C does: SIGINT to this process, handled in the main thread (by main()'s handler)."""
    signal.raise_signal(signal.SIGINT)


@pytest.fixture
def interrupt_after(monkeypatch):
    """Ctrl-C in the main thread after `n` polls of the worker pool (where a real one lands while workers run)."""

    def arm(n: int) -> None:
        real, calls = extract.wait, [0]

        def wait(*args, **kwargs):
            calls[0] += 1
            if calls[0] > n:
                ctrl_c()
            return real(*args, **kwargs)

        monkeypatch.setattr(extract, "wait", wait)

    return arm


def test_D1_ctrl_c_during_md5_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    class Interrupted:
        def update(self, data):
            ctrl_c()

    monkeypatch.setattr(hashlib, "md5", lambda **kwargs: Interrupted())
    assert_bad_input(Case("D1-md5", cmd("--md5"), r"interrupted", code=130, setup=src), tmp_path, capsys)


def test_D1_ctrl_c_during_verify_only_is_one_line_and_leaves_out_as_it_was(tmp_path, capsys, interrupt_after):
    """A tree without a journal: its counts come from the archive's headers, read on the worker pool."""
    shutil.rmtree(prepared(tmp_path) / prep.STATE)
    interrupt_after(0)
    assert_bad_input(Case("D1-verify-only", cmd("--verify-only"), r"interrupted", code=130), tmp_path, capsys)


def test_D1_ctrl_c_while_extracting_keeps_finished_classes_and_removes_half_ones(
    tmp_path, capsys, monkeypatch, interrupt_after
):
    src(tmp_path)
    interrupt_after(1)
    code, _, err = run_cli(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in cmd()])
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 130 and len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err
    out = tmp_path / "out"
    assert not list(out.rglob("*.partial"))
    monkeypatch.undo()
    assert prep.prepare(tmp_path / "src", out, workers=1).ok  # and the same command resumes


def _bomb_devkit(path: Path, members: list[tuple[str, int]]) -> None:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, _Zeros(size))


@pytest.mark.parametrize(
    "bound, members, pattern",
    [
        ("MAX_MEMBER_BYTES", [("ILSVRC2012_devkit_t12/data/meta.mat", 3 << 20)], r"meta\.mat is 3\.1 MB .* 1 MB bound"),
        ("MAX_DEVKIT_BYTES", [("ILSVRC2012_devkit_t12/COPYING", 3 << 20)], r"COPYING is 3\.1 MB .* 1 MB bound"),
        ("MAX_DEVKIT_BYTES", [("ILSVRC2012_devkit_t12/" + "x" * (3 << 20), 0)], r"unpacks to more than 1 MB"),
    ],
    ids=["D10-member", "D10-whole-devkit", "D10-long-name-header"],
)
def test_D10_devkit_bombs_are_refused_on_a_bound(tmp_path, capsys, monkeypatch, bound, members, pattern):
    """Bounds lowered to 1 MB so that a 3 MB bomb stands for a 3 GB one."""
    monkeypatch.setattr(dk, bound, 1 << 20)
    src(tmp_path)
    _bomb_devkit(tmp_path / "src" / DEVKIT_NAME, members)
    assert_bad_input(Case("D10", cmd(), pattern), tmp_path, capsys)


def test_D10_a_meta_mat_that_inflates_past_the_bound_is_refused(tmp_path, capsys, monkeypatch):
    """meta.mat's own compressed variables are inflated with a bound before scipy sees them."""
    monkeypatch.setattr(dk, "MAX_MEMBER_BYTES", 1 << 20)
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"padding": np.zeros(3 << 20, np.uint8)}, do_compression=True)
    src(tmp_path)
    devkit_tgz(tmp_path / "src" / DEVKIT_NAME, buf.getvalue(), "1\n")
    assert_bad_input(Case("D10-mat", cmd(), r"inflates to more than 1 MB"), tmp_path, capsys)


def test_D17_a_damaged_journal_line_is_skipped_and_every_valid_one_kept(tmp_path, capsys):
    out = prepared(tmp_path)
    journal = out / prep.STATE / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    middle = len(lines) // 2
    journal.write_text("".join([*lines[:middle], "garbage, not JSON\n", *lines[middle:]]))
    before = snapshot(out / "train")

    code, stdout, err = run_cli(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in cmd("-f", "json")])
    assert code == 0, err
    warnings = [x for x in err.splitlines() if "warning" in x]
    assert len(warnings) == 1 and f"line {middle + 1}" in warnings[0] and "valid lines are kept" in warnings[0]
    rows = {r["split"]: r for r in json.loads(stdout)["rows"] if r["class"].startswith("all")}
    assert (rows["train"]["resumed"], rows["train"]["extracted"]) == (4, 0)  # nothing refused or redone
    assert snapshot(out / "train") == before
    kept = journal.read_text().splitlines(keepends=True)
    assert kept[: len(lines) + 1] == [*lines[:middle], "garbage, not JSON\n", *lines[middle:]]


def test_D12_our_own_leftovers_are_still_cleared(tmp_path):
    """What a killed run leaves (a journaled .partial) is removed and redone; the user's would be refused."""
    out = prepared(tmp_path)
    w = arch().wnids[1]
    shutil.rmtree(out / "train" / w)
    (out / "train" / f"{w}.partial").mkdir()
    (out / "train" / f"{w}.partial" / "half.JPEG").write_bytes(b"half")
    journal = out / prep.STATE / "journal.jsonl"
    journal.write_text("".join(x for x in journal.read_text().splitlines(keepends=True) if f'"class": "{w}"' not in x))
    result = prep.prepare(tmp_path / "src", out, workers=1)
    assert result.ok and (result.stats["train"].resumed, result.stats["train"].extracted) == (3, 1)
    assert not (out / "train" / f"{w}.partial").exists()


def test_a_refusal_made_with_out_locked_still_leaves_out_as_it_was(tmp_path, capsys):
    """The lock and state folder this run made are removed again: it journaled nothing."""

    def setup(tmp: Path) -> None:
        src(tmp)
        (tmp / "out").mkdir()
        (tmp / "out" / "classes.json").write_text("[]\n")

    case = Case("refused-under-lock", cmd(), r"comes from another devkit", setup=setup)
    assert_bad_input(case, tmp_path, capsys)
    assert not (tmp_path / "out" / prep.STATE).exists()


def test_journal_lines_of_the_wrong_shape_count_as_damaged(tmp_path):
    out = prepared(tmp_path)
    journal = out / prep.STATE / "journal.jsonl"
    with journal.open("a") as fh:
        fh.write('{"class": "n00000001", "images": "three"}\n42\n')
    warned = []

    class Collect:
        def task(self, *args, **kwargs):
            return SILENT.task(*args, **kwargs)

        def message(self, level, text):
            warned.append((level, text))

    assert prep.prepare(tmp_path / "src", out, workers=1, progress=Collect()).ok
    assert [lvl for lvl, _ in warned].count("warning") == 1 and "skipped 2 damaged line" in warned[0][1]


def test_folder_devkit_members_are_bounded_too(tmp_path, monkeypatch):
    monkeypatch.setattr(dk, "MAX_MEMBER_BYTES", 1 << 20)
    data = tmp_path / "kit" / "data"
    data.mkdir(parents=True)
    (data / "meta.mat").write_bytes(bytes(2 << 20))
    (data / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n")
    with pytest.raises(ZooError, match=r"meta\.mat is 2\.1 MB unpacked, over the 1 MB bound"):
        dk.load_devkit(tmp_path / "kit")


def test_devkit_members_are_read_from_a_stream_in_order(tmp_path):
    """The bounded reader still finds the members in the official layout, with other files around them."""
    a = arch()
    kit = dk.load_devkit(a.devkit)
    with tarfile.open(a.devkit) as tar:
        meta = tar.extractfile(next(m for m in tar if m.name.endswith("meta.mat"))).read()
    path = tmp_path / DEVKIT_NAME
    with tarfile.open(path, "w:bz2") as tar:
        add_bytes(tar, "ILSVRC2012_devkit_t12/readme.txt", b"x" * 5000)
        add_bytes(
            tar,
            "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt",
            "".join(f"{a.ids[a.val_labels[n]]}\n" for n in sorted(a.val_labels)).encode(),
        )
        add_bytes(tar, "ILSVRC2012_devkit_t12/data/meta.mat", meta)
    assert dk.load_devkit(path) == kit
