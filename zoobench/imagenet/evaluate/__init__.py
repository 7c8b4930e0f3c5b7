"""ImageNet evaluation: top-1 / top-5 with 1-, 5- or 10-crop, pretrained weights, exact distributed evaluation.

The data is the tree prepare-imagenet writes: OUT/val/<wnid>/*.JPEG with OUT/classes.json (a list of
{"index", "wnid", "words"}; index = the label the model predicts). Every class folder must match classes.json
exactly (dataset). Distributed (`torchrun --nproc-per-node N -m zoobench eval ...`): each rank evaluates one
contiguous slice of the samples, predictions are gathered by sample index and rank 0 reports (distributed).

Modules: config (the options, checked once), dataset (the folder), weights (files, torchvision, offline cache),
loop (one rank's batches), stats (Wilson intervals), predictions (per-image files), run (evaluate()).
"""

from zoobench.imagenet.devkit import ClassInfo, read_classes
from zoobench.imagenet.evaluate.config import AVERAGING, DTYPES, EvalConfig
from zoobench.imagenet.evaluate.dataset import IMG_EXTENSIONS, ImageFolderSet, find_classes_file, image_folder
from zoobench.imagenet.evaluate.distributed import CollectiveError, env_rank, shard
from zoobench.imagenet.evaluate.loop import LoopTimes, RankPart, average_crops
from zoobench.imagenet.evaluate.predictions import Predictions, rescore, write_predictions
from zoobench.imagenet.evaluate.run import DataInfo, EvalResult, Published, RunInfo, evaluate
from zoobench.imagenet.evaluate.stats import CI_METHOD, Z95, Accuracy, Score, wilson
from zoobench.imagenet.evaluate.weights import (
    OFFLINE_ENV,
    TORCHVISION_DEFAULT_WEIGHTS,
    WeightsInfo,
    WeightsSource,
    apply_weights,
    fetch_weights,
    load_state_dict,
    load_weights,
    resolve_weights,
    sha256,
    torchvision_cache_file,
    torchvision_weights,
)

__all__ = [
    "AVERAGING",
    "CI_METHOD",
    "DTYPES",
    "IMG_EXTENSIONS",
    "OFFLINE_ENV",
    "TORCHVISION_DEFAULT_WEIGHTS",
    "Z95",
    "Accuracy",
    "ClassInfo",
    "CollectiveError",
    "DataInfo",
    "EvalConfig",
    "EvalResult",
    "ImageFolderSet",
    "LoopTimes",
    "Predictions",
    "Published",
    "RankPart",
    "RunInfo",
    "Score",
    "WeightsInfo",
    "WeightsSource",
    "apply_weights",
    "average_crops",
    "env_rank",
    "evaluate",
    "fetch_weights",
    "find_classes_file",
    "image_folder",
    "load_state_dict",
    "load_weights",
    "read_classes",
    "rescore",
    "resolve_weights",
    "sha256",
    "shard",
    "torchvision_cache_file",
    "torchvision_weights",
    "wilson",
    "write_predictions",
]
