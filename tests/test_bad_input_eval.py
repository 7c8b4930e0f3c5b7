"""Bad input to `zoobench eval`: every case one stderr line, exit 2, no traceback, nothing written.

Each case builds its own tiny val set (tests/evalfixtures.py: 23 solid PNGs, 10 classes) in its folder. User
modules are written into `mods/` there (on sys.path, no bytecode), each named after its case so that sys.modules
never hands one case another's module. Cases that run the model past setup pass `--weights`: a random-init model
would add its warning line.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from badinput import Case, assert_bad_input, cases, snapshot
from evalfixtures import PixelModel, make_val, run_ranks

PREFIX = "zb_evalcase_"
MODEL = "evalfixtures:pixel_model"


def _val(tmp: Path) -> None:
    make_val(tmp)
    torch.save({"scale": torch.tensor(1.0)}, tmp / "w.pth")


def _then(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        for step in steps:
            step(tmp)

    return setup


def case(id: str, extra: list[str], pattern: str, *more: Callable[[Path], None], model: str = MODEL) -> Case:
    """`zoobench eval MODEL --data {tmp}/val --workers 0 EXTRA` on a fresh val set."""
    args = ["eval", model, "--data", "{tmp}/val", "--workers", "0", *extra]
    return Case(id, args, pattern, setup=_then(_val, *more))


def user_case(id: str, source: str, pattern: str, extra: tuple[str, ...] = ()) -> Case:
    """eval of `<module>:build` from a module of `source` (torch and nn imported), named after the case."""
    module = PREFIX + re.sub(r"\W", "_", id)

    def write(tmp: Path) -> None:
        (tmp / "mods" / f"{module}.py").write_text("import torch\nfrom torch import nn\n\n" + source)
        importlib.invalidate_caches()

    return case(id, list(extra), pattern.replace("MOD", module), write, model=f"{module}:build")


def _write(name: str, content: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (tmp / name).write_bytes(data)

    return setup


def _pickled_model(tmp: Path) -> None:
    torch.save(PixelModel(), tmp / "pickled.pth")


def _break_image(tmp: Path) -> None:
    victim = next((tmp / "val").rglob("*.png"))
    victim.write_bytes(victim.read_bytes()[:60])  # a truncated PNG


# A model whose forward succeeds on the probe (call 1) and then fails in the batch loop.
LOOP_FAILS = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 1:
            FAIL
        return self.scale * x.mean((2, 3)).repeat(1, 4)[:, :10]


def build():
    return Net()
"""


def loop_case(id: str, fail: str, pattern: str) -> Case:
    weights = ("--weights", "{tmp}/w.pth")  # Net's state_dict is PixelModel's: one 'scale'
    return user_case(id, LOOP_FAILS.replace("FAIL", fail), pattern, weights)


TABLE = [
    # D2: eval's own build and forward go through zoobench.errors.guarded; each failure names the model.
    user_case("D2-builder-returns-42", "def build():\n    return 42\n", r"MOD:build.*returned int, not a torch\.nn"),
    user_case("D2-builder-returns-none", "def build():\n    return None\n", r"MOD:build.*returned None, not"),
    user_case(
        "D2-probe-forward-exits",
        "class Net(nn.Module):\n    def forward(self, x):\n        raise SystemExit(5)\n\n\n"
        "def build():\n    return Net()\n",
        r"^zoobench: error: MOD:build: forward on a 1x3x224x224 input: called sys\.exit\(5\)$",
    ),
    loop_case(
        "D2-loop-forward-raises", "raise RuntimeError('boom in batch 1')", r"MOD:build: forward: RuntimeError: boom"
    ),
    loop_case("D2-loop-forward-exits", "raise SystemExit(7)", r"MOD:build: forward: called sys\.exit\(7\)$"),
    # D5: nonsense geometry or normalisation is refused instead of running at 224 or scoring chance.
    case("D5-resolution-zero", ["--resolution", "0"], r"--resolution must be a positive number of pixels, not 0$"),
    case("D5-resolution-negative", ["-r", "-3"], r"--resolution must be a positive number of pixels, not -3$"),
    case("D5-resize-size-zero", ["--resize-size", "0"], r"--resize-size must be a positive number of pixels, not 0"),
    case("D5-std-zero", ["--std", "0,0,0"], r"--std must be three finite numbers > 0, not \(0\.0, 0\.0, 0\.0\)$"),
    case("D5-std-nan", ["--std", "nan,nan,nan"], r"--std must be three finite numbers"),
    case("D5-std-negative", ["--std", "0.2,-0.2,0.2"], r"--std must be three finite numbers > 0"),
    case("D5-mean-inf", ["--mean", "inf,0.4,0.4"], r"--mean must be three finite numbers"),
    # D6
    case("D6-workers-negative", ["--workers", "-1"], r"--workers must be 0 \(read images in this process\) or more"),
    # D15: outputs are checked before the work, so a bad -o never follows a written --predictions.
    case(
        "D15-output-folder-missing-after-predictions",
        ["--crops", "10", "--predictions", "{tmp}/p.csv", "-o", "{tmp}/nodir/e.md"],
        r"cannot write '.*/nodir/e\.md': its folder does not exist$",
    ),
    case(
        "D15-output-extension-unknown",
        ["--predictions", "{tmp}/p.csv", "-o", "{tmp}/e.txt"],
        r"cannot tell the format of '.*/e\.txt'",
    ),
    case(  # the bad image would stop the run: reporting the path proves it was checked first
        "D15-predictions-folder-missing",
        ["--predictions", "{tmp}/nodir/p.csv"],
        r"cannot write '.*/nodir/p\.csv': its folder does not exist$",
        _break_image,
    ),
    case("D15-predictions-is-a-folder", ["--predictions", "{tmp}/val"], r"it is a directory"),
    # Weights files that are not what they seem.
    case(
        "weights-random-bytes",
        ["--weights", "{tmp}/junk.pth"],
        r"cannot read weights file '.*junk\.pth': not a PyTorch checkpoint",
        _write("junk.pth", bytes(range(256)) * 8),
    ),
    case("weights-directory", ["--weights", "{tmp}/val"], r"weights file '.*/val' is a directory; pass the checkpoint"),
    case("weights-missing", ["--weights", "{tmp}/absent.pth"], r"does not exist \(or pass --weights torchvision\)$"),
    case("weights-unsafe-pickle", ["--weights", "{tmp}/pickled.pth"], r"holds more than tensors", _pickled_model),
    # Kinds that already held: one line each.
    user_case("builder-needs-arguments", "def build(width):\n    return nn.Linear(width, 10)\n", r"MOD:build.*width"),
    loop_case("loop-forward-returns-dict", "return {'logits': x}", r"returned dict, not a tensor of logits"),
    Case("missing-data", ["eval", MODEL], r"Missing option '--data'"),
    case("data-folder-missing", ["--data", "{tmp}/nowhere"], r"data folder '.*/nowhere' does not exist"),
    case("bad-crops", ["--crops", "3"], r"--crops must be 1, 5 or 10, not 3$"),
    case("bad-resize", ["--resize", "cover"], r"--resize must be shorter or square, not 'cover'$"),
    case("bad-average", ["--average", "median"], r"--average must be softmax or logits, not 'median'$"),
    case("bad-dtype", ["--dtype", "fp8"], r"--dtype must be fp32, bf16 or fp16, not 'fp8'$"),
    case("bad-decoder", ["--decoder", "magick"], r"--decoder must be pil or torchvision, not 'magick'$"),
    case("bad-device", ["--device", "tpu"], r"--device must be cpu or cuda\[:N\], not 'tpu'$"),
    case("bad-batch-size", ["--batch-size", "0"], r"--batch-size must be at least 1, not 0$"),
    case(
        "resolution-and-native",
        ["-r", "224", "--native-resolution"],
        r"give --resolution N or --native-resolution, not both$",
    ),
    case("resize-smaller-than-crop", ["-r", "300", "--resize-size", "256"], r"--resize-size 256 is smaller than"),
    case("mean-two-values", ["--mean", "0.5,0.5"], r"--mean takes three comma-separated numbers"),
    case(
        "bad-classes-json",
        ["--classes", "{tmp}/bad.json"],
        r"'.*/bad\.json' is not valid JSON",
        _write("bad.json", "[{"),
    ),
    case(
        "classes-json-wrong-entry",
        ["--classes", "{tmp}/bad.json"],
        r"entry 0 should be",
        _write("bad.json", '[{"index": 1, "wnid": "n1"}]'),
    ),
    case(
        "head-size-mismatch",
        [],
        r"outputs \(7,\) scores per image but .* has 10 classes",
        model="evalfixtures:pixel_model_7",
    ),
    case("unknown-model", [], r"unknown model 'resnet51'", model="resnet51"),
    # Label sets (issue 12, item 3) and many models (item 4).
    case(
        "labels-unknown", ["--labels", "v3"], r"--labels must be imagenet, real, v2, a or r \(or real:PATH\), not 'v3'$"
    ),
    case(
        "real-labels-on-other-file-names",
        ["--labels", "real:{tmp}/real.json"],
        r"ImageNet's own val images by name .*'n\d+/img_000\.png' is not one of them$",
        _write("real.json", "[[1], [2]]"),
    ),
    case(
        "real-labels-bad-json", ["--labels", "real:{tmp}/real.json"], r"are not valid JSON", _write("real.json", "[[")
    ),
    case(
        "real-labels-not-lists",
        ["--labels", "real:{tmp}/real.json"],
        r"should be a JSON list of lists of class indices$",
        _write("real.json", '[[1], "2"]'),
    ),
    case("real-labels-missing", ["--labels", "real:{tmp}/none.json"], r"cannot read the ReaL labels '.*none\.json'"),
    case("v2-on-wnid-folders", ["--labels", "v2"], r"ImageNetV2's class folders are named by class index"),
    case("a-on-other-classes", ["--labels", "a"], r"class folders that are not ImageNet-A classes: n\d+"),
    case(
        "predictions-with-two-models",
        ["evalfixtures:pixel_model_7", "--predictions", "{tmp}/p.csv"],
        r"--predictions must be left out with 2 models: its file holds one model's answers$",
    ),
    case(
        "corrupt-image",
        ["--weights", "{tmp}/w.pth"],
        r"cannot read image '.*\.png': .*\(--skip-bad skips unreadable images and counts them\)$",
        _break_image,
    ),
]


@pytest.fixture
def user_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`mods/` in the case's folder on sys.path, no bytecode written into it, its modules forgotten afterwards."""
    (tmp_path / "mods").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith(PREFIX)]:
        del sys.modules[name]


@cases(TABLE)
def test_bad_eval_input(case: Case, user_modules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = assert_bad_input(case, user_modules, capsys)
    assert out == ""


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 15
    assert len({c.id for c in TABLE}) == len(TABLE)


# --- a hand-started group that loses a rank -------------------------------------------------------------------

RANK_TABLE = [
    # D18: RANK/WORLD_SIZE/MASTER_ADDR set by hand, no torchrun watchdog; rank 1 is SIGKILLed at its first batch.
    # The survivor evaluates its shard, then its gather fails: one line naming rank 1, exit 2, nothing written.
    Case(
        "D18-rank-killed-mid-run",
        ["eval", "evalfixtures:dies_on_rank_1", "--data", "{tmp}/val", "--workers", "0", "--weights", "{tmp}/w.pth"]
        + ["--predictions", "{tmp}/p.csv", "-o", "{tmp}/e.json"],
        r"^zoobench: error: lost rank 1 of 2 \(killed, crashed or hung\?\) while gathering the results: "
        r"[^;]*(Connection|peer)[^;]*; rank 0 stops, nothing was written$",
    ),
]


@cases(RANK_TABLE)
def test_lost_rank(case: Case, tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    data.mkdir()
    logs.mkdir()
    _val(data)
    before = snapshot(data)
    (rc0, out0, err0), (rc1, _, _) = run_ranks(logs, 2, case.argv(data))
    assert rc1 == -9  # really killed, not a clean exit
    assert "Traceback" not in err0, err0
    lines = [line for line in err0.splitlines() if line.strip()]
    assert rc0 == case.code and len(lines) == 1, err0
    assert re.search(case.pattern, lines[0]), lines[0]
    assert out0 == "" and snapshot(data) == before
