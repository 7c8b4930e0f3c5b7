"""The harness of the bad-input suite: a table of cases, each run through the CLI in-process.

Every case asserts the exit code, exactly one stderr line matching its pattern, no traceback, and that nothing in
its folder changed except the paths it names as outputs (a snapshot of the tree, by content, before and after).
Tables live in tests/test_bad_input_<command>.py; each builds its files in `setup(tmp)`.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from clihelp import run_cli


@dataclass(frozen=True)
class Case:
    id: str
    args: Sequence[str]  # "{tmp}" is replaced by the case's folder
    pattern: str  # regex searched in the one stderr line
    code: int = 2
    setup: Callable[[Path], None] | None = None
    may_change: Sequence[str] = field(default_factory=tuple)  # paths under {tmp} the command may write

    def argv(self, tmp: Path) -> list[str]:
        return [a.replace("{tmp}", str(tmp)) for a in self.args]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root (links not followed): its kind, and its content hash, link target or mode."""
    seen: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                seen[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                seen[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(st.st_mode))
            else:
                seen[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))
    return seen


def assert_bad_input(case: Case, tmp: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Run one case; return (stdout, stderr) for any extra assertion the table's test wants to make."""
    if case.setup is not None:
        case.setup(tmp)
    before = snapshot(tmp)
    code, out, err = run_cli(capsys, *case.argv(tmp))
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, f"exit {code}, stderr: {err}"
    assert len(lines) == 1, f"expected one stderr line, got: {err!r}"
    assert re.search(case.pattern, lines[0]), f"{lines[0]!r} does not match {case.pattern!r}"
    after = snapshot(tmp)
    allowed = {str(Path(p)) for p in case.may_change}
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    changed = {k for k in changed if not any(k == a or k.startswith(a + os.sep) for a in allowed)}
    assert not changed, f"touched outside the output: {sorted(changed)}"
    return out, err


def cases(table: Sequence[Case]) -> pytest.MarkDecorator:
    """`@cases(TABLE)` parametrizes a test over a table with each case's id."""
    return pytest.mark.parametrize("case", table, ids=[c.id for c in table])
