"""Many models, one pass (evaluate_many, `zoobench eval A B 'glob*'`): each image decoded once per transform and fed
to every model that shares it, one row per model, a failing model recorded while the others go on; and the loader
workers / torch threads rule for small machines (loop.loader_plan)."""

from __future__ import annotations

import json

import pytest
import torch
from evalfixtures import expected_counts, make_val, run_ranks

from zoobench.cli import main
from zoobench.errors import ZooError
from zoobench.imagenet.evaluate import Failed, evaluate, evaluate_many, loop, run
from zoobench.imagenet.evaluate.config import EvalConfig
from zoobench.imagenet.transforms import EvalTransform


@pytest.fixture(scope="module")
def valset(tmp_path_factory):
    out = tmp_path_factory.mktemp("many")
    made = make_val(out)
    torch.save({"scale": torch.tensor(1.0)}, out / "w.pth")
    return out, made


def test_one_decode_per_image_for_every_model(valset, monkeypatch):
    out, made = valset
    calls = []
    load = EvalTransform.load
    monkeypatch.setattr(EvalTransform, "load", lambda self, path: calls.append(path) or load(self, path))
    names = ["evalfixtures:pixel_model", "evalfixtures:fails_at_forward", "evalfixtures:pixel_model"]
    results = evaluate_many(names, out / "val", workers=0, weights=None)
    assert len(calls) == len(made)  # three models, one decode per image
    top1, top5 = expected_counts(made)
    ok = [r for r in results if not isinstance(r, Failed)]
    assert [r.model for r in results] == names
    assert len(ok) == 2 and all((r.accuracy.top1.correct, r.accuracy.top5.correct) == (top1, top5) for r in ok)
    assert all(r.row["models_in_pass"] == 3 for r in ok)  # the failing one was in the pass until it failed
    (bad,) = [r for r in results if isinstance(r, Failed)]
    assert "fails_at_forward: forward" in bad.error and "breaks on real images" in bad.error


def test_the_same_numbers_as_separate_evals(valset):
    out, _ = valset
    alone = evaluate("evalfixtures:pixel_model", out / "val", workers=0, crops=5)
    together = evaluate_many(["evalfixtures:pixel_model", "evalfixtures:pixel_model"], out / "val", workers=0, crops=5)
    for r in together:
        assert (r.predictions.top == alone.predictions.top).all()
        assert (r.predictions.prob == alone.predictions.prob).all()


def test_models_are_grouped_by_transform():
    def model(name: str, **options) -> run._Model:
        return run._Model(name, None, name, EvalConfig(**options).validate())

    a, b, c, d = model("a"), model("b", resolution=256), model("c"), model("d", resolution=256, resize_size=293)
    assert [[m.name for m in g] for g in run._passes([a, b, c, d])] == [["a", "c"], ["b", "d"]]
    e = model("e", resolution=256, resize_size=300)
    assert len(run._passes([b, e])) == 2  # another resize: another pass


def test_a_model_that_cannot_be_built_is_recorded(valset, capsys):
    out, made = valset
    code = _cli(
        ["eval", "evalfixtures:fails_to_build", "evalfixtures:pixel_model", "--data", str(out / "val")]
        + ["--workers", "0", "--weights", str(out / "w.pth"), "-f", "json"]
    )
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert code == 2
    assert lines[0].startswith("zoobench: error: ") and "fails_to_build" in lines[0] and "always fails" in lines[0]
    assert lines[-1] == "zoobench: error: 1 of 2 model(s) failed: evalfixtures:fails_to_build"
    assert len(lines) == 2 and "Traceback" not in cap.err
    rows = json.loads(cap.out)["rows"]
    assert rows[0] == {"model": "evalfixtures:fails_to_build", "error": lines[0].split("error: ", 1)[1]}
    assert rows[1]["correct1"] == expected_counts(made)[0]


def test_globs_select_several_models(valset, monkeypatch, capsys):
    out, _ = valset
    seen = []

    def stub(specs, data, **kwargs):
        seen.extend(s.name for s in specs)
        raise ZooError("stop here")

    monkeypatch.setattr("zoobench.imagenet.evaluate.evaluate_many", stub)
    assert _cli(["eval", "resnet1*", "vgg11", "--data", str(out / "val")]) == 2
    assert seen == ["resnet18", "resnet101", "resnet152", "vgg11"]


def test_predictions_need_one_model(valset, tmp_path, capsys):
    out, _ = valset
    code = _cli(
        ["eval", "evalfixtures:pixel_model", "evalfixtures:pixel_model_12", "--data", str(out / "val")]
        + ["--predictions", str(tmp_path / "p.csv")]
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "zoobench: error: --predictions must be left out with 2 models: its file holds one model's answers"
    )
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("world", [2, 3])
def test_one_pass_under_torchrun_gives_the_single_process_numbers(valset, tmp_path, capsys, world):
    out, _ = valset
    argv = ["eval", "evalfixtures:pixel_model", "evalfixtures:fails_at_forward", "evalfixtures:pixel_model"]
    argv += ["--data", str(out / "val"), "--workers", "0", "--weights", str(out / "w.pth"), "-f", "json"]
    assert _cli(argv) == 2
    single = json.loads(capsys.readouterr().out)["rows"]
    ranks = run_ranks(tmp_path, world, argv)
    assert [rc for rc, _, _ in ranks] == [2] + [0] * (world - 1)  # rank 0 reports; the others leave quietly
    rows = json.loads(ranks[0][1])["rows"]
    keys = ("model", "error", "correct1", "correct5", "images")
    assert [{k: r.get(k) for k in keys} for r in rows] == [{k: r.get(k) for k in keys} for r in single]
    assert all(out == "" for _, out, _ in ranks[1:])  # rank 0 alone prints
    assert ranks[0][2].strip().splitlines()[-1] == (
        "zoobench: error: 1 of 2 model(s) failed: evalfixtures:fails_at_forward"  # a model named twice runs once
    )


def _cli(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


# --- loader workers and torch threads --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cores", "ranks", "device", "threads", "expected"),
    [
        (1, 1, "cpu", 1, (0, 1)),
        (2, 1, "cpu", 2, (0, 2)),  # the 2-core machine: serial, every core to the model
        (2, 1, "cpu", 1, (0, 1)),  # a caller's 1 thread stands
        (4, 2, "cpu", 4, (0, 2)),  # two ranks on 4 cores: 2 each
        (4, 1, "cpu", 4, (1, 3)),
        (16, 1, "cpu", 16, (4, 12)),
        (64, 1, "cpu", 64, (8, 56)),
        (16, 1, "cuda", 16, (8, 16)),
    ],
)
def test_loader_plan(monkeypatch, cores, ranks, device, threads, expected):
    monkeypatch.setattr(loop, "usable_cores", lambda: cores)
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    plan = loop.loader_plan(None, ranks, device)
    assert (plan.workers, plan.threads) == expected
    assert plan.workers + (plan.threads if device == "cpu" else 0) <= max(cores // ranks, 1) or plan.workers == 0


def test_workers_given_are_kept(monkeypatch):
    monkeypatch.setattr(loop, "usable_cores", lambda: 2)
    plan = loop.loader_plan(2, 1, "cpu")
    assert (plan.workers, plan.threads) == (2, torch.get_num_threads())


def test_torch_threads_are_put_back():
    before = torch.get_num_threads()
    with loop.torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before


def test_the_result_says_how_the_cores_were_shared(valset):
    out, _ = valset
    row = evaluate("evalfixtures:pixel_model", out / "val").row
    assert row["workers"] == 0 or loop.usable_cores() > 2
    assert row["torch_threads"] == torch.get_num_threads() == 1  # conftest's one thread is never raised
    assert "cores" in row["loader_plan"]
