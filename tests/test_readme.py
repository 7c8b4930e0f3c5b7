"""Every README command block whose output does not depend on timing runs as shown.

A block is a fenced block holding `$ command` lines; the lines up to the next `$` are what the command prints
(stdout, then stderr). Blocks right after `<!-- output depends on timing -->` are skipped: their numbers change
from run to run. Commands run in a folder holding `make demo`'s data and a copy of results/, with `zoobench` on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TIMING = "<!-- output depends on timing -->"


def _blocks() -> list[tuple[int, list[tuple[str, str]]]]:
    """(line number, [(command, expected output)]) for every testable block."""
    found = []
    for m in re.finditer(r"(?P<before>[^\n]*)\n```\n(?P<body>.*?)```", README, flags=re.S):
        body = m.group("body")
        if not body.startswith("$ ") or m.group("before").strip() == TIMING:
            continue
        steps: list[tuple[str, str]] = []
        for chunk in re.split(r"^\$ ", body, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            steps.append((command, output))
        found.append((README[: m.start()].count("\n") + 2, steps))
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    subprocess.run([sys.executable, str(ROOT / "tests" / "make_demo.py"), str(folder)], check=True, env=env)
    shutil.copytree(ROOT / "results", folder / "results")
    return folder


def _run(command: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT / "tests"),
        "COLUMNS": "120",
    }
    res = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return res.stdout + res.stderr


def _comparable(text: str) -> str:
    """Trailing spaces and a mention of the test's own folder are not part of what README promises."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


BLOCKS = _blocks()


def test_readme_has_tested_blocks() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("steps", [s for _, s in BLOCKS], ids=[f"README-line-{n}" for n, _ in BLOCKS])
def test_readme_block_runs_as_shown(steps: list[tuple[str, str]], demo: Path) -> None:
    for command, expected in steps:
        got = _run(command, demo).replace(str(demo) + os.sep, "").replace(str(ROOT) + os.sep, "")
        assert _comparable(got) == _comparable(expected), f"$ {command}"
