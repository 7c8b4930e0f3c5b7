"""Label sets (zoobench.imagenet.evaluate.labelsets): ImageNet-ReaL, ImageNetV2, ImageNet-A and ImageNet-R, scored on
fixtures whose right answers are known. Each fixture is built so that a model that knows the answers gets 100 % and
the usual bugs would not: ReaL's 1-based file numbers read 0-based, V2's folders sorted as strings, A/R scored over
all 1000 classes instead of their 200."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evalfixtures import WNIDS, pixel, solid, wide_pixel, write_classes

from zoobench.errors import ZooError
from zoobench.imagenet.evaluate import evaluate, labelsets, rescore

SMALL = (48, 40)  # solid images: resized up, still solid; small files decode fast


# --- ImageNet-ReaL -------------------------------------------------------------------------------------------------

P = {i: (3 * i) % 10 for i in range(1, 13)}  # file ILSVRC2012_val_0000000i: the class the model ranks first
# Real label sets: image i's own answer (sometimes with a second class), two images without any. Neighbours' answers
# differ by 3 and no set holds one, so reading entry i for file i (a 0-based slip) scores wrong.
REAL = [[P[i]] if i % 3 else [P[i], (P[i] + 5) % 10] for i in range(1, 13)]
REAL[3] = REAL[8] = []  # files 4 and 9


def _real_val(out: Path) -> Path:
    val = out / "val"
    for w in WNIDS:
        (val / w).mkdir(parents=True)
    write_classes(out)
    for i in range(1, 13):
        solid(val / WNIDS[i % 10] / f"ILSVRC2012_val_{i:08d}.png", pixel(P[i]), SMALL)
    (out / "real.json").write_text(json.dumps(REAL))
    return val


def test_real_scores_against_each_images_label_set(tmp_path):
    val = _real_val(tmp_path)
    real = evaluate("evalfixtures:pixel_model", val, labels=f"real:{tmp_path / 'real.json'}", workers=0)
    assert real.accuracy.top1.images == 10 and real.data.left_out == 2  # files 4 and 9 have no real label
    assert real.accuracy.top1.correct == 10 and real.accuracy.top5.correct == 10
    plain = evaluate("evalfixtures:pixel_model", val, workers=0)
    assert plain.accuracy.top1.images == 12
    assert plain.accuracy.top1.correct == sum(1 for i in P if P[i] == i % 10) == 2  # the folder labels disagree
    assert real.row["labels"] == "real" and real.row["left_out"] == 2


def test_real_predictions_file_rescores_with_the_label_sets(tmp_path):
    val = _real_val(tmp_path)
    for name in ("p.csv", "p.json"):
        evaluate(
            "evalfixtures:pixel_model",
            val,
            labels=f"real:{tmp_path / 'real.json'}",
            workers=0,
            predictions=tmp_path / name,
        )
        again = rescore(tmp_path / name)
        assert (again["images"], again["correct1"], again["correct5"]) == (10, 10, 10)


def test_real_labels_ship_in_timms_wheel():
    path = labelsets.timm_info("imagenet_real_labels.json")
    assert path is not None and path.parts[-4:-1] == ("timm", "data", "_info")
    real = labelsets.read_real(None)
    assert len(real) == 50000 and sum(1 for r in real if not r) == 3163  # the ReaL paper's count of dropped images
    assert real[1] == [970, 795]  # ILSVRC2012_val_00000002


def test_real_needs_the_val_file_names(tmp_path):
    val = _real_val(tmp_path)
    solid(val / WNIDS[0] / "other.png", pixel(0), SMALL)
    with pytest.raises(ZooError, match=r"'n\d+/other\.png' is not one of them"):
        labelsets.load(val, labels=f"real:{tmp_path / 'real.json'}")


def test_real_without_timm_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setattr(labelsets, "timm_info", lambda name: None)
    with pytest.raises(ZooError, match=r"timm is not installed \(pip install 'zoobench\[weights\]'\)"):
        labelsets.read_real(None)


# --- ImageNetV2 ----------------------------------------------------------------------------------------------------


def _v2(root: Path, n: int = 12) -> Path:
    for c in range(n):
        (root / str(c)).mkdir(parents=True)
        for j in range(2):
            solid(root / str(c) / f"{j:04x}.png", pixel(c, 3 + j), SMALL)
    return root


def test_v2_folders_are_class_indices_not_sorted_strings(tmp_path):
    root = _v2(tmp_path / "v2")
    names = [str(c) for c in range(12)]
    assert sorted(names) != names  # the trap: "10" and "11" sort before "2"
    folder = labelsets.load(root, labels="v2")
    assert all(int(rel.split("/")[0]) == label for rel, label in folder.samples)
    result = evaluate("evalfixtures:pixel_model_12", root, labels="v2", workers=0)
    assert result.accuracy.top1.correct == result.accuracy.top1.images == 24
    # What string sorting would have done: folder "10" labelled 2, and so on: 8 of 12 classes shifted.
    by_string = {name: i for i, name in enumerate(sorted(names))}
    assert sum(1 for c in range(12) if by_string[str(c)] != c) == 10


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["0", "1", "cat"], r"named by class index .* has cat$"),
        (["0", "01"], r"has 01$"),
        (["0", "1", "3"], r"lacks class folders 2 "),
    ],
)
def test_v2_refuses_folders_that_are_not_indices(tmp_path, names, message):
    for name in names:
        (tmp_path / name).mkdir()
        solid(tmp_path / name / "a.png", pixel(0), SMALL)
    with pytest.raises(ZooError, match=message):
        labelsets.load(tmp_path, labels="v2")


def test_v2_with_classes_json_takes_its_class_count(tmp_path):
    root = _v2(tmp_path / "val", 3)
    write_classes(tmp_path)  # 10 classes: folders 0..2 of them
    folder = labelsets.load(root, labels="v2")
    assert len(folder.classes) == 10 and {label for _, label in folder.samples} == {0, 1, 2}


# --- ImageNet-A / ImageNet-R ---------------------------------------------------------------------------------------


def _timm_list(name: str) -> list[str]:
    path = labelsets.timm_info(name)
    assert path is not None, f"timm's wheel lacks {name}"
    return path.read_text().split()


def _subset_val(out: Path, which: str) -> tuple[Path, list[int]]:
    """Three classes of the subset whose lower neighbour is not in it. Per class two images: one answering the
    class, one answering its neighbour below, whose next class (logit 4 of 5) is the right one: right only when
    the 200-class mask drops the neighbour."""
    synsets = _timm_list("imagenet_synsets.txt")
    (out / "classes.json").write_text(json.dumps([{"index": i, "wnid": w, "words": ""} for i, w in enumerate(synsets)]))
    subset = set(_timm_list(f"imagenet_{which}_synsets.txt"))
    index = {w: i for i, w in enumerate(synsets)}
    chosen = [index[w] for w in sorted(subset) if index[w] > 0 and synsets[index[w] - 1] not in subset][:3]
    val = out / "val"
    for c in chosen:
        (val / synsets[c]).mkdir(parents=True)
        solid(val / synsets[c] / "own.png", wide_pixel(c), SMALL)
        solid(val / synsets[c] / "next.png", wide_pixel(c - 1), SMALL)
    return val, chosen


@pytest.mark.parametrize("which", ["a", "r"])
def test_a_and_r_are_scored_over_their_200_classes(tmp_path, which, monkeypatch):
    val, chosen = _subset_val(tmp_path, which)
    masks = [int(x) for x in _timm_list(f"imagenet_{which}_indices.txt")]
    folder = labelsets.load(val, labels=which)
    assert folder.mask == sorted(masks) and len(folder.mask) == 200
    result = evaluate("evalfixtures:wide_pixel_model", val, labels=which, workers=0)
    assert result.accuracy.top1.correct == result.accuracy.top1.images == 6
    assert set(result.predictions.top.ravel()) <= set(masks)  # every answer is one of the 200
    load = labelsets.load

    def unmasked(*args, **kwargs):
        folder = load(*args, **kwargs)
        folder.mask = None
        return folder

    monkeypatch.setattr(labelsets, "load", unmasked)  # the bug: scored over all 1000 classes
    over_1000 = evaluate("evalfixtures:wide_pixel_model", val, labels=which, workers=0)
    assert over_1000.accuracy.top1.correct == 3  # the neighbour below wins on the "next" images


def test_subset_without_timm_uses_the_folders_and_says_so(tmp_path, monkeypatch):
    val, chosen = _subset_val(tmp_path, "a")
    monkeypatch.setattr(labelsets, "timm_info", lambda name: None)
    folder = labelsets.load(val, labels="a")
    assert folder.mask == sorted(chosen)
    assert any("timm is not installed" in w for w in folder.warnings)
    result = evaluate("evalfixtures:wide_pixel_model", val, labels="a", workers=0)
    assert result.accuracy.top1.correct == 6


def test_subset_refuses_a_class_outside_it(tmp_path):
    val, _ = _subset_val(tmp_path, "a")
    synsets = _timm_list("imagenet_synsets.txt")
    outside = next(w for w in synsets if w not in set(_timm_list("imagenet_a_synsets.txt")))
    (val / outside).mkdir()
    solid(val / outside / "x.png", wide_pixel(0), SMALL)
    with pytest.raises(ZooError, match=rf"not ImageNet-A classes: {outside}$"):
        labelsets.load(val, labels="a")


def test_unknown_label_set_is_refused():
    with pytest.raises(ZooError, match=r"labels must be imagenet, real, v2, a or r \(or real:PATH\), not 'v3'"):
        labelsets.parse("v3")
