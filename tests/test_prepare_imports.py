"""`zoobench prepare-imagenet` under a log starts at once: no torch, pandas or rich is imported (they cost seconds).

Run in a fresh interpreter, with stderr a pipe (not a terminal), as a log or CI would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from imagenet_fixtures import make_imagenet_archives

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pandas", "rich")
DRIVER = """
import json, sys
from zoobench.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules]}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    return make_imagenet_archives(tmp_path_factory.mktemp("imports") / "src", n_classes=2, n_train=2, n_val=1)


def imported(archives, out: Path, *args: str) -> dict:
    cmd = [sys.executable, "-c", DRIVER, "prepare-imagenet", str(archives.folder), str(out), "-j", "1", *args]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_prepare_imagenet_imports_nothing_heavy(archives, tmp_path, fmt):
    assert imported(archives, tmp_path / "out", "-f", fmt) == {"code": 0, "heavy": []}
    assert imported(archives, tmp_path / "out", "-f", fmt, "--verify-only") == {"code": 0, "heavy": []}


def test_prepare_imagenet_csv_imports_nothing_heavy(archives, tmp_path):
    assert imported(archives, tmp_path / "out", "-f", "csv") == {"code": 0, "heavy": []}


def test_engine_imports_nothing_heavy():
    code = (
        f"import sys, zoobench.imagenet.prepare; print([m for m in {HEAVY!r} + ('numpy', 'scipy') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr  # numpy and scipy too: only reading meta.mat needs them
