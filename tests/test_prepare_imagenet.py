"""prepare-imagenet: labels, layout, counts, resumability, locking, hostile archives, disk, damage, MD5, quirks.

Every test builds its archives with tests/imagenet_fixtures.py (the official layout, a few classes of 8x8 images).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from clihelp import assert_one_line_error, run_cli
from imagenet_fixtures import (
    DEVKIT_NAME,
    HOSTILE,
    TRAIN_NAME,
    VAL_NAME,
    devkit_tgz,
    hostile_archives,
    kill_mid_prepare,
    make_imagenet_archives,
    meta_mat,
    prepared_tree,
    split_into_folders,
    tar_bytes,
)
from PIL import Image

from zoobench.errors import ZooError
from zoobench.imagenet import devkit as dk
from zoobench.imagenet import prepare as prep
from zoobench.imagenet.prepare import tarsafe

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    """One set of archives shared by the tests that only read them (each test checks they stay unchanged)."""
    return make_imagenet_archives(tmp_path_factory.mktemp("imagenet") / "src", n_classes=4, n_train=3, n_val=2)


@pytest.fixture(autouse=True)
def _md5_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOBENCH_CACHE_DIR", str(tmp_path / "cache"))


def run(src, out, **kwargs):
    kwargs.setdefault("workers", 1)
    return prep.prepare(src, out, **kwargs)


def fingerprint(paths):
    """Content hash, size and mtime of each file: what 'unchanged' means."""
    out = {}
    for p in paths:
        st = Path(p).stat()
        out[str(p)] = (hashlib.sha256(Path(p).read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


def expected_tree(arch) -> dict[str, bytes]:
    want = {f"train/{w}/{name}": data for w, files in arch.train_files.items() for name, data in files.items()}
    want.update({f"val/{arch.val_labels[name]}/{name}": data for name, data in arch.val_files.items()})
    return want


def copy_archives(arch, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for p in arch.paths():
        shutil.copy2(p, folder / p.name)
    return folder


def mean_rgb(path: Path) -> tuple[float, ...]:
    with Image.open(path) as img:
        return tuple(float(v) for v in np.asarray(img.convert("RGB"), dtype=np.float64).mean(axis=(0, 1)))


# --- devkit and labels ----------------------------------------------------------------------------------------------


def test_devkit_keeps_leaves_and_maps_id_to_wnid_to_sorted_index(arch, tmp_path):
    kit = dk.load_devkit(arch.devkit)
    assert list(kit.wnids) == arch.wnids == sorted(arch.wnids)
    assert [c.index for c in kit.classes] == list(range(len(arch.wnids)))
    assert {c.wnid: c.words for c in kit.classes} == arch.words
    assert kit.id_to_wnid == {i: w for w, i in arch.ids.items()}  # the ancestors (num_children > 0) are dropped
    assert "n00001740" not in kit.wnids and "n00002684" not in kit.wnids
    # the fixture's IDs are not in sorted-WNID order: mapping by ID order would mislabel
    assert [kit.id_to_wnid[i] for i in sorted(kit.id_to_wnid)] != arch.wnids
    for name, wnid in arch.val_labels.items():
        assert kit.val_wnid(int(name[15:23])) == wnid
    assert kit.num_train_images == dict.fromkeys(arch.wnids, 3)

    # the extracted devkit folder reads the same
    with tarfile.open(arch.devkit) as tar:
        tar.extractall(tmp_path / "kit", filter="data")
    assert dk.load_devkit(tmp_path / "kit") == kit


def test_classes_json_format_round_trip(arch, tmp_path):
    kit = dk.load_devkit(arch.devkit)
    path = tmp_path / "classes.json"
    dk.write_classes(path, kit.classes)
    doc = json.loads(path.read_text())
    assert doc == [{"index": i, "wnid": w, "words": arch.words[w]} for i, w in enumerate(arch.wnids)]
    assert dk.read_classes(path) == list(kit.classes)
    path.write_text(json.dumps([doc[1], doc[0]]))
    with pytest.raises(ZooError, match="entry 0"):
        dk.read_classes(path)


def test_ground_truth_with_an_unknown_id_is_refused():
    with pytest.raises(ZooError, match="line 2: ILSVRC2012_ID 9 is not a leaf"):
        dk.parse_ground_truth("1\n9\n", {1: "n00000001"})


# --- the prepared tree ----------------------------------------------------------------------------------------------


def test_prepare_writes_the_layout_with_right_labels_and_leaves_archives_alone(arch, tmp_path):
    before = fingerprint(arch.paths())
    listing = sorted(p.name for p in arch.folder.iterdir())
    result = run(arch.folder, tmp_path / "out", workers=2)
    out = tmp_path / "out"

    assert result.ok, result.problems
    assert prepared_tree(out) == expected_tree(
        arch
    )  # every image, in its class, bytes verbatim (CMYK and PNG included)
    assert json.loads((out / "classes.json").read_text()) == [
        {"index": i, "wnid": w, "words": arch.words[w]} for i, w in enumerate(arch.wnids)
    ]
    # labels checked from pixels alone: each class has its own colour
    for w in arch.wnids:
        for p in (out / "val" / w).iterdir():
            if p.name not in arch.quirks:
                assert max(abs(a - b) for a, b in zip(mean_rgb(p), arch.colors[w], strict=True)) < 12, p
    totals = {r["split"]: r for r in result.rows if r["class"].startswith("all")}
    assert (totals["train"]["expected"], totals["train"]["found"]) == (12, 12)
    assert (totals["val"]["expected"], totals["val"]["found"]) == (8, 8)
    assert result.stats["train"].extracted == 4 and result.stats["val"].extracted == 8
    assert not list(out.rglob("*.partial"))

    assert fingerprint(arch.paths()) == before
    assert sorted(p.name for p in arch.folder.iterdir()) == listing


def test_cli_prints_the_verification_table_on_stdout(arch, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, "prepare-imagenet", str(arch.folder), str(out), "-j", "1", "-f", "csv")
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [(r["split"], r["expected"], r["found"], r["status"]) for r in rows] == [
        ("train", "12", "12", "ok"),
        ("val", "8", "8", "ok"),
    ]
    assert "verified" in stderr and "Traceback" not in stderr

    # --verify-only finds damage, by class, and exits 1
    victim = arch.wnids[2]
    next((out / "train" / victim).iterdir()).unlink()
    (out / "val" / arch.wnids[0] / "notes.txt").write_text("stray")
    code, stdout, _ = run_cli(capsys, "prepare-imagenet", str(arch.folder), str(out), "--verify-only", "-f", "csv")
    assert code == 1
    problems = {
        (r["split"], r["class"]): r for r in csv.DictReader(io.StringIO(stdout)) if not r["class"].startswith("all")
    }
    assert problems[("train", victim)]["expected"] == "3" and problems[("train", victim)]["found"] == "2"
    assert "notes.txt" in problems[("val", arch.wnids[0])]["status"]


def test_verify_only_reports_each_problem_by_class(arch, tmp_path):
    out = tmp_path / "out"
    assert run(arch.folder, out).ok
    assert run(arch.folder, out, verify_only=True).ok
    a, b = arch.wnids[0], arch.wnids[1]
    moved = next((out / "val" / a).iterdir())
    moved.rename(out / "val" / b / moved.name)  # a mislabelled validation image
    shutil.rmtree(out / "train" / arch.wnids[3])  # a missing class
    (out / "train" / f"{a}.partial").mkdir()  # a killed run's leftover
    result = run(arch.folder, out, verify_only=True)
    got = {(p["split"], p["class"], p["status"].split(" (")[0]) for p in result.problems}
    assert ("val", a, "1 image missing") in got
    assert ("val", b, f"unexpected entry {moved.name}") in got
    assert ("train", arch.wnids[3], "missing class folder") in got
    assert ("train", f"{a}.partial", "unfinished class folder") in got
    assert len(result.problems) == 4


def test_verify_only_without_a_journal_counts_the_archive_headers(arch, tmp_path):
    """A tree made another way (e.g. the seed's scripts) is checked against the counts the archive implies."""
    out = tmp_path / "out"
    run(arch.folder, out)
    shutil.rmtree(out / prep.STATE)
    assert run(arch.folder, out, verify_only=True, workers=2).ok
    assert not (out / prep.STATE).exists()  # verifying leaves the tree as it was: no lock or journal made
    next((out / "train" / arch.wnids[1]).iterdir()).unlink()
    (problem,) = run(arch.folder, out, verify_only=True).problems
    assert (problem["class"], problem["expected"], problem["found"]) == (arch.wnids[1], 3, 2)


def test_published_counts_apply_to_the_real_set_only():
    def kit(n):
        classes = tuple(dk.ClassInfo(i, f"n{i:08d}", "") for i in range(n))
        return dk.Devkit(classes, {}, (), {})

    val = {f"n{i:08d}": 50 for i in range(1000)}
    assert prep.published_problems("val", val, kit(1000)) == []
    val["n00000007"] = 49
    assert [p["class"] for p in prep.published_problems("val", val, kit(1000))] == ["n00000007"]
    train = {f"n{i:08d}": 1281 for i in range(1000)}
    assert prep.published_problems("train", train, kit(1000))[0]["expected"] == 1_281_167
    assert prep.published_problems("train", {"n00000001": 3}, kit(4)) == []


# --- resumability and locking ----------------------------------------------------------------------------------------


def test_killed_run_resumes_to_a_complete_tree_without_redoing_finished_classes(tmp_path):
    arch = make_imagenet_archives(tmp_path / "src", n_classes=4, n_train=6, n_val=2)
    out = tmp_path / "out"
    killed = kill_mid_prepare(arch, out, workers=2)
    assert killed.quiet_after  # nothing keeps writing into OUT after the kill
    done = killed.finished
    assert done and killed.partial  # a real mid-run state: some finished, some half
    kept = killed.kept

    result = run(arch.folder, out, workers=2)  # the dead run's lock does not block
    assert result.ok, result.problems
    assert prepared_tree(out) == expected_tree(arch)
    assert result.stats["train"].resumed == len(done)
    assert result.stats["train"].extracted == 4 - len(done)
    assert {f: (Path(f).stat().st_ino, Path(f).stat().st_mtime_ns) for f in kept} == kept  # not redone
    assert not list(out.rglob("*.partial"))


def test_resume_distrusts_half_finished_state(arch, tmp_path):
    out = tmp_path / "out"
    run(arch.folder, out)
    w = arch.wnids[1]
    shutil.rmtree(out / "train" / w)
    (out / "train" / f"{w}.partial").mkdir()
    (out / "train" / f"{w}.partial" / f"{w}_1.JPEG").write_bytes(b"half")
    shutil.rmtree(out / "val")
    (out / "val.partial" / arch.wnids[0]).mkdir(parents=True)
    journal = out / prep.STATE / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(line for line in lines if "split_done" not in line) + '{"class": "n0')  # cut off
    result = run(arch.folder, out)
    assert result.ok and prepared_tree(out) == expected_tree(arch)
    assert (result.stats["train"].resumed, result.stats["train"].extracted) == (3, 1)
    assert journal.read_text().endswith("\n")


def test_a_class_folder_not_written_by_us_is_never_deleted(arch, tmp_path):
    out = tmp_path / "out"
    mine = out / "train" / arch.wnids[2] / "mine.JPEG"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"user data")
    with pytest.raises(ZooError, match="exists but no prepare-imagenet run finished it"):
        run(arch.folder, out)
    assert mine.read_bytes() == b"user data"


def test_a_rerun_with_other_options_is_refused(arch, tmp_path):
    out = tmp_path / "out"
    run(arch.folder, out)
    with pytest.raises(ZooError, match="was started from other input"):
        run(arch.folder, out, normalize_images=True)
    assert run(arch.folder, out).stats["train"].resumed == 4  # the same command just resumes


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from zoobench.imagenet.prepare import Session
with Session(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_second_run_on_the_same_out_is_refused_naming_the_pid(arch, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ZooError, match=rf"in use by another prepare-imagenet run \(pid {holder.pid}\)"):
            run(arch.folder, out)
        assert not (out / "train").exists()
    finally:
        holder.kill()
        holder.wait()
    assert run(arch.folder, out).ok


# --- hostile and damaged input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_hostile_member_is_refused_by_name_and_nothing_lands_outside_out(arch, tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target").write_text("precious")
    src, bad = hostile_archives(arch, tmp_path / "src", kind, outside)
    sources = fingerprint([src / TRAIN_NAME, src / VAL_NAME])
    out = tmp_path / "out"
    with pytest.raises(ZooError) as err:
        run(src, out, workers=2)
    assert repr(bad) in str(err.value) and "refused" in str(err.value)

    assert sorted(p.name for p in outside.iterdir()) == ["target"]
    assert (outside / "target").read_text() == "precious"
    allowed = {src, outside, out, tmp_path / "cache"}
    assert {p for p in tmp_path.iterdir()} <= allowed
    assert sorted(p.name for p in tmp_path.parent.iterdir() if "99999" in p.name) == []
    for p in out.rglob("*"):  # nothing but folders and plain files, no half class left
        mode = p.lstat().st_mode
        assert stat.S_ISDIR(mode) or stat.S_ISREG(mode), p
        assert not p.name.endswith(".partial") and "99999" not in p.name
    assert fingerprint([src / TRAIN_NAME, src / VAL_NAME]) == sources


@pytest.mark.parametrize("kind", ["traversal", "symlink", "hardlink", "chardev", "blockdev", "fifo", "val-traversal"])
def test_tarfile_data_filter_is_a_second_line_of_defence(arch, tmp_path, monkeypatch, kind):
    """With our own name and type checks switched off, the standard library's 'data' filter still refuses."""
    monkeypatch.setattr(tarsafe, "refusal", lambda member, pattern: None)
    outside = tmp_path / "outside"
    outside.mkdir()
    src, bad = hostile_archives(arch, tmp_path / "src", kind, outside)
    with pytest.raises(ZooError, match="refused by tarfile's data filter") as err:
        run(src, tmp_path / "out")
    assert repr(bad) in str(err.value)
    assert list(outside.iterdir()) == [] and {p.name for p in tmp_path.iterdir()} <= {"src", "outside", "out", "cache"}


def test_a_member_that_does_not_fit_the_layout_is_refused(arch, tmp_path):
    src = copy_archives(arch, tmp_path / "src")
    w = arch.wnids[0]
    members = [(f"{x}.tar", tar_bytes(list(arch.train_files[x].items()))) for x in arch.wnids]
    members[0] = (f"{w}.tar", tar_bytes([*arch.train_files[w].items(), ("README.txt", b"hi")]))
    (src / TRAIN_NAME).write_bytes(tar_bytes(members))
    with pytest.raises(ZooError, match=r"refused member 'README.txt': name does not fit"):
        run(src, tmp_path / "out")
    (src / TRAIN_NAME).write_bytes(tar_bytes([*members[1:], ("n99999999.tar", members[0][1])]))
    with pytest.raises(ZooError, match="class n99999999 is not a leaf synset"):
        run(src, tmp_path / "out2")


def test_short_disk_is_refused_before_writing(arch, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5000, 5000))
    out = tmp_path / "out"
    with pytest.raises(ZooError, match=r"not enough free disk space .* and 5\.0 kB is free"):
        run(arch.folder, out)
    assert not out.exists()  # nothing at all: no OUT, no lock, no empty train folder


@pytest.mark.parametrize("where", ["mid-member", "member-boundary", "inner", "val"])
def test_a_truncated_archive_is_an_error_naming_it(arch, tmp_path, where):
    src = copy_archives(arch, tmp_path / "src")
    train, val = src / TRAIN_NAME, src / VAL_NAME
    if where == "mid-member":
        train.write_bytes(train.read_bytes()[: train.stat().st_size // 2])
    elif where == "member-boundary":  # cut after the second inner tar: tarfile alone would call it a complete archive
        with tarfile.open(train) as tar:
            second = tar.getmembers()[1]
        train.write_bytes(train.read_bytes()[: second.offset_data + second.size])
    elif where == "inner":  # the outer archive is whole but one inner tar inside it is cut short
        members = [(f"{x}.tar", tar_bytes(list(arch.train_files[x].items()))) for x in arch.wnids]
        members[2] = (members[2][0], members[2][1][:1536])
        train.write_bytes(tar_bytes(members))
    else:
        val.write_bytes(val.read_bytes()[:5000])
    name = VAL_NAME if where == "val" else TRAIN_NAME
    with pytest.raises(ZooError, match=rf"{name}.* is truncated"):
        run(src, tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.partial"))


def test_missing_devkit_is_a_clear_error(arch, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for p in (arch.train, arch.val):
        shutil.copy2(p, src / p.name)
    code, _, err = run_cli(capsys, "prepare-imagenet", str(src), str(tmp_path / "out"))
    assert_one_line_error(code, err)
    assert DEVKIT_NAME in err
    devkit_tgz(src / DEVKIT_NAME, b"", "1\n")  # a devkit without meta.mat
    with tarfile.open(src / DEVKIT_NAME) as tar:
        names = tar.getnames()
    assert any(n.endswith("meta.mat") for n in names)
    with pytest.raises(ZooError, match="meta.mat is not a readable MATLAB file"):
        run(src, tmp_path / "out")
    with tarfile.open(src / DEVKIT_NAME, "w:gz") as tar:
        info = tarfile.TarInfo("ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"1\n"))
    with pytest.raises(ZooError, match="has no data/meta.mat"):
        run(src, tmp_path / "out")


def test_meta_mat_without_leaves_is_refused():
    data = meta_mat([], [(1, "n00001740", "entity", [2])])
    with pytest.raises(ZooError, match="no leaf synsets"):
        dk.leaves(dk.parse_meta(data))


# --- MD5 ---------------------------------------------------------------------------------------------------------


def test_md5_checks_the_published_sums_and_caches_the_verdict(arch, tmp_path, monkeypatch):
    sums = {split: hashlib.md5(p.read_bytes()).hexdigest() for split, p in (("train", arch.train), ("val", arch.val))}
    result = run(arch.folder, tmp_path / "out", md5=True, expected_md5=sums)
    assert result.ok
    md5_rows = [r for r in result.rows if r["class"].startswith("md5")]
    assert [(r["split"], r["found"], r["status"]) for r in md5_rows] == [
        ("train", sums["train"], "ok"),
        ("val", sums["val"], "ok"),
    ]

    # cached: verified again without reading the archives
    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(hashlib, "md5", no_hashing)
    assert run(arch.folder, tmp_path / "out", md5=True, expected_md5=sums, verify_only=True).ok
    monkeypatch.undo()
    monkeypatch.setenv("ZOOBENCH_CACHE_DIR", str(tmp_path / "cache"))

    # a changed mtime means the cache does not apply
    copy = tmp_path / "copy.tar"
    shutil.copy2(arch.train, copy)
    assert prep.md5_of(copy) == (sums["train"], False)
    assert prep.md5_of(copy) == (sums["train"], True)
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    assert prep.md5_of(copy) == (sums["train"], False)

    # a mismatch: nothing is extracted; with --verify-only it is a problem row
    with pytest.raises(ZooError, match="differs from the published"):
        run(arch.folder, tmp_path / "out2", md5=True)  # the real published sums, which tiny archives cannot match
    assert not (tmp_path / "out2" / "train").exists()
    result = run(arch.folder, tmp_path / "out", md5=True, verify_only=True, expected_md5={**sums, "val": "0" * 32})
    assert [(p["split"], p["status"]) for p in result.problems] == [("val", "MD5 differs")]


# --- image quirks and other inputs --------------------------------------------------------------------------------


def test_normalize_images_reencodes_cmyk_png_and_grayscale_as_rgb_jpeg(arch, tmp_path):
    out = tmp_path / "out"
    result = run(arch.folder, out, normalize_images=True, workers=2)
    assert result.ok
    assert set(arch.quirks.values()) == {"cmyk", "png", "gray"}
    want = expected_tree(arch)
    got = prepared_tree(out)
    assert got.keys() == want.keys()
    normalized = set(result.stats["train"].normalized) | set(result.stats["val"].normalized)
    assert normalized == set(arch.quirks)
    for rel, data in got.items():
        name = rel.rsplit("/", 1)[1]
        if name in arch.quirks:
            with Image.open(out / rel) as img:
                assert (img.format, img.mode) == ("JPEG", "RGB"), rel
            if arch.quirks[name] != "gray":
                wnid = rel.split("/")[1]
                assert max(abs(a - b) for a, b in zip(mean_rgb(out / rel), arch.colors[wnid], strict=True)) < 40
        else:
            assert data == want[rel]  # RGB JPEGs are left byte for byte


@pytest.mark.parametrize("links", [True, False])
def test_already_extracted_folders_are_accepted_and_left_alone(arch, tmp_path, monkeypatch, links):
    """Validation files are hard-linked where the file system allows (no extra space), else copied."""
    if not links:

        def cross_device(*args, **kwargs):
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "link", cross_device)
    train_dir, val_dir = split_into_folders(arch, tmp_path / "seed")
    inputs = sorted([*train_dir.iterdir(), *val_dir.iterdir()])
    before = fingerprint(inputs)
    (val_dir / "valprep.sh").write_text("# the seed's script, not an image\n")
    out = tmp_path / "out"
    result = run(tmp_path / "seed", out, devkit=arch.devkit, workers=2)
    assert result.ok, result.problems
    assert prepared_tree(out) == expected_tree(arch)
    assert fingerprint(inputs) == before
    assert sorted([*train_dir.iterdir(), *val_dir.iterdir()]) == sorted([*inputs, val_dir / "valprep.sh"])
    assert {p.stat().st_nlink for p in (out / "val").rglob("*.JPEG")} == {2 if links else 1}


def test_out_inside_an_input_folder_is_refused(arch, tmp_path):
    train_dir, _ = split_into_folders(arch, tmp_path / "seed")
    with pytest.raises(ZooError, match="overlaps the input folder"):
        run(tmp_path / "seed", train_dir / "out", devkit=arch.devkit)


def test_one_split_alone(arch, tmp_path):
    out = tmp_path / "out"
    result = run(arch.folder, out, splits=["val"])
    assert result.ok and not (out / "train").exists()
    assert sum(1 for _ in (out / "val").rglob("*.JPEG")) == 8
