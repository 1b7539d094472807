"""What older versions saved, read as today's: run configs, recipe files and checkpoints written before a field or a
buffer existed, or naming a lever that has since retired. The one place that knows the project's history; every
reader of saved configs and checkpoints goes through it (minbert.train.recipe, minbert.multitask, minbert.checkpoint,
analysis.experiments.runner)."""
from __future__ import annotations

# TrainConfig fields added after runs had been saved, at the value that trains as runs did before the field existed:
# a saved config without one of them was trained with this value (not with today's default).
TRAIN_FIELDS_ADDED = {"sst_phrases": 0, "ema": 0.0, "para_val": 0, "sst_layers": 0}
# MultitaskConfig fields newer than some saved checkpoints, at the value those checkpoints were built with.
MODEL_FIELDS_ADDED = {"para_head": "cosine", "sst_layers": 0}
# Levers measured at the full recipe over seeds that did not help, removed from the code (docs/EXPERIMENTS.md has
# their results; commit 8a2619e is the last that had them). A saved config may still name them, at their off value.
RETIRED = {"layer_decay": 1.0, "sst_weight": 1.0, "para_weight": 1.0, "sts_weight": 1.0, "class_balance": False,
           "para_hard": 0, "para_hard_margin": 0.95, "sst_ordinal": 0.0, "sst_samples": 1, "sst_rdrop": 0.0,
           "mnrl_weight": 0.0, "sst_shared_grad": 1.0, "freeze_embeddings": False}
# Buffers newer than some checkpoints: absent ones load as the model's defaults.
BUFFERS_ADDED = ("para.threshold",)


def retired_on(d: dict) -> list[str]:
    """The retired levers a saved config or recipe file sets to anything but their off value."""
    return sorted(k for k in set(d) & set(RETIRED) if d[k] != RETIRED[k])


def without_retired(d: dict, where: str) -> dict:
    """A recipe file's options without the retired levers, which must be at their off value (what every run now
    trains); ValueError naming them otherwise."""
    if retired_on(d):
        raise ValueError(f"{where}: retired option(s) {retired_on(d)}; docs/EXPERIMENTS.md has their results, and "
                         "commit 8a2619e is the last that trains them")
    return {k: v for k, v in d.items() if k not in RETIRED}


def saved_train_config(stored: dict, defaults: dict) -> dict:
    """A saved train_config as today's fields (`defaults`: today's, by name): a field it lacks at the value it was
    trained with (TRAIN_FIELDS_ADDED, else today's default), plus any retired lever it had on, at its saved value."""
    today = {k: stored.get(k, TRAIN_FIELDS_ADDED.get(k, v)) for k, v in defaults.items()}
    return today | {k: stored[k] for k in retired_on(stored)}


def saved_model_config(stored: dict, names: list[str]) -> dict:
    """A saved model_config's fields among `names` (today's); one it lacks at the value the model was built with."""
    return {**{k: v for k, v in MODEL_FIELDS_ADDED.items() if k in names}, **{k: v for k, v in stored.items()
                                                                               if k in names}}


def with_added_buffers(state: dict, defaults: dict) -> dict:
    """A saved state dict, with the BUFFERS_ADDED it predates taken from the model's own (`defaults`)."""
    return state | {k: defaults[k] for k in BUFFERS_ADDED if k in defaults and k not in state}
