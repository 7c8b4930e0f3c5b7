"""docs/architecture.md stays the map: every module it names exists, every module of the package is on it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "zoobench"
MAP = (ROOT / "docs" / "architecture.md").read_text()
MAX_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _named(path: Path) -> bool:
    """Named on the page: by its path, by its folder (`zoobench/timing/` rows list their modules), or as models/*."""
    rel = path.relative_to(ROOT).as_posix()
    if f"`{rel}`" in MAP or (path.parent.name == "models" and "`zoobench/models/*.py`" in MAP):
        return True
    folder = path.parent.relative_to(ROOT).as_posix() + "/"
    if path.stem == "__init__" and f"`{folder}" in MAP:
        return True  # a package's __init__ is named with its package
    row = next((line for line in MAP.splitlines() if line.startswith(f"| `{folder}`")), None)
    return row is not None and (path.stem == "__init__" or re.search(rf"\b{path.stem}\b", row) is not None)


def test_every_module_is_on_the_map() -> None:
    missing = [p.relative_to(ROOT).as_posix() for p in _modules() if not _named(p) and p.name != "__main__.py"]
    missing = [m for m in missing if not m.startswith("zoobench/data/")]
    assert not missing, f"add to docs/architecture.md: {missing}"


def test_every_file_on_the_map_exists() -> None:
    for rel in re.findall(r"`(zoobench/[\w/]+(?:\.py|/))`", MAP):
        assert (ROOT / rel).exists(), f"docs/architecture.md names {rel}, which does not exist"


def test_no_module_is_overgrown() -> None:
    big = {p.relative_to(ROOT).as_posix(): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"
