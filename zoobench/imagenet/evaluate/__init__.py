"""ImageNet evaluation: top-1 / top-5 with 1-, 5- or 10-crop, pretrained weights, exact distributed evaluation.

The data is the tree prepare-imagenet writes: OUT/val/<wnid>/*.JPEG with OUT/classes.json (a list of
{"index", "wnid", "words"}; index = the label the model predicts). Every class folder must match classes.json
exactly (dataset). Distributed (`torchrun --nproc-per-node N -m zoobench eval ...`): each rank evaluates one
contiguous slice of the samples, predictions are gathered by sample index and rank 0 reports (distributed).

Modules: config (the options, checked once), dataset (the folder), labelsets (ImageNet-ReaL, V2, A, R), weights
(files, torchvision, offline cache), loop (one rank's batches through every model of a pass; loader workers and
torch threads), stats (Wilson intervals), predictions (per-image files), run (evaluate(), evaluate_many()).
"""

from zoobench.imagenet.devkit import ClassInfo, read_classes
from zoobench.imagenet.evaluate.config import AVERAGING, DTYPES, EvalConfig
from zoobench.imagenet.evaluate.dataset import IMG_EXTENSIONS, ImageFolderSet, find_classes_file, image_folder
from zoobench.imagenet.evaluate.distributed import CollectiveError, env_rank, shard
from zoobench.imagenet.evaluate.labelsets import LABEL_SETS
from zoobench.imagenet.evaluate.loop import LoaderPlan, LoopTimes, RankPart, average_crops, loader_plan
from zoobench.imagenet.evaluate.predictions import Predictions, rescore, write_predictions
from zoobench.imagenet.evaluate.run import DataInfo, EvalResult, Failed, Published, RunInfo, evaluate, evaluate_many
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
    "LABEL_SETS",
    "OFFLINE_ENV",
    "TORCHVISION_DEFAULT_WEIGHTS",
    "Z95",
    "Accuracy",
    "ClassInfo",
    "CollectiveError",
    "DataInfo",
    "EvalConfig",
    "EvalResult",
    "Failed",
    "ImageFolderSet",
    "LoaderPlan",
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
    "evaluate_many",
    "fetch_weights",
    "find_classes_file",
    "image_folder",
    "load_state_dict",
    "load_weights",
    "loader_plan",
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
