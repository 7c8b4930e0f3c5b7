"""`zoobench eval`: crop geometry against torchvision, known-answer accuracy, averaging, the exact distributed split,
weights, and every bad input refused in one line. Nothing downloads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from clihelp import assert_one_line_error, run_cli
from evalfixtures import (
    WNIDS,
    PixelModel,
    expected_counts,
    logits_for,
    make_val,
    pixel,
    run_ranks,
    solid,
    write_classes,
)
from PIL import Image
from scipy.stats import binomtest
from torchvision import transforms as T

from zoobench.errors import ZooError
from zoobench.imagenet import evaluate as ev
from zoobench.imagenet import transforms as tr
from zoobench.imagenet.evaluate import weights as ev_weights

MODEL = "evalfixtures:pixel_model"


@pytest.fixture(scope="module")
def valset(tmp_path_factory) -> tuple[Path, list]:
    out = tmp_path_factory.mktemp("imagenet")
    return out, make_val(out)


def run_eval(capsys, *args: str) -> tuple[int, dict | None, str]:
    code, out, err = run_cli(capsys, "eval", *args, "--workers", "0", "-f", "json")
    return code, (json.loads(out) if code == 0 else None), err


def random_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


# --- transforms ----------------------------------------------------------------------------------------------------


def test_sizes_follow_torchvision():
    assert [tr.resize_for(r) for r in (224, 299, 320, 331)] == [256, 342, 366, 378]
    for w, h in [(500, 375), (333, 500), (500, 333), (257, 256), (256, 256), (640, 427)]:
        img = Image.new("RGB", (w, h))
        assert tr.shorter_side_size(w, h, 256) == T.Resize(256)(img).size


def _tv_pipeline(*steps) -> T.Compose:
    def to_stack(crops):
        crops = crops if isinstance(crops, tuple) else (crops,)
        return torch.stack([T.functional.to_tensor(c) for c in crops])

    return T.Compose([*steps, T.Lambda(to_stack), T.Normalize(tr.IMAGENET_MEAN, tr.IMAGENET_STD)])


@pytest.mark.parametrize(
    ("size", "ours", "reference"),
    [
        # 385 wide after the resize: an odd margin, where TenCrop's flipped centre is one pixel off the mirror
        ((301, 453), dict(crops=1), (T.Resize(256), T.CenterCrop(224))),
        ((453, 301), dict(crops=5), (T.Resize(256), T.FiveCrop(224))),
        ((453, 301), dict(crops=10), (T.Resize(256), T.TenCrop(224))),
        ((300, 470), dict(crops=10), (T.Resize(256), T.TenCrop(224))),
        ((453, 301), dict(crops=10, resize="square"), (T.Resize((256, 256)), T.TenCrop(224))),
        ((500, 375), dict(crops=1, crop_size=299), (T.Resize(342), T.CenterCrop(299))),
        ((375, 500), dict(crops=5, crop_size=299), (T.Resize(342), T.FiveCrop(299))),
    ],
)
def test_crops_equal_torchvision(tmp_path, size, ours, reference):
    path = tmp_path / "img.png"
    random_image(*size).save(path)
    got = tr.EvalTransform(**ours)(path)
    with Image.open(path) as img:
        want = _tv_pipeline(*reference)(img.convert("RGB"))
    assert got.shape == want.shape
    assert torch.equal(got, want)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torchvision.io decoding, deprecated in 0.29
def test_torchvision_decoder_matches_its_own_pipeline(tmp_path):
    from torchvision.io import decode_image
    from torchvision.transforms import v2

    path = tmp_path / "img.png"
    random_image(453, 301).save(path)
    got = tr.EvalTransform(crops=10, decoder="torchvision")(path)
    want = v2.Compose([v2.Resize(256, antialias=True), v2.TenCrop(224)])(decode_image(str(path)))
    want = v2.Normalize(tr.IMAGENET_MEAN, tr.IMAGENET_STD)(torch.stack(want).float() / 255)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert "antialias=True" in tr.EvalTransform(decoder="torchvision").describe()["resizer"]


def test_each_image_is_decoded_once_for_ten_crops(tmp_path, monkeypatch):
    path = tmp_path / "img.png"
    random_image(320, 280).save(path)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **kw: opened.append(a[0]) or real_open(*a, **kw))
    assert tr.EvalTransform(crops=10)(path).shape == (10, 3, 224, 224)
    assert opened == [path]


def test_seed_train_transform_is_a_random_flipped_crop_minus_the_mean(tmp_path):
    # 256 x 320 needs no resize, and each pixel names its own column and row: every output can be located exactly.
    x, y = np.meshgrid(np.arange(320), np.arange(256))
    img = Image.fromarray(np.stack([x % 256, y, x // 256], -1).astype(np.uint8))
    t = tr.get_transform("seed_train", generator=torch.Generator().manual_seed(1))
    mean = torch.tensor(tr.IMAGENET_MEAN).view(3, 1, 1)
    lefts, tops, flips = set(), set(), 0
    for _ in range(120):
        out = t(img)
        assert out.shape == (3, 224, 224)
        px = torch.round((out + mean) * 255).long()  # the seed subtracts the mean and does not divide by std
        cols = px[0] + 256 * px[2]
        rows = px[1]
        flipped = bool(cols[0, 0] > cols[0, -1])
        flips += flipped
        left, top = int(cols.min()), int(rows.min())
        want_cols = torch.arange(left, left + 224)
        assert torch.equal(cols, (want_cols.flip(0) if flipped else want_cols).expand(224, 224))
        assert torch.equal(rows, torch.arange(top, top + 224)[:, None].expand(224, 224))
        lefts.add(left)
        tops.add(top)
    assert 35 <= flips <= 85  # p = 1/2 over 120 draws (fixed seed)
    assert min(lefts) >= 0 and max(lefts) <= 320 - 224 and len(lefts) > 40
    assert min(tops) >= 0 and max(tops) <= 256 - 224 and len(tops) > 20
    # A constant image minus the per-channel mean, after the shorter side went to 256.
    flat = t(Image.new("RGB", (400, 300), (10, 20, 30)))
    assert torch.equal(flat, torch.tensor([10, 20, 30]).view(3, 1, 1).expand(3, 224, 224).float() / 255 - mean)


def test_shuffled_loader_visits_everything_in_a_seeded_random_order():
    data = list(range(50))
    orders = [torch.cat(list(loader)).tolist() for loader in (tr.shuffled_loader(data, 8, seed=3),) * 2]
    again = torch.cat(list(tr.shuffled_loader(data, 8, seed=3))).tolist()
    assert sorted(orders[0]) == data and orders[0] != data
    assert orders[0] != orders[1]  # a fresh order each epoch
    assert again == orders[0]  # reproducible with the seed


def test_train_loader_on_the_folder(valset):
    out, made = valset
    folder = ev.image_folder(out / "val", transform=tr.SeedTrainTransform())
    x, labels = next(iter(tr.shuffled_loader(folder, 6, seed=0)))
    assert x.shape == (6, 3, 224, 224) and labels.tolist() != sorted(labels.tolist())


# --- known answers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crops", [1, 5, 10])
def test_known_top1_top5_and_settings(capsys, valset, crops):
    out, made = valset
    code, doc, err = run_eval(capsys, MODEL, "--data", str(out / "val"), "--crops", str(crops))
    assert code == 0, err
    row = doc["rows"][0]
    c1, c5 = expected_counts(made)
    n = len(made)
    assert (row["correct1"], row["correct5"], row["images"], row["dataset_images"]) == (c1, c5, n, n)
    assert row["top1"] == pytest.approx(100 * c1 / n) and row["top5"] == pytest.approx(100 * c5 / n)
    lo, hi = binomtest(c1, n).proportion_ci(method="wilson")
    assert (row["top1_lo"], row["top1_hi"]) == pytest.approx((100 * lo, 100 * hi))
    assert row["ci"] == "Wilson score interval, 95%"
    assert row["crops"] == crops and row["resize"] == "shorter side 256" and row["crop_size"] == 224
    assert row["interpolation"] == "bilinear, antialias" and row["decoder"].startswith("PIL")
    assert row["average"] == "softmax" and row["dtype"] == "fp32" and row["device"] == "cpu"
    assert row["weights"] == "random init" and row["random_init"] is True and row["classes"] == 10
    assert "randomly initialised" in err
    assert any("randomly initialised" in note for note in doc["notes"])
    assert doc["environment"]["torch"] == torch.__version__


def test_predictions_file_holds_each_images_top5(capsys, valset, tmp_path):
    out, made = valset
    preds = tmp_path / "preds.csv"
    code, doc, err = run_eval(capsys, MODEL, "--data", str(out / "val"), "--predictions", str(preds), "--crops", "5")
    assert code == 0, err
    with preds.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == [f for f, _, _ in made]
    for r, (_, label, p) in zip(rows, made, strict=True):
        # Labels follow classes.json, whatever order the folders were created in; top-5 is p, p+1, ... p+4.
        assert int(r["label"]) == label and r["wnid"] == WNIDS[label]
        assert [int(r[f"top{j}"]) for j in range(1, 6)] == [(p + j) % 10 for j in range(5)]
        probs = [float(r[f"p{j}"]) for j in range(1, 6)]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    again = ev.rescore(preds)
    assert (again["correct1"], again["correct5"]) == (doc["rows"][0]["correct1"], doc["rows"][0]["correct5"])
    assert [p.name for p in tmp_path.iterdir()] == ["preds.csv"]  # written atomically, no temp file left
    as_json = tmp_path / "preds.json"
    code, _, _ = run_eval(capsys, MODEL, "--data", str(out / "val"), "--predictions", str(as_json))
    assert code == 0 and ev.rescore(as_json) == ev.rescore(preds)


def test_probabilities_are_the_model_softmax_over_crops(valset):
    out, made = valset
    res = ev.evaluate(MODEL, out / "val", crops=10, workers=0)
    # Every crop of a solid image sees the same pixel, so the average is that one crop's softmax.
    for i in (0, 7, 22):
        _, _, p = made[i]
        rgb = Image.open(out / "val" / made[i][0]).getpixel((0, 0))
        probs = torch.tensor(logits_for(p, rgb[1] / 10, 10)).float().softmax(0)
        np.testing.assert_allclose(res.predictions.prob[i], probs.topk(5).values.numpy(), rtol=1e-6)


def _crop_origins(crops: int) -> list[tuple[int, int]]:
    """(row, col) of each crop's top-left pixel in the original 256x256 image, TenCrop's order."""
    five = [(0, 0), (0, 32), (32, 0), (32, 32), (16, 16)]
    mirrored = [(r, 255 - c) for r, c in five]  # the flipped image's crops start at the mirrored column
    return (five + mirrored)[:crops]


@pytest.mark.parametrize("crops", [5, 10])
def test_softmax_and_logit_averaging_differ_as_computed(tmp_path, capsys, crops):
    # One crop is very sure of class 3, the others mildly prefer class 8: averaging logits picks 3, softmax picks 8.
    out = tmp_path
    (out / "val").mkdir()
    write_classes(out)
    arr = np.zeros((256, 256, 3), np.uint8)
    arr[:, :] = pixel(8, 2.0)
    arr[0, 0] = pixel(3, 20.0)
    for wnid in WNIDS:
        (out / "val" / wnid).mkdir()
        Image.fromarray(arr).save(out / "val" / wnid / "a.png")
    crop_logits = np.array([logits_for(*((3, 20.0) if rc == (0, 0) else (8, 2.0)), 10) for rc in _crop_origins(crops)])
    expect = {
        "softmax": torch.tensor(crop_logits).softmax(1).mean(0),
        "logits": torch.tensor(crop_logits).mean(0).softmax(0),
    }
    assert expect["logits"].argmax() == 3 and expect["softmax"].argmax() == 8
    for how in ("softmax", "logits"):
        preds = tmp_path / f"{how}.csv"
        args = ["--data", str(out / "val"), "--crops", str(crops), "--resize", "square", "--average", how]
        code, doc, err = run_eval(capsys, MODEL, *args, "--predictions", str(preds))
        assert code == 0, err
        assert doc["rows"][0]["average"] == how and doc["rows"][0]["resize"] == "square 256x256"
        first = next(csv.DictReader(preds.open()))
        want = expect[how].topk(5)
        assert [int(first[f"top{j}"]) for j in range(1, 6)] == want.indices.tolist()
        np.testing.assert_allclose([float(first[f"p{j}"]) for j in range(1, 6)], want.values.numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_workers_and_decoders_agree(valset):
    out, _ = valset
    base = ev.evaluate(MODEL, out / "val", workers=0)
    for kwargs in (dict(workers=2), dict(workers=0, decoder="torchvision"), dict(workers=0, batch_size=1)):
        res = ev.evaluate(MODEL, out / "val", **kwargs)
        assert np.array_equal(res.predictions.top, base.predictions.top), kwargs
        assert (res.row["correct1"], res.row["correct5"]) == (base.row["correct1"], base.row["correct5"])


class _Recorder:
    """A Progress that keeps what it is told: messages, and each task's name, total, unit and advances."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.tasks: list[dict] = []

    def task(self, what: str, total: float | None = None, unit: str = "items"):
        record = {"what": what, "total": total, "unit": unit, "done": 0, "closed": False}
        self.tasks.append(record)

        class _Task:
            def advance(self, n: float = 1, *, label: str = "", result: object = None) -> None:
                record["done"] += n

            def close(self) -> None:
                record["closed"] = True

        return _Task()

    def message(self, level: str, text: str) -> None:
        self.messages.append((level, text))


def test_progress_and_warnings_go_through_the_protocol(valset, capsys):
    out, made = valset
    shown = _Recorder()
    res = ev.evaluate(MODEL, out / "val", crops=5, workers=0, batch_size=4, progress=shown)
    assert shown.tasks == [
        {"what": f"{MODEL} 5-crop", "total": len(made), "unit": "images", "done": len(made), "closed": True}
    ]
    assert [level for level, _ in shown.messages] == ["warning"] and "randomly initialised" in shown.messages[0][1]
    assert res.warnings == [text for _, text in shown.messages]
    assert capsys.readouterr() == ("", "")  # an engine never prints
    # The typed parts and the row agree.
    assert (res.accuracy.top1.correct, res.accuracy.images, res.data.images) == (
        res.row["correct1"],
        res.row["images"],
        res.row["dataset_images"],
    )
    assert res.config.transform.crops == 5 and res.run.batch_size == 4 and not hasattr(res, "rows")


def test_resolution_scales_crop_and_resize(valset):
    out, _ = valset
    assert ev.evaluate(MODEL, out / "val", resolution=299, workers=0).row["resize_size"] == 342
    row = ev.evaluate(MODEL, out / "val", native_resolution=True, workers=0).row
    assert (row["crop_size"], row["resize_size"]) == (224, 256)


def test_wilson_interval():
    for k, n in [(0, 10), (7, 10), (10, 10), (691, 1000), (1, 50000)]:
        lo, hi = binomtest(k, n).proportion_ci(method="wilson")
        assert ev.wilson(k, n) == pytest.approx((100 * lo, 100 * hi), abs=1e-9)


def test_without_classes_json_labels_follow_sorted_folders(tmp_path, capsys):
    for i, wnid in enumerate(reversed(WNIDS)):
        (tmp_path / wnid).mkdir()
        solid(tmp_path / wnid / "x.png", pixel(9 - i))
    code, doc, err = run_eval(capsys, MODEL, "--data", str(tmp_path))
    assert code == 0 and doc["rows"][0]["correct1"] == 10
    assert "no classes.json" in err and doc["rows"][0]["classes_source"].startswith("sorted folder names")


# --- distributed ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 7, 23, 50000])
def test_shards_cover_every_index_once(n):
    for world in (1, 2, 3, 4, 7, 8):
        parts = [list(ev.shard(n, world, r)) for r in range(world)]
        assert sum(parts, []) == list(range(n))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("world", [2, 3])
def test_processes_give_the_single_process_numbers(valset, tmp_path, capsys, world):
    out, made = valset
    common = [MODEL, "--data", str(out / "val"), "--crops", "5", "--workers", "0", "-f", "json"]
    code, one, err = run_cli(capsys, "eval", *common, "--predictions", str(tmp_path / "one.csv"))
    assert code == 0, err
    ranks = run_ranks(tmp_path, world, ["eval", *common, "--predictions", str(tmp_path / "many.csv")])
    assert [rc for rc, _, _ in ranks] == [0] * world, ranks
    assert all(o == "" and e == "" for _, o, e in ranks[1:])  # only rank 0 prints and warns
    a, b = json.loads(one)["rows"][0], json.loads(ranks[0][1])["rows"][0]
    assert b["world_size"] == world and b["backend"] == "gloo" and b["device"] == f"cpu x{world}"
    for key in ("images", "dataset_images", "correct1", "correct5", "top1", "top5", "top1_lo", "top5_hi"):
        assert a[key] == b[key], key
    assert b["images"] == len(made) == 23  # 23 over 2 or 3 ranks: uneven, nothing padded or repeated
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "many.csv").read_bytes()
    assert ranks[0][2].count("randomly initialised") == 1


def test_an_error_on_one_rank_stops_all_and_is_said_once(valset, tmp_path):
    out, made = valset
    tree = _copy_val(out, tmp_path / "t")
    (tree / "val" / WNIDS[9] / "zz_broken.png").write_bytes(b"not an image")  # the last sample: rank 1's share
    ranks = run_ranks(tmp_path, 2, ["eval", MODEL, "--data", str(tree / "val"), "--workers", "0", "-f", "json"])
    # Rank 0 reports the error and exits 2 (failing the job); rank 1 knows it too and leaves quietly.
    assert [rc for rc, _, _ in ranks] == [2, 0]
    assert (
        ranks[0][2].splitlines()[-1].startswith("zoobench: error: cannot read image") and "Traceback" not in ranks[0][2]
    )
    assert "zz_broken.png" in ranks[0][2] and ranks[1][2] == ""
    assert ranks[0][1] == ranks[1][1] == ""


# --- weights -------------------------------------------------------------------------------------------------------


def test_weights_file_forms_all_load(valset, tmp_path):
    out, _ = valset
    base = ev.evaluate(MODEL, out / "val", workers=0)
    state = {"scale": torch.tensor(2.0)}
    forms = {
        "plain.pth": state,
        "ckpt.pth": {"epoch": 90, "state_dict": state},
        "model.pth": {"model": state, "optimizer": {}},
        "ddp.pth": {"module.scale": torch.tensor(2.0)},
    }
    for name, obj in forms.items():
        torch.save(obj, tmp_path / name)
        res = ev.evaluate(MODEL, out / "val", weights=tmp_path / name, workers=0)
        # Doubled logits: same ranking, sharper probabilities, so the weights really were applied.
        assert np.array_equal(res.predictions.top, base.predictions.top)
        assert (res.predictions.prob[:, 0] > base.predictions.prob[:, 0]).all(), name
        assert res.row["random_init"] is False and res.row["weights"] == str(tmp_path / name)
        assert res.row["weights_sha256"] == ev.sha256(tmp_path / name)


def test_torchvision_weights_from_a_cached_file(tmp_path, monkeypatch):
    from zoobench.registry import create_model, get_spec

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(ev_weights, "_download", lambda *a, **k: pytest.fail("tests must never download"))
    source = create_model("resnet18")
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.save(source.state_dict(), cached)
    model = create_model("resnet18")
    info = ev.load_weights(model, get_spec("resnet18"), "torchvision")
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), source.state_dict().values(), strict=True)
    )
    assert info.label == "torchvision:IMAGENET1K_V1" and info.file == str(cached)
    assert info.sha256 == ev.sha256(cached) and info.published_top1 == pytest.approx(69.758)
    assert any("not the f37072fd its name promises" in w for w in info.warnings)  # a fake file, caught


# --- bad input: one line, exit 2 -----------------------------------------------------------------------------------


def _copy_val(out: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(out, dst)
    return dst


def test_missing_extra_and_loose_folders_are_refused(valset, tmp_path, capsys):
    out, _ = valset
    tree = _copy_val(out, tmp_path / "t")
    import shutil

    shutil.rmtree(tree / "val" / WNIDS[3])
    code, _, err = run_eval(capsys, MODEL, "--data", str(tree / "val"))
    assert_one_line_error(code, err)
    assert "lacks 1 of the 10 class folders" in err and WNIDS[3] in err

    tree = _copy_val(out, tmp_path / "u")
    (tree / "val" / "n99999999.partial").mkdir()
    code, _, err = run_eval(capsys, MODEL, "--data", str(tree / "val"))
    assert_one_line_error(code, err)
    assert "n99999999.partial" in err and "unfinished prepare-imagenet" in err

    tree = _copy_val(out, tmp_path / "v")
    solid(tree / "val" / "stray.JPEG", (0, 0, 0))
    code, _, err = run_eval(capsys, MODEL, "--data", str(tree / "val"))
    assert_one_line_error(code, err)
    assert "outside class folders" in err

    code, _, err = run_eval(capsys, MODEL, "--data", str(tmp_path / "nowhere"))
    assert_one_line_error(code, err)


def test_output_size_mismatch_is_refused(valset, capsys):
    out, _ = valset
    code, _, err = run_eval(capsys, "evalfixtures:pixel_model_7", "--data", str(out / "val"))
    assert_one_line_error(code, err)
    assert "outputs (7,) scores per image" in err and "has 10 classes" in err


def test_bad_weights_are_refused(valset, tmp_path, capsys):
    out, _ = valset
    val = str(out / "val")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    pickled = tmp_path / "pickled.pth"
    torch.save(PixelModel(), pickled)
    wrong = tmp_path / "wrong.pth"
    torch.save({"state_dict": {"scael": torch.tensor(1.0), "fc.weight": torch.zeros(2)}}, wrong)
    shaped = tmp_path / "shaped.pth"
    torch.save({"scale": torch.ones(3)}, shaped)
    cases = {
        str(tmp_path / "absent.pth"): "does not exist",
        str(garbage): "not a file written by torch.save",
        str(pickled): "holds more than tensors",
        str(wrong): "missing keys (1): scale; unexpected keys (2): scael, fc.weight",
        str(shaped): "shape mismatches (1): scale (3,) vs ()",
    }
    for path, message in cases.items():
        code, _, err = run_eval(capsys, MODEL, "--data", val, "--weights", path)
        assert_one_line_error(code, err)
        assert message in err, err


def test_torchvision_weights_errors(valset, tmp_path, capsys, monkeypatch):
    out, _ = valset
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, _, err = run_eval(capsys, MODEL, "--data", str(out / "val"), "--weights", "torchvision")
    assert_one_line_error(code, err)
    assert "has no torchvision twin" in err

    # Offline and not cached: a clear line naming the cache, and no attempt to download.
    monkeypatch.setattr(ev_weights, "_download", lambda *a, **k: pytest.fail("tests must never download"))
    monkeypatch.setenv(ev.OFFLINE_ENV, "1")
    code, _, err = run_eval(capsys, "resnet18", "--data", str(out / "val"), "--weights", "torchvision")
    assert_one_line_error(code, err)
    assert "not in torch's hub cache" in err and str(tmp_path / "hub" / "checkpoints") in err

    # Online but unreachable: the download's failure, in one line.
    def unreachable(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.delenv(ev.OFFLINE_ENV)
    monkeypatch.setattr(ev_weights, "_download", unreachable)
    code, _, err = run_eval(capsys, "resnet18", "--data", str(out / "val"), "--weights", "torchvision:IMAGENET1K_V1")
    assert_one_line_error(code, err)
    assert "download failed" in err and "name resolution" in err

    code, _, err = run_eval(capsys, "resnet18", "--data", str(out / "val"), "--weights", "torchvision:V9")
    assert_one_line_error(code, err)
    assert "IMAGENET1K_V1" in err


def test_corrupt_image_named_or_skipped_and_counted(valset, tmp_path, capsys):
    out, made = valset
    tree = _copy_val(out, tmp_path / "t")
    bad = tree / "val" / WNIDS[2] / "broken.png"
    bad.write_bytes((tree / "val" / made[0][0]).read_bytes()[:60])  # a truncated PNG
    weights = tmp_path / "w.pth"
    torch.save({"scale": torch.tensor(1.0)}, weights)  # weights given: the error is the only stderr line
    code, _, err = run_eval(capsys, MODEL, "--data", str(tree / "val"), "--weights", str(weights))
    assert_one_line_error(code, err)
    assert str(bad) in err and "--skip-bad" in err

    code, doc, err = run_eval(capsys, MODEL, "--data", str(tree / "val"), "--weights", str(weights), "--skip-bad")
    assert code == 0, err
    row = doc["rows"][0]
    c1, c5 = expected_counts(made)
    assert (row["skipped"], row["images"], row["dataset_images"]) == (1, len(made), len(made) + 1)
    assert (row["correct1"], row["correct5"]) == (c1, c5)  # the skipped image is out of both denominators
    assert doc["skipped_files"][0]["file"] == f"{WNIDS[2]}/broken.png"
    assert "skipped 1 unreadable image" in err and "broken.png" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crops", "3"], "--crops must be 1, 5 or 10"),
        (["--average", "median"], "--average must be softmax or logits"),
        (["--dtype", "fp8"], "--dtype must be"),
        (["--resize", "cover"], "--resize must be shorter or square"),
        (["--resolution", "224", "--native-resolution"], "not both"),
        (["--resolution", "300", "--resize-size", "256"], "smaller than the crop"),
        (["--mean", "0.5,0.5"], "--mean takes three"),
        (["--device", "cuda"], "CUDA is not available"),
        (["--device", "tpu"], "--device"),
    ],
)
def test_bad_options_are_refused(valset, capsys, monkeypatch, args, message):
    out, _ = valset
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_eval(capsys, MODEL, "--data", str(out / "val"), *args)
    assert_one_line_error(code, err)
    assert message in err, err


def test_library_errors_are_zoo_errors(valset):
    out, _ = valset
    with pytest.raises(ZooError, match="crops"):
        ev.evaluate(MODEL, out / "val", crops=2)
    with pytest.raises(ZooError, match="entry 0 should be"):
        bad = out.parent / "badclasses.json"
        bad.write_text(json.dumps([{"index": 1, "wnid": "n1"}]))
        ev.read_classes(bad)


def test_a_setup_error_on_one_rank_is_reported_by_rank_0(valset, tmp_path):
    out, _ = valset
    good = ["eval", MODEL, "--data", str(out / "val"), "--workers", "0", "-f", "json"]
    lacking = ["eval", MODEL, "--data", str(tmp_path / "absent"), "--workers", "0", "-f", "json"]
    ranks = run_ranks(tmp_path, 2, [good, lacking])  # rank 1's machine has no data: nobody waits forever
    assert [rc for rc, _, _ in ranks] == [2, 0]
    assert_one_line_error(2, ranks[0][2])
    assert "rank 1: data folder" in ranks[0][2] and ranks[1][2] == ""
