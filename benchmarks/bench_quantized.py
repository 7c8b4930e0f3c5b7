"""Our int8 (`--precision int8`: ONNX Runtime's static QDQ quantization, run by onnxruntime and by openvino) against
torchvision's own quantized models (torchvision.models.quantization, eager-mode PTQ with the x86/fbgemm qconfig),
at 1 thread, called alternately in one process (timing.paired.time_pairs: drift cancels within a pair).

Both sides are built with random weights (weights=None: nothing is downloaded): torchvision's quantizable model is
fused, prepared with the x86 qconfig, calibrated on random inputs and converted; ours is the zoo's model converted by
zoobench.backends.prepare (random calibration, seed 0, 32 images), its outputs checked against eager fp32 (max logit
difference, top-1/top-5 agreement on fixed-seed inputs). int8 latency does not depend on the weight values.
Each pair's latencies, the ratio ours / torchvision with its 95 % CI (between rounds), our eager fp32 alongside,
and the int8-vs-fp32 top-1 agreement on the eval fixture images (tests/evalfixtures.make_val: 23 solid-colour
images; random weights, so it checks the conversion's numerics, not the accuracy of trained weights; each with the
largest fp32 |logit| on them: near 0 the int8 top-1 is noise), for ours and for torchvision's.
Writes results/quantized.json after every model; a rerun resumes (--fresh starts over).

Usage: python benchmarks/bench_quantized.py [--models resnet18 ...] [--max-time 3] [--rounds 5] [--out PATH]
About 3-5 minutes on 2 cores at the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torchvision

from zoobench import backends, environment, registry, timing
from zoobench.errors import ZooError, first_line
from zoobench.imagenet.transforms import EvalTransform
from zoobench.output.files import atomic_write
from zoobench.timing.machine import pinned_threads
from zoobench.timing.paired import ratio_of, time_pairs

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "results" / "quantized.json"
# torchvision.models.quantization builder -> the zoo's model of the same architecture
MODELS = {"resnet18": "resnet18", "resnet50": "resnet50", "mobilenet_v2": "mobilenet_v2",
          "googlenet": "googlenet_v1_bn", "inception_v3": "inception_v3"}  # fmt: skip
OURS = ("onnxruntime", "openvino")
CALIBRATION_BATCHES = 8


def torchvision_int8(name: str, x: torch.Tensor) -> tuple[torch.nn.Module, torch.nn.Module, dict]:
    """(fp32 quantizable model, its int8 conversion, how it was built): eager-mode PTQ, random weights."""
    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices: one page per call
        warnings.simplefilter("ignore", DeprecationWarning)
        noise = ".*(reduce_range|quantize_per_|quant_min|must run observer).*"
        warnings.filterwarnings("ignore", message=noise, category=UserWarning)
        return _torchvision_int8(name, x)


def _torchvision_int8(name: str, x: torch.Tensor) -> tuple[torch.nn.Module, torch.nn.Module, dict]:
    from torchvision.models import quantization as tvq

    engines = torch.backends.quantized.supported_engines
    engine = "x86" if "x86" in engines else "fbgemm"
    torch.backends.quantized.engine = engine
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    fp32 = getattr(tvq, name)(weights=None, quantize=False, **kwargs).eval()
    model = getattr(tvq, name)(weights=None, quantize=False, **kwargs).eval()
    model.load_state_dict(fp32.state_dict())
    model.fuse_model()
    model.qconfig = torch.ao.quantization.get_default_qconfig(engine)
    torch.ao.quantization.prepare(model, inplace=True)
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for _ in range(CALIBRATION_BATCHES):
            model(torch.randn(x.shape, generator=gen))
    torch.ao.quantization.convert(model, inplace=True)
    how = {
        "builder": f"torchvision.models.quantization.{name}(weights=None, quantize=False)",
        "engine": engine,
        "qconfig": f"get_default_qconfig({engine!r})",
        "calibration": f"random: seed 0, {CALIBRATION_BATCHES} inputs of {list(x.shape)}",
        "steps": "fuse_model, prepare, calibrate, convert (eager-mode PTQ)",
    }
    return fp32, model, how


def fixture_images(resolution: int) -> list[torch.Tensor]:
    """The eval fixture's images (tests/evalfixtures.make_val), each as a (1, 3, R, R) normalised crop."""
    sys.path.insert(0, str(ROOT / "tests"))
    from evalfixtures import make_val

    transform = EvalTransform(crop_size=resolution)
    with tempfile.TemporaryDirectory() as tmp:
        made = make_val(Path(tmp))
        return [transform(Path(tmp) / "val" / rel) for rel, _, _ in made]


def agreement(reference, other, images: list[torch.Tensor]) -> dict:
    """Share of images on which `other` ranks first the class `reference` ranks first, and the largest |logit| of
    `reference` on them: random weights on solid-colour images can give logits near 0 (1e-8 for mobilenet_v2),
    where int8's top-1 is noise and the agreement says nothing about the conversion."""
    same, largest = [], 0.0
    with torch.inference_mode():
        for x in images:
            ref = reference(x)
            largest = max(largest, float(ref.abs().max()))
            same.append(int(ref.argmax(1)) == int(other(x).argmax(1)))
    return {"top1_agree": sum(same) / len(same), "images": len(same), "fp32_max_abs_logit": largest}


def _ratio(pt, j: int) -> dict:
    r = ratio_of(pt, j)
    return {"ratio": r.ratio, "ci_low": r.ci_low, "ci_high": r.ci_high, "ci_pct": r.ci_pct, "ci_method": r.ci_method,
            "pairs": r.pairs, "round_ratios": r.round_ratios}  # fmt: skip


def measure(tv_name: str, policy: timing.Policy) -> dict:
    spec = registry.get_spec(MODELS[tv_name])
    res = spec.resolution
    x = torch.randn(1, 3, res, res, generator=torch.Generator().manual_seed(0))
    row: dict = {"model": spec.name, "torchvision": tv_name, "resolution": res, "batch": 1, "threads": 1}
    images = fixture_images(res)
    tv_fp32, tv_int8, row["torchvision_build"] = torchvision_int8(tv_name, x)
    ours_fp32 = spec.build().eval()
    entries = {"torchvision int8": lambda: tv_int8(x)}
    row["torchvision_fixture"] = agreement(tv_fp32, tv_int8, images)
    row["ours"] = []
    for backend in OURS:
        try:
            backends.check(backend, "int8")
            prepared = backends.prepare(spec.name, ours_fp32, x, backends.Target(backend, "int8", threads=1))
        except ZooError as exc:
            row["ours"].append({"backend": backend, "precision": "int8", "error": first_line(exc)})
            continue
        report = prepared.report()
        report["fixture"] = agreement(ours_fp32, prepared.predict, images)
        row["ours"].append(report)
        entries[f"ours {backend} int8"] = prepared.call
    entries["ours eager fp32"] = lambda: ours_fp32(x)
    with torch.inference_mode():
        pt = time_pairs(list(entries.values()), policy=policy)
    medians = {name: 1e3 * float(torch.tensor(pt.times[j]).median()) for j, name in enumerate(entries)}
    row["torchvision_int8_ms"] = medians["torchvision int8"]
    names = list(entries)
    for report in row["ours"]:
        label = f"ours {report['backend']} int8"
        if label in entries:
            report["median_ms"] = medians[label]
            report["ratio_vs_torchvision"] = _ratio(pt, names.index(label))
    row["eager_fp32_ms"] = medians["ours eager fp32"]
    row["eager_fp32_vs_torchvision_int8"] = _ratio(pt, names.index("ours eager fp32"))
    row["pairs"] = len(pt.round_of)
    row["warmup_settled"] = dict(zip(names, pt.settled, strict=True))
    return row


def markdown(rows: list[dict]) -> str:
    out = ["| Model | torchvision int8/ms | " + " | ".join(f"ours {b} int8/ms (ours/tv, 95% CI)" for b in OURS)
           + " | eager fp32/ms | top-1 agree int8 vs fp32 (ours: random inputs / fixture; tv: fixture) |",
           "|:--|--:|" + "--:|" * len(OURS) + "--:|:--|"]  # fmt: skip
    for r in rows:
        if r.get("error"):
            out.append(f"| {r['model']} | failed: {r['error']} |" + " |" * (len(OURS) + 2))
            continue
        cells, agree = [], []
        for o in r["ours"]:
            if o.get("error") or "ratio_vs_torchvision" not in o:
                cells.append(f"failed: {o.get('error', 'not timed')}")
                continue
            q = o["ratio_vs_torchvision"]
            cells.append(f"{o['median_ms']:.2f} ({q['ratio']:.2f}, {q['ci_low']:.2f}–{q['ci_high']:.2f})")
            agree.append(f"{o['backend']} {100 * o['top1_agree']:.0f}% / {100 * o['fixture']['top1_agree']:.0f}%")
        agree.append(f"tv {100 * r['torchvision_fixture']['top1_agree']:.0f}%")
        out.append(f"| {r['model']} | {r['torchvision_int8_ms']:.2f} | " + " | ".join(cells)
                   + f" | {r['eager_fp32_ms']:.2f} | {'; '.join(agree)} |")  # fmt: skip
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--max-time", type=float, default=3.0, help="timed seconds per entry (4 entries a model)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming --out")
    args = parser.parse_args()
    policy = timing.Policy(max_time=args.max_time, rounds=args.rounds, processes=1)
    settings = {"threads": 1, "batch": 1, "max_time_s": args.max_time, "rounds": args.rounds, "weights": None,
                "ours": "zoobench.backends.prepare(backend, precision='int8'), calibration random:seed=0:n=32",
                "paired": "time_pairs: torchvision int8, ours onnxruntime int8, ours openvino int8, ours eager fp32, "
                          "called alternately; ratio = median over pairs of (ours / torchvision)"}  # fmt: skip
    done: dict[str, dict] = {}
    if args.out.exists() and not args.fresh:
        saved = json.loads(args.out.read_text())
        if saved.get("settings") != settings:
            sys.exit(f"bench_quantized: {args.out} was measured with other settings; use them, or --fresh")
        done = {r["torchvision"]: r for r in saved.get("pairs", []) if not r.get("error")}
    env = environment.collect("cpu")
    rows = [done[m] for m in args.models if m in done]
    for tv_name in [m for m in args.models if m not in done]:
        start = time.perf_counter()
        with pinned_threads(1):
            try:
                row = measure(tv_name, policy)
            except Exception as exc:  # noqa: BLE001  (one model's failure is its row; the others go on)
                row = {"model": MODELS[tv_name], "torchvision": tv_name, "error": first_line(exc)}
        row["wall_s"] = time.perf_counter() - start
        rows.append(row)
        print(f"bench_quantized: {tv_name}: {row.get('error') or 'done'} ({row['wall_s']:.0f} s)", file=sys.stderr)
        doc = {"benchmark": __doc__.splitlines()[0], "settings": settings, "versions": {"torch": torch.__version__,
               "torchvision": torchvision.__version__}, "environment": env, "pairs": rows,
               "markdown": markdown(rows)}  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.out, json.dumps(doc, indent=2, default=str) + "\n")
    print(markdown(rows), end="")


if __name__ == "__main__":
    main()
