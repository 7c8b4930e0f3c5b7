"""Which runtime makes a model fastest here, and what does it cost in agreement: eager fp32 against ONNX Runtime and
OpenVINO in fp32 and int8 (ORT static QDQ quantization, random calibration seed 0, 32 images), one thread, each
conversion checked against eager fp32 (max logit difference, top-1/top-5 agreement) by `zoobench bench` itself.

Writes results/backends_fp32.json and results/backends_int8.json (zoobench's own bench JSON: rows with rounds,
conversion and first-call times, runtime settings, equivalence; environment).
Usage: python benchmarks/bench_backends.py [--models resnet18 mobilenet_v2 resnet50] [--max-time 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["resnet18", "mobilenet_v2", "resnet50"])
    parser.add_argument("--max-time", type=float, default=4.0)
    parser.add_argument("--threads", default="1")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = {
        "fp32": ["--backend", "eager,onnxruntime,openvino", "--precision", "fp32"],
        "int8": ["--backend", "onnxruntime,openvino", "--precision", "int8"],
    }
    for name, options in runs.items():
        out = args.out_dir / f"backends_{name}.json"
        cmd = [sys.executable, "-m", "zoobench", "bench", *args.models, "-t", args.threads]
        cmd += ["--max-time", str(args.max_time), *options, "-o", str(out)]
        # exit 2 means a model/backend pair failed: its row records why, and the others are kept.
        code = subprocess.run(cmd).returncode
        if code not in (0, 2):
            sys.exit(code)


if __name__ == "__main__":
    main()
