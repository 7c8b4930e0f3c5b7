"""Build the small data the README's eval and prepare walkthroughs use: `make demo` (or
`PYTHONPATH=tests .venv/bin/python tests/make_demo.py DIR`).

DIR/archives/   the three official ILSVRC2012 archives in miniature (4 classes; the test suite's fixture)
DIR/val/, DIR/classes.json, DIR/pixel.pth   23 images whose pixels tell `evalfixtures:pixel_model` what to answer
                (so the right top-1 and top-5 are known: 11 and 17 of 23), and that model's weights
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from evalfixtures import make_val, pixel_model
from imagenet_fixtures import make_imagenet_archives


def main(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        sys.exit(f"make_demo: {folder} is not empty; choose a new folder")
    make_imagenet_archives(folder / "archives")
    make_val(folder)
    torch.save(pixel_model().state_dict(), folder / "pixel.pth")
    print(f"demo data in {folder}: archives/, val/, classes.json, pixel.pth", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo"))
