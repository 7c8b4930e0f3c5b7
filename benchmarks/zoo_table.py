"""Regenerate the committed results/zoo.md (the zoo table with a quick Time_cast), on purpose and on a quiet
machine — never as a side effect of `make run`.

Usage: `make bench-zoo_table` (or `.venv/bin/python benchmarks/zoo_table.py`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def main() -> None:
    subprocess.run([sys.executable, "-m", "zoobench", "profile", "--all", "-o", str(RESULTS / "zoo.md")], check=True)


if __name__ == "__main__":
    main()
