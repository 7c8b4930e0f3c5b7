"""Bad model references through the CLI: user modules that misbehave, bad syntax, unknown names, families, globs.

Each user module is written into the case's folder by `setup` and imported from there (the folder goes on
sys.path). Every case has its own module name, so a module cached in sys.modules by one case never answers another.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from badinput import Case, assert_bad_input, cases

PREFIX = "zb_user_"


def user_case(id: str, source: str, attr: str, pattern: str) -> Case:
    """`zoobench profile <module>:<attr> --no-time` on a module of `source`, named after the case."""
    module = PREFIX + re.sub(r"\W", "_", id)

    def setup(tmp: Path) -> None:
        (tmp / f"{module}.py").write_text("from torch import nn\n\n" + source)

    return Case(id, ["profile", f"{module}:{attr}", "--no-time"], pattern.replace("MOD", module), setup=setup)


TABLE = [
    # D2: the builder's call and its result are guarded; every failure names the model.
    user_case(
        "D2-raises",
        "def build():\n    raise ValueError('boom')\n",
        "build",
        r"^zoobench: error: cannot build 'MOD:build': ValueError: boom$",
    ),
    user_case(
        "D2-returns-42",
        "def build():\n    return 42\n",
        "build",
        r"cannot build 'MOD:build': its builder returned int, not a torch\.nn\.Module$",
    ),
    user_case(
        "D2-returns-none",
        "def build():\n    return None\n",
        "build",
        r"cannot build 'MOD:build': its builder returned None, not a torch\.nn\.Module$",
    ),
    user_case(
        "D2-needs-args",
        "def build(width):\n    return nn.Linear(width, 2)\n",
        "build",
        r"cannot build 'MOD:build': its builder cannot be called with no arguments: .*'width'",
    ),
    user_case(
        "D2-exits-in-builder",
        "import sys\n\ndef build():\n    sys.exit(4)\n",
        "build",
        r"cannot build 'MOD:build': called sys\.exit\(4\)$",
    ),
    user_case(
        "D2-recursion-in-builder",
        "def build():\n    return build()\n",
        "build",
        r"cannot build 'MOD:build': RecursionError",
    ),
    user_case(
        "D2-returns-a-class",
        "def build():\n    return nn.Linear\n",
        "build",
        r"cannot build 'MOD:build': its builder returned type, not a torch\.nn\.Module$",
    ),
    # D20: importing the module runs user code too; sys.exit() there must not end zoobench with its own code.
    user_case(
        "D20-exit-at-import",
        "import sys\n\nsys.exit(3)\n",
        "fn",
        r"^zoobench: error: cannot import 'MOD:fn': called sys\.exit\(3\)$",
    ),
    user_case(
        "D20-bare-exit-at-import",
        "raise SystemExit\n",
        "fn",
        r"^zoobench: error: cannot import 'MOD:fn': called sys\.exit\(None\)$",
    ),
    user_case(
        "import-error",
        "import zb_no_such_dependency\n",
        "fn",
        r"cannot import 'MOD:fn': ModuleNotFoundError: No module named 'zb_no_such_dependency'$",
    ),
    user_case("syntax-error", "def (:\n", "fn", r"cannot import 'MOD:fn': SyntaxError: "),
    user_case("not-callable", "fn = 42\n", "fn", r"'MOD:fn' is not callable$"),
    user_case("missing-attribute", "def other():\n    pass\n", "fn", r"cannot import 'MOD:fn': AttributeError: .*'fn'"),
    Case("missing-module", ["profile", "zb_no_such_module:fn", "--no-time"], r"cannot import 'zb_no_such_module:fn'"),
    Case("bad-reference-no-callable", ["profile", "mymod:", "--no-time"], r"bad model reference 'mymod:'"),
    Case("bad-reference-no-module", ["profile", ":fn", "--no-time"], r"bad model reference ':fn'"),
    Case("unknown-model", ["profile", "resnet51", "--no-time"], r"unknown model 'resnet51'; did you mean resnet50"),
    Case("unknown-family", ["profile", "--family", "transformers", "--no-time"], r"unknown family 'transformers'"),
    Case("empty-glob", ["profile", "nosuchnet*", "--no-time"], r"pattern 'nosuchnet\*' matches no model"),
    Case("torchvision-unknown", ["profile", "torchvision:nope", "--no-time"], r"torchvision has no model 'nope'"),
]


@pytest.fixture
def user_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The case's folder on sys.path, no bytecode written into it, and its modules forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith(PREFIX)]:
        del sys.modules[name]


@cases(TABLE)
def test_bad_model_reference(case: Case, user_modules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(case, user_modules, capsys)


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 12
    assert len({c.id for c in TABLE}) == len(TABLE)
