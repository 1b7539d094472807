"""What older versions saved still reads as it was trained and built (minbert/legacy.py)."""
import dataclasses

import pytest

from minbert import legacy
from minbert.multitask import MultitaskConfig
from minbert.train.recipe import TrainConfig


def test_a_model_config_saved_before_a_field_existed_builds_the_model_it_was():
    old = MultitaskConfig.from_dict({"pooling": "cls", "sst_dropout": 0.1, "sts_loss": "mse", "sts_discrete": False})
    assert old == MultitaskConfig(pooling="cls", sst_dropout=0.1, sts_loss="mse", para_head="cosine", sst_layers=0)
    now = dataclasses.asdict(MultitaskConfig())
    assert MultitaskConfig.from_dict({**now, "retired_knob": 1}) == MultitaskConfig()  # unknown keys: not the model's


def test_a_saved_train_config_reads_as_todays_fields():
    defaults = dataclasses.asdict(TrainConfig())
    then = legacy.saved_train_config({"lr": 1e-4, "mnrl_weight": 0.0, "sst_weight": 2.0}, defaults)
    assert then["lr"] == 1e-4 and then["epochs"] == defaults["epochs"]  # saved; then today's default
    assert (then["sst_phrases"], then["ema"], then["para_val"], then["sst_layers"]) == (0, 0.0, 0, 0)  # added since
    assert set(then) - set(defaults) == {"sst_weight"}  # a retired lever that was on stays visible; an off one goes
    assert legacy.without_retired({"lr": 1e-4, "mnrl_weight": 0.0}, "f") == {"lr": 1e-4}
    with pytest.raises(ValueError, match="f: retired option.*sst_weight.*8a2619e"):
        legacy.without_retired({"sst_weight": 2.0}, "f")


def test_a_checkpoint_saved_before_a_buffer_existed_loads_it_at_the_models_default():
    import torch

    from minbert.checkpoint import load_weights
    from minbert.task_heads import PairClassifier
    model = torch.nn.ModuleDict({"para": PairClassifier(8)})
    old = {k: v for k, v in model.state_dict().items() if k != "para.threshold"}  # saved before it existed
    model.para.threshold.fill_(2.0)
    load_weights(model, old)
    assert float(model.para.threshold) == 2.0  # absent: the built model's value
    load_weights(model, {**old, "para.threshold": torch.tensor(0.5)})
    assert float(model.para.threshold) == 0.5  # present: as saved
    with pytest.raises(RuntimeError, match="scale"):  # any other missing weight is still an error
        load_weights(model, {k: v for k, v in old.items() if k != "para.scale"})
