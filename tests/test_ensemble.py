"""Combining checkpoints: the output-averaging rules by hand, the soup against a manual weight mean, the CLI."""
import json

import numpy as np
import pytest
import torch

from analysis import ensemble
from minbert.tasks import TASKS


def tiny_checkpoint(tiny_model_dir, path, seed, threshold=0.0, **config):
    from minbert.checkpoint import save_checkpoint
    from minbert.model import BertModel
    from minbert.multitask import MultitaskConfig, MultitaskModel
    from minbert.tokenizer import Tokenizer
    torch.manual_seed(seed)
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(**{"para_head": "features", "sst_layers": 0, **config})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # members that differ everywhere, as fine-tuned seeds do
        model.para.threshold.fill_(threshold)
    save_checkpoint(path, model, Tokenizer.from_pretrained(tiny_model_dir), {"train_config": {}}, torch.float32)
    return path


def test_outputs_are_averaged_by_the_documented_rules():
    a = {"sst": {"probs": np.array([[0.6, 0.4, 0, 0, 0], [0.1, 0, 0, 0, 0.9]])},
         "para": {"logit": np.array([4.0, -1.0])}, "sts": {"score": np.array([1.0, 5.0]), "cosine": np.array([0.2, 1.0])}}
    b = {"sst": {"probs": np.array([[0.0, 0.7, 0.3, 0, 0], [0.2, 0, 0, 0, 0.8]])},
         "para": {"logit": np.array([-5.0, 0.5])}, "sts": {"score": np.array([3.0, 4.0]), "cosine": np.array([0.4, 0.8])}}
    out = ensemble.average_outputs([a, b], TASKS.values())
    assert out["sst"]["pred"].tolist() == [1, 4]  # mean probs (0.30, 0.55, 0.15, 0, 0) and (0.15, ..., 0.85)
    # each member's logit is already relative to its own threshold: the mean of them is decided at 0
    assert out["para"]["pred"].tolist() == [0, 0] and out["para"]["logit"].tolist() == [-0.5, -0.25]
    assert out["sts"]["score"].tolist() == [2.0, 4.5]


def test_the_soup_is_the_mean_of_the_weights_buffers_included(tiny_model_dir, tmp_path):
    from minbert.checkpoint import load_checkpoint
    a = load_checkpoint(tiny_checkpoint(tiny_model_dir, tmp_path / "a", 0, threshold=1.0))
    b = load_checkpoint(tiny_checkpoint(tiny_model_dir, tmp_path / "b", 1, threshold=3.0))
    s = ensemble.soup([a, b]).model.state_dict()
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert set(s) == set(sa)
    for k in sa:
        assert torch.allclose(s[k], (sa[k] + sb[k]) / 2, atol=1e-6), k
    assert float(s["para.threshold"]) == 2.0
    other = load_checkpoint(tiny_checkpoint(tiny_model_dir, tmp_path / "c", 2, para_head="cosine"))
    assert ensemble.soup([a, other]) is None  # another head: no weight average
    private = load_checkpoint(tiny_checkpoint(tiny_model_dir, tmp_path / "e", 4, sst_layers=1))
    assert ensemble.soup([a, private]) is None  # sentiment's own top layer: other weights, no average
    mse = load_checkpoint(tiny_checkpoint(tiny_model_dir, tmp_path / "d", 3, sts_loss="mse"))
    assert ensemble.soup([a, mse]) is not None  # another loss only: the same forward pass


def test_a_model_combined_with_itself_is_itself(tiny_model_dir, data_dir, tmp_path):
    stem = str(tiny_checkpoint(tiny_model_dir, tmp_path / "a", 0, threshold=0.3))
    assert ensemble.main([stem, stem, "--data-dir", str(data_dir), "--batch-size", "256",
                          "--out-json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    member = res["members"][0]
    assert len(res["members"]) == 2 and res["member_sd"]["overall"] == 0
    for name in ("ensemble", "soup"):
        for key in ensemble.metric_keys(TASKS.values()):
            assert res[name][key] == pytest.approx(member[key], abs=1e-6), (name, key)
        assert all(d["ci95"] == [0.0, 0.0] for d in res[name]["vs_best_member"].values())


def test_bad_input_is_refused_before_any_inference(tmp_path, capsys):
    assert ensemble.main([str(tmp_path / "missing")]) == 2
    assert "between 2 and" in capsys.readouterr().err
    assert ensemble.main([str(tmp_path / "missing"), str(tmp_path / "gone")]) == 2
    assert "no checkpoint sidecar" in capsys.readouterr().err
