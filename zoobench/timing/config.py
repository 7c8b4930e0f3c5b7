"""What is measured: device, precision, layout, input shape, threads and seed, checked before any work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import torch

from zoobench.errors import ZooError
from zoobench.timing.loop import MODES, QUEUE_CALLS, THROUGHPUT, Policy

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICES = ("cpu", "cuda")
SEED_LIMIT = 2**63  # torch seeds are 64-bit; keep them non-negative and signed-safe
LAYOUTS = {"nchw": False, "nhwc": True}  # --layout: the memory format, recorded as channels_last


@dataclass(frozen=True)
class BenchConfig:
    """What is measured: device, precision, layout, input shape, threads."""

    device: str = "cpu"
    dtype: str = "fp32"
    batch: int = 1
    resolution: int | None = 224  # None: each model's native resolution
    threads: int | None = None  # None: default_threads()
    channels_last: bool = False
    compile: bool = False
    compile_backend: str = "inductor"
    tf32: bool = False
    seed: int = 0
    reference: str | None = None  # a model measured alternately with each one: its latency relative to it
    policy: Policy = field(default_factory=Policy)
    backend: str = "eager"  # zoobench.backends.BACKENDS: who runs the model
    precision: str = "fp32"  # the backend's precision (int8 quantizes; for eager/compile bf16/fp16 is autocast)
    calibration: str | None = None  # int8: random:seed=S:n=N (default random:seed=0:n=32) or dir:PATH:n=N
    cache_dir: str | None = None  # exported models; None: $ZOOBENCH_CACHE or ~/.cache/zoobench
    mode: str = "latency"  # loop.MODES: latency syncs after every call; throughput keeps the (CUDA) queue full

    def validate(self) -> None:
        """ZooError naming the parameter (`batch must be ...`) for the first setting that cannot be measured."""
        if self.device not in DEVICES:
            raise ZooError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if self.dtype not in DTYPES:
            raise ZooError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.mode not in MODES:
            raise ZooError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.batch < 1:
            raise ZooError(f"batch must be at least 1, got {self.batch}")
        if self.resolution is not None and self.resolution < 1:
            raise ZooError(f"resolution must be a positive number of pixels, got {self.resolution}")
        if self.threads is not None and self.threads < 1:
            raise ZooError(f"threads must be at least 1, got {self.threads}")
        if not 0 <= self.seed < SEED_LIMIT:
            raise ZooError(f"seed must be in 0 .. 2**63 - 1, got {self.seed}")
        if self.device == "cuda" and not torch.cuda.is_available():
            built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "built without CUDA"
            raise ZooError(
                f"device cuda: no usable CUDA GPU here (torch {torch.__version__} {built}); measure on the cpu"
            )
        self.policy.validate()
        if self.backend != "eager" or self.precision != "fp32" or self.calibration or self.cache_dir:
            self.target().validate(self.dtype, self.compile)
            if self.device != "cpu" and self.backend not in ("eager", "compile"):
                raise ZooError(f"backend {self.backend} runs on the cpu here, not on device {self.device}")

    def target(self):
        """What zoobench.backends converts the model to, with this setting's threads and seed."""
        from zoobench.backends import Target

        return Target(self.backend, self.precision, self.calibration, self.cache_dir, self.threads or 1, self.seed,
                      self.compile_backend)  # fmt: skip

    def queue(self) -> int:
        """The fewest calls per sample (loop.sample_calls): throughput mode fills the queue of a device that has one."""
        return QUEUE_CALLS if self.mode == THROUGHPUT and self.device == "cuda" else 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BenchConfig:
        return cls(**{**data, "policy": Policy(**data["policy"])})


DEFAULT_CONFIG = BenchConfig()  # the default argument of the measuring functions (frozen, so shared safely)


def parse_counts(text: str | None, name: str, example: str = "1,2,4", what: str = "counts") -> list[int] | None:
    """'4' -> [4]; '1,2,4' -> a sweep (repeats dropped); None -> None (the default). `name` is the parameter's."""
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise ZooError(f"{name} takes a count or a comma-separated list such as {example}, not {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise ZooError(f"{name} {what} must be at least 1, got {text!r}")
    return list(dict.fromkeys(values))


def parse_threads(text: str | None) -> list[int] | None:
    """--threads: '4' -> [4]; '1,2,4' -> a sweep; None -> None (the default)."""
    return parse_counts(text, "threads")


def parse_batches(text: str | None) -> list[int] | None:
    """--batch: '8' -> [8]; '1,8,32' -> a sweep; None -> None (the default, batch 1)."""
    return parse_counts(text, "batch", "1,8,32", "sizes")


def _choices(text: str, allowed: Mapping[str, object], unknown: str) -> list[str]:
    """A comma list of names, stripped, repeats dropped, each one of `allowed`; else ZooError(unknown with {name})."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",")))
    for name in names:
        if name not in allowed:
            raise ZooError(unknown.format(name=name))
    return names


def parse_dtypes(text: str) -> list[str]:
    """--dtype: 'bf16' -> ['bf16']; 'fp32,bf16' -> a sweep; each name checked."""
    unknown = f"unknown dtype {{name!r}}; choose one of {', '.join(DTYPES)} (or a comma list of them)"
    return _choices(text, DTYPES, unknown)


def parse_layouts(text: str | None) -> list[bool] | None:
    """--layout: 'nhwc' -> [True]; 'nchw,nhwc' -> a sweep of channels_last; None -> None (the default, NCHW)."""
    if text is None:
        return None
    names = _choices(text, LAYOUTS, f"layout {{name!r}} is not one of {', '.join(LAYOUTS)} (or a comma list of them)")
    return [LAYOUTS[name] for name in names]


def setting_label(field_: str, value: object) -> str:
    """A swept setting's value as the command line spells it (channels_last True -> 'nhwc')."""
    return ("nhwc" if value else "nchw") if field_ == "channels_last" else str(value)
