"""zoobench: trustworthy params, MACs, latency and accuracy for a zoo of ImageNet CNNs."""

__version__ = "0.1.0"

from zoobench.complexity import profile  # noqa: E402
from zoobench.registry import create_model, get_spec, list_models, select  # noqa: E402

__all__ = ["__version__", "create_model", "get_spec", "list_models", "profile", "select"]
