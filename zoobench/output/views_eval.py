"""The column and footnote specs of `zoobench eval` (one model or many, every label set), and the report's footnote
on measured accuracy. Part of zoobench.output.views, which re-exports every name here; a module of its own so that
neither file grows past the size the project allows.
"""

from __future__ import annotations

from zoobench.output.columns import Column, integer, num, text

EVAL_COLUMNS = [
    Column("model", "Model", text),
    Column("weights", "Weights", text),
    Column("crops", "Crops", text),
    Column("crop_size", "Input", lambda r: "" if r is None else f"{r}x{r}"),
    Column("images", "Images", integer),
    Column("top1", "Top-1", num(2)),
    Column("top1_ci", "Top-1 95% CI", text),
    Column("top5", "Top-5", num(2)),
    Column("top5_ci", "Top-5 95% CI", text),
    Column("images_per_s", "Images/s", num(1)),
]
_CROP_GEOMETRY = {1: "centre crop", 5: "corners + centre", 10: "corners + centre and their horizontal flips"}


_LABEL_SETS = {
    "real": "ImageNet-ReaL labels (Beyer et al. 2020): a prediction is right when it is one of the image's real labels",
    "v2": "ImageNetV2: class folders named by class index, read as numbers",
    "a": "ImageNet-A: the 1000-way output scored over its 200 classes (the others' logits dropped before the softmax)",
    "r": "ImageNet-R: the 1000-way output scored over its 200 classes (the others' logits dropped before the softmax)",
}


_LABEL_NAMES = {"real": "ImageNet-ReaL", "v2": "ImageNetV2", "a": "ImageNet-A", "r": "ImageNet-R"}


def eval_columns(failed: bool) -> list[Column]:
    """The eval table; with an Error column when a model of a many-model run failed."""
    return [*EVAL_COLUMNS, Column("error", "Error", text)] if failed else EVAL_COLUMNS


def eval_display_row(row: dict) -> dict:
    """The result's row plus the interval columns as text (the table shows them; CSV and JSON keep both). A failed
    model's row (model and error only) stays as it is."""
    if row.get("error") is not None:
        return dict(row)
    return {
        **row,
        "top1_ci": f"[{row['top1_lo']:.2f}, {row['top1_hi']:.2f}]",
        "top5_ci": f"[{row['top5_lo']:.2f}, {row['top5_hi']:.2f}]",
    }


def eval_title(rows: list[dict]) -> str:
    ok = [r for r in rows if r.get("error") is None]
    what = rows[0]["model"] if len(rows) == 1 else f"{len(rows)} models"
    if not ok:
        return f"zoobench eval: {what}"
    labels = ok[0].get("labels", "imagenet")
    on = f" ({_LABEL_NAMES[labels]})" if labels in _LABEL_NAMES else ""
    return f"zoobench eval: {what} on {ok[0]['images']:,} images{on}, {ok[0]['crops']}-crop"


def eval_notes(row: dict, skipped: list[tuple[str, str]]) -> list[str]:
    """The settings in sentences, for the Markdown footnotes and the JSON document."""
    notes = [
        f"Top-1/Top-5: % of {row['images']:,} images of {row['data']} ({row['classes']} classes, labels from "
        f"{row['classes_source']}); the brackets are the {row['ci']}.",
        f"{row['crops']}-crop: {row['resize']}, then {row['crop_size']}x{row['crop_size']} "
        f"{_CROP_GEOMETRY[row['crops']]}; {row['interpolation']}; decoder {row['decoder']}; crops averaged as "
        + ("softmax probabilities." if row["average"] == "softmax" else "logits, then softmax."),
        f"Weights: {row['weights']}" + (f" (sha256 {row['weights_sha256']})." if row["weights_sha256"] else "."),
        f"Images/s: {row['dataset_images']:,} images / {row['wall_s']:.1f} s wall on {row['device']}, {row['dtype']}, "
        f"batch {row['batch_size']} images, loader workers per process: {row['workers']}, torch threads: "
        f"{row['torch_threads']} ({row['loader_plan']}); decode + resize took {row['decode_s']:.1f} CPU s, "
        f"normalising and the model {row['model_s']:.1f} s"
        + (
            f"; {row['models_in_pass']} models shared each decoded image, and the wall time."
            if row["models_in_pass"] > 1
            else "."
        ),
    ]
    if row.get("preprocess") == "weights" or row.get("recipe_overrides"):
        notes.insert(2, _recipe_note(row))
    if row["labels"] in _LABEL_SETS:
        notes.append(
            _LABEL_SETS[row["labels"]]
            + (f"; {row['left_out']:,} images without a real label left out." if row["left_out"] else ".")
        )
    if row["random_init"]:
        notes.append("The model is randomly initialised (no --weights): these accuracies are chance level.")
    if skipped:
        files = [f for f, _ in skipped]
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        notes.append(
            f"{len(skipped)} unreadable images were skipped (--skip-bad) and left out of both denominators: {shown}"
        )
    if row["top5_k"] < 5:
        notes.append(f"Only {row['classes']} classes: 'top-5' is top-{row['top5_k']}.")
    if row["published_source"]:
        notes.append(
            f"Published: top-1 {row['published_top1']}, top-5 {row['published_top5']} ({row['published_source']}"
            + (f"; {row['published_protocol']}" if row.get("published_protocol") else "")
            + ")."
        )
    return notes


def _recipe_note(row: dict) -> str:
    """Whose preprocessing the model saw, and which options changed it."""
    whose = "the weights' own" if row["preprocess"] == "weights" else "the seed's (224 in 256, bilinear)"
    changed = f"; changed by {row['recipe_overrides']}" if row.get("recipe_overrides") else ""
    return (
        f"Preprocessing: {whose}, {row['recipe']}{changed}: {row['crop_size']} inside {row['resize_size']}, "
        f"{row['interpolation']}, mean {row['mean']}, std {row['std']}."
    )


def eval_many_notes(rows: list[dict], skipped: list[tuple[str, str]]) -> list[str]:
    """The notes of a many-model run: the settings once (from the first model evaluated), then each model's
    weights and published figures; a failed model's error."""
    ok = [r for r in rows if r.get("error") is None]
    if len(rows) == 1 and ok:
        return eval_notes(ok[0], skipped)
    own = ("Weights:", "Published:", "The model is randomly")
    notes = [n for n in eval_notes(ok[0], skipped) if not n.startswith(own)] if ok else []
    for r in rows:
        if r.get("error") is not None:
            notes.append(f"{r['model']}: failed: {r['error']}")
            continue
        weights = f"weights {r['weights']}" if not r["random_init"] else "randomly initialised (chance level)"
        published = (
            f"; published top-1 {r['published_top1']}, top-5 {r['published_top5']} ({r['published_source']})"
            if r["published_source"]
            else ""
        )
        notes.append(f"{r['model']}: {r['crop_size']}x{r['crop_size']} inside {r['resize']}, {weights}{published}.")
    return notes


def accuracy_recipes(recipes: dict[str, list[str]]) -> list[str]:
    """The report's footnotes on measured accuracy: per recipe (weights, preprocessing, result file), its models."""
    return [f"Measured top-1/top-5 of {', '.join(models)}: {recipe}." for recipe, models in recipes.items()]
