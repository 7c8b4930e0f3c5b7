"""Released weights from torchvision, timm and pytorchcv: each with its preprocessing and published accuracy.

Modules: recipe (Preprocessing, no torch), sources (Weight, the Source protocol, `resolve`, `best`), mapping (a
source's state_dict into the zoo model's keys, strictly), files (checkpoint reading, sha256), and one module per
library (torchvision, timm, pytorchcv), each with a `SOURCE`.
"""

from zoobench.weights.recipe import SEED, Preprocessing
from zoobench.weights.sources import KINDS, OFFLINE_ENV, Choice, Weight, available, best, resolve, source

__all__ = [
    "KINDS",
    "OFFLINE_ENV",
    "SEED",
    "Choice",
    "Preprocessing",
    "Weight",
    "available",
    "best",
    "resolve",
    "source",
]
