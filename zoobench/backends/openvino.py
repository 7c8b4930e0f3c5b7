"""OpenVINO (CPU plugin): the exported ONNX file read by OpenVINO, reshaped to the bench's static input shape,
compiled with one stream of `threads` inference threads, latency hint and the asked precision (f32 spelled out:
on a CPU with AMX OpenVINO's default is bf16). `runtime_settings` is what the compiled model reports; a
precision the CPU cannot run (OpenVINO silently falls back) is refused, not recorded as if it ran.

int8 is the QDQ file of onnxruntime's quantizer (int8.py), which OpenVINO executes with int8 kernels; the runtime
model's layer precisions are counted in `runtime_settings` to show it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from zoobench.backends import Prepared, Target, require
from zoobench.backends.onnx_export import model_for, provenance
from zoobench.errors import ZooError, guarded

HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}  # int8 comes from the QDQ file itself
PROPERTIES = ("INFERENCE_NUM_THREADS", "NUM_STREAMS", "INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT",
              "ENABLE_CPU_PINNING", "ENABLE_HYPER_THREADING", "SCHEDULING_CORE_TYPE",
              "OPTIMAL_NUMBER_OF_INFER_REQUESTS")  # fmt: skip


def _read(compiled, key: str) -> object:
    try:
        value = compiled.get_property(key)
    except Exception:  # a property this version or plugin does not have
        return None
    if isinstance(value, (int, float, bool, str)):
        return value
    if hasattr(value, "get_type_name"):  # an element type: 'f32', 'bf16', 'f16'
        return value.get_type_name()
    return str(value).rsplit(".", 1)[-1]  # an enum: SchedulingCoreType.ANY_CORE -> ANY_CORE


def _layer_precisions(compiled) -> dict[str, int]:
    """How many layers of the executed graph run in each precision (u8/i8 ones prove int8 kernels ran)."""
    counts: Counter[str] = Counter()
    try:
        for op in compiled.get_runtime_model().get_ops():
            info = op.get_rt_info()
            if "runtimePrecision" in info:
                counts[str(info["runtimePrecision"].astype(str))] += 1
    except Exception:  # the runtime model is a debugging aid: its absence changes nothing measured
        return {}
    return dict(sorted(counts.items()))


def compiled_for(name: str, path: str, shape: tuple[int, ...], threads: int, precision: str):
    """The compiled model for a static `shape` and what it reports; refused when the precision is not honoured."""
    ov = require("openvino")
    asked = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
             "INFERENCE_PRECISION_HINT": HINTS[precision]}  # fmt: skip
    with guarded(f"{name}: openvino"):
        core = ov.Core()
        network = core.read_model(path)
        network.reshape({network.inputs[0].any_name: list(shape)})
        compiled = core.compile_model(network, "CPU", asked)
    settings = {"runtime": f"openvino {ov.get_version()}", "device": "CPU"}
    settings.update({key: _read(compiled, key) for key in PROPERTIES})
    with guarded(f"{name}: openvino"):
        settings["cpu"] = core.get_property("CPU", "FULL_DEVICE_NAME")
    settings["layer_precisions"] = _layer_precisions(compiled)
    got = str(settings["INFERENCE_PRECISION_HINT"])
    if got != HINTS[precision]:
        raise ZooError(f"{name}: openvino: precision {precision} is not supported on this CPU (it ran {got})")
    return compiled, settings


def convert(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target, dtype: str) -> Prepared:
    if x.device.type != "cpu":
        raise ZooError(f"{name}: openvino runs here on the cpu, not on {x.device}")
    artifact, method = model_for(name, model, x, target)
    compiled, settings = compiled_for(name, str(artifact.path), tuple(x.shape), target.threads, target.precision)
    warnings = []
    if settings["INFERENCE_NUM_THREADS"] != target.threads:  # it sizes its pool from the CPUs it saw first
        warnings.append(f"openvino runs {settings['INFERENCE_NUM_THREADS']} inference thread(s) where "
                        f"{target.threads} were asked")  # fmt: skip
    request = compiled.create_infer_request()
    bench_input = x.detach().float().contiguous().numpy()
    size = int(x.shape[0])

    def call() -> object:
        return request.infer({0: bench_input}, share_inputs=True)

    def predict(batch: torch.Tensor) -> torch.Tensor:
        """Any number of images through the static shape: chunks of the compiled batch, the last one padded."""
        data = batch.detach().float().cpu().contiguous().numpy()
        outs = []
        for start in range(0, len(data), size):
            chunk = data[start : start + size]
            padded = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            outs.append(np.array(request.infer({0: padded})[0])[: len(chunk)])
        return torch.from_numpy(np.concatenate(outs))

    return Prepared(
        "openvino",
        target.precision,
        call,
        predict,
        runtime_settings=settings,
        **provenance(artifact, method, target),
        warnings=warnings,
    )
