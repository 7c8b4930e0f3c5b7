"""zoobench: trustworthy params, MACs, latency and accuracy for a zoo of ImageNet CNNs.

The public API is loaded on first use, so that commands which need no torch start at once.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "bench": "zoobench.api",
    "create_model": "zoobench.registry",
    "evaluate": "zoobench.imagenet.evaluate",
    "get_spec": "zoobench.registry",
    "list_models": "zoobench.registry",
    "profile": "zoobench.api",
    "select": "zoobench.registry",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> object:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zoobench' has no attribute {name!r}")
