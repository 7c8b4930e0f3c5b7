"""ONNX Runtime (CPU execution provider): the exported file in one InferenceSession, threads set like torch's.

intra_op_num_threads and inter_op_num_threads are the session's thread count (torch pins both to it), sequential
execution; `runtime_settings` is what the session reports back, not what was asked.
"""

from __future__ import annotations

import torch

from zoobench.backends import Prepared, Target, require
from zoobench.backends.onnx_export import model_for, provenance
from zoobench.errors import ZooError, guarded

UNSUPPORTED = {"bf16": "onnxruntime's CPU kernels have no bfloat16 convolutions; use openvino for bf16"}


def _settings(ort, session) -> dict:
    options = session.get_session_options()
    settings = {
        "runtime": f"onnxruntime {ort.__version__}",
        "providers": session.get_providers(),
        "intra_op_num_threads": options.intra_op_num_threads,
        "inter_op_num_threads": options.inter_op_num_threads,
        "execution_mode": str(options.execution_mode).rsplit(".", 1)[-1],
        "graph_optimization_level": str(options.graph_optimization_level).rsplit(".", 1)[-1],
    }
    try:
        settings["intra_op_allow_spinning"] = options.get_session_config_entry("session.intra_op.allow_spinning")
    except Exception:  # not set: the runtime's default (spinning on)
        settings["intra_op_allow_spinning"] = "default (1)"
    return settings


def session_for(name: str, path: str, threads: int):
    """An InferenceSession on `path` with `threads` intra- and inter-op threads; its first error line if it fails."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its warnings are not the user's
    with guarded(f"{name}: onnxruntime"):
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session, _settings(ort, session)


def convert(name: str, model: torch.nn.Module, x: torch.Tensor, target: Target, dtype: str) -> Prepared:
    if target.precision in UNSUPPORTED:
        raise ZooError(f"{name}: onnxruntime: precision {target.precision} is not supported: "
                       f"{UNSUPPORTED[target.precision]}")  # fmt: skip
    if x.device.type != "cpu":
        raise ZooError(f"{name}: onnxruntime runs here on the cpu, not on {x.device}")
    artifact, method = model_for(name, model, x, target)
    session, settings = session_for(name, str(artifact.path), target.threads)
    input_name = session.get_inputs()[0].name
    feed = {input_name: x.detach().float().contiguous().numpy()}

    def call() -> object:
        return session.run(None, feed)

    def predict(batch: torch.Tensor) -> torch.Tensor:
        out = session.run(None, {input_name: batch.detach().float().cpu().contiguous().numpy()})
        return torch.from_numpy(out[0])

    return Prepared(
        "onnxruntime",
        target.precision,
        call,
        predict,
        runtime_settings=settings,
        **provenance(artifact, method, target),
    )
