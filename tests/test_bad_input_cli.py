"""Bad input to list, profile and check, and the interrupt and output-path promises every command shares."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from badinput import Case, assert_bad_input, cases


def _fifo(tmp: Path) -> None:
    os.mkfifo(tmp / "fifo.md")


def _symlink(tmp: Path) -> None:
    (tmp / "victim.md").write_text("keep me\n")
    (tmp / "link.md").symlink_to(tmp / "victim.md")


def _device(tmp: Path) -> None:
    os.mknod(tmp / "null.md", 0o666 | 0o020000, os.makedev(1, 3))  # a character device like /dev/null


def _baseline(text: str):
    def setup(tmp: Path) -> None:
        (tmp / "b.csv").write_text(text)

    return setup


def _folder(tmp: Path) -> None:
    (tmp / "out.md").mkdir()


TABLE = [
    Case("unknown-model", ["profile", "resnet1000", "--no-time"], r"unknown model 'resnet1000'.*did you mean"),
    Case("unknown-family", ["list", "--family", "nope"], r"family"),
    Case("empty-glob", ["profile", "zzz*", "--no-time"], r"no model matches|matches no model"),
    Case("no-models", ["profile", "--no-time"], r"model"),
    Case("bad-format", ["list", "-f", "xml"], r"unknown format 'xml'"),
    Case("table-to-file", ["list", "-f", "table", "-o", "{tmp}/x.md"], r"rich table is for terminals"),
    Case("bad-extension", ["list", "-o", "{tmp}/x.txt"], r"cannot tell the format"),
    Case("missing-folder", ["list", "-o", "{tmp}/nodir/x.md"], r"folder does not exist"),
    Case("output-is-folder", ["list", "-o", "{tmp}/out.md"], r"it is a directory", setup=_folder),
    Case("D14-fifo", ["list", "-f", "md", "-o", "{tmp}/fifo.md"], r"it is a FIFO", setup=_fifo),
    Case("D14-symlink", ["list", "-f", "md", "-o", "{tmp}/link.md"], r"it is a symlink", setup=_symlink),
    Case(
        "D14-symlink-profile", ["profile", "resnet18", "--no-time", "-o", "{tmp}/link.md"], r"symlink", setup=_symlink
    ),
    Case("D15-profile-timed-bad-folder", ["profile", "resnet18", "-o", "{tmp}/nodir/p.md"], r"folder does not exist"),
    Case("D15-profile-timed-bad-ext", ["profile", "resnet18", "-o", "{tmp}/p.txt"], r"cannot tell the format"),
    Case("D7-negative-depth", ["profile", "resnet18", "--layers", "--depth", "-1"], r"--depth must be >= 0"),
    Case("layers-bad-folder", ["profile", "resnet18", "--layers", "-o", "{tmp}/nodir/l.csv"], r"folder does not exist"),
    Case("bad-compare", ["profile", "resnet18", "--no-time", "--compare", "timm"], r"--compare takes 'seed'"),
    Case("zero-resolution", ["profile", "resnet18", "--no-time", "-r", "0"], r"resolution must be a positive"),
    Case("tiny-resolution", ["profile", "vgg11", "--no-time", "-r", "16"], r"vgg11 cannot run at 16x16"),
    Case("bad-option", ["profile", "--frobnicate"], r"No such option"),
    Case("bad-int", ["profile", "resnet18", "-r", "abc"], r"Invalid value"),
    Case("unknown-command", ["frobnicate"], r"No such command"),
    Case(
        "D8-non-numeric-baseline",
        ["check", "--baseline", "{tmp}/b.csv"],
        r"params of 'resnet18' is not a whole number",
        setup=_baseline("model,params,macs\nresnet18,abc,xyz\n"),
    ),
    Case(
        "baseline-duplicate-row",
        ["check", "--baseline", "{tmp}/b.csv"],
        r"lists 'resnet18' twice",
        setup=_baseline("model,params,macs\nresnet18,1,2\nresnet18,1,2\n"),
    ),
    Case(
        "baseline-missing-column",
        ["check", "--baseline", "{tmp}/b.csv"],
        r"lacks column\(s\) macs",
        setup=_baseline("model,params\nresnet18,1\n"),
    ),
    Case("baseline-missing", ["check", "--baseline", "{tmp}/none.csv"], r"no baseline at"),
    Case(
        "baseline-binary",
        ["check", "--baseline", "{tmp}/b.csv"],
        r"cannot read baseline|lacks column",
        setup=_baseline("\x00\x01\x02garbage"),
    ),
    Case("check-output-bad-ext", ["check", "-o", "{tmp}/c.txt"], r"cannot tell the format"),
    Case("update-into-missing-folder", ["check", "--update", "--baseline", "{tmp}/no/b.csv"], r"folder does not exist"),
]


@cases(TABLE)
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(case, tmp_path, capsys)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_d14_device_node_is_not_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = Case("D14-device", ["list", "-f", "md", "-o", "{tmp}/null.md"], r"device or special file", setup=_device)
    assert_bad_input(case, tmp_path, capsys)
    assert not (tmp_path / "null.md").is_file()


def _interrupt(args: list[str], cwd: Path, ready: str | None) -> subprocess.CompletedProcess:
    """Start the CLI, wait until its stderr shows `ready` (None: 3 s, mid-work for a command that prints nothing
    before the end), send SIGINT (what Ctrl-C sends), collect the result."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoobench", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    seen = b""
    deadline = time.monotonic() + 120
    if ready is None:
        time.sleep(3)
    while ready is not None and ready.encode() not in seen and time.monotonic() < deadline:
        chunk = proc.stderr.read1(4096)  # type: ignore[union-attr]
        if not chunk:
            break
        seen += chunk
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), (seen + rest).decode())


@pytest.mark.parametrize(
    "args, ready",
    [
        (["profile", "--all", "-o", "zoo.md"], "[2/"),
        (["check", "-o", "diff.md"], None),
    ],
    ids=["D1-profile", "D1-check"],
)
def test_d1_ctrl_c_is_one_line_and_writes_nothing(tmp_path: Path, args: list[str], ready: str | None) -> None:
    res = _interrupt(args, tmp_path, ready)
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stderr
    last = [line for line in res.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("zoobench: error: interrupted"), res.stderr
    assert list(tmp_path.iterdir()) == []
