"""Temperature scaling: scipy's fit against the old grid search, the split, serving, and the CLI on a tiny model."""
import dataclasses

import numpy as np
import pytest
import torch

from minbert.evaluate import temperature as C
from minbert.tasks import SST, TASKS


def overconfident(n=2000, seed=0):
    """Logits whose softmax is sharper than the truth: true T = 2.5."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 5)) * 3
    p = C.scaled_probs("sst", z, 2.5)
    gold = np.array([rng.choice(5, p=row) for row in p])
    return z, gold


OLD_GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 1201))  # the grid the fit searched before issue 34


def grid_fit(task, logits, gold):
    return float(OLD_GRID[int(np.argmin([C.nll(task, logits, gold, t) for t in OLD_GRID]))])


def test_fit_agrees_with_the_old_grid_and_recovers_the_temperature():
    z, gold = overconfident()
    t, old = C.fit_temperature("sst", z, gold), grid_fit("sst", z, gold)
    step = np.log(OLD_GRID[1] / OLD_GRID[0])  # 0.005 in log T
    assert abs(np.log(t / old)) <= step / 2 + 1e-4 and 2.0 < t < 3.1  # within the grid's resolution
    assert C.nll("sst", z, gold, t) <= C.nll("sst", z, gold, old) + 1e-12  # and no worse than the grid's
    assert C.ece("sst", z, gold, t) < C.ece("sst", z, gold, 1.0)
    right = np.array([[1.0, 0.0], [0.0, 1.0]])  # always right: NLL falls as T -> 0, so the fit is the lower bound
    assert C.fit_temperature(dataclasses.replace(SST, classes=("no", "yes"), label_words={}), right, [0, 1]) == pytest.approx(
        C.T_BOUNDS[0], rel=1e-3) == grid_fit(SST, right, [0, 1])


def test_binary_temperature_and_cross_fitted_report():
    rng = np.random.default_rng(1)
    logit = rng.normal(size=3000) * 4
    gold = (rng.random(3000) < C.scaled_probs("para", logit, 3.0)).astype(int)
    ids = [f"{i:025x}" for i in range(3000)]
    r = C.calibrate("para", ids, logit, gold)
    assert 2.3 < r["temperature"] < 3.8 and r["ece_after"] < r["ece_before"] and r["nll_after"] < r["nll_before"]
    assert all(2.0 < r["cross_fit"][k] < 4.2 for k in ("t_half_a", "t_half_b"))
    b = C.half_b(ids)
    assert 0.4 < b.mean() < 0.6 and np.array_equal(b, C.half_b(ids))  # fixed, about half


def test_apply_changes_confidence_never_the_class():
    z, _ = overconfident(200)
    out = {"logits": z, "probs": C.scaled_probs("sst", z, 1.0), "pred": z.argmax(-1)}
    cal = C.apply("sst", out, {"sst": 2.5, "para": 1.0})
    assert np.array_equal(cal["probs"].argmax(-1), out["pred"]) and cal["probs"].max(-1).mean() < out["probs"].max(-1).mean()
    assert cal["logits"] is z and np.allclose(cal["probs"].sum(-1), 1, atol=1e-5)
    assert C.temperatures({}) == {"sst": 1.0, "para": 1.0}
    added = dataclasses.replace(SST, key="cfimdb", classes=("negative", "positive"), own_layers=False, label_words={})
    meta = {"tasks": [t.to_dict() for t in (*TASKS.values(), added)], "calibration": {"cfimdb": {"temperature": 1.5}}}
    assert C.temperatures(meta) == {"sst": 1.0, "para": 1.0, "cfimdb": 1.5}  # every classification task it has
    two = C.apply(added, {"logits": z[:, :2]}, C.temperatures(meta))["probs"]
    assert np.allclose(two, torch.tensor(z[:, :2] / 1.5).softmax(-1).numpy(), atol=1e-6)


def test_cli_writes_the_sidecar_and_every_tool_serves_it(tiny_model_dir, data_dir, tmp_path):
    from analysis.calibrate import main
    from minbert.checkpoint import load_checkpoint, save_checkpoint
    from minbert.model import BertModel
    from minbert.multitask import MultitaskConfig, MultitaskModel
    from minbert.serve.predictor import Predictor
    from minbert.tokenizer import Tokenizer
    torch.manual_seed(0)
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(para_head="features")).eval()
    with torch.no_grad():
        model.sst.classifier.weight.mul_(400)  # an overconfident head
        model.para.threshold.fill_(0.25)  # as --para-val fits it
    stem = tmp_path / "tiny"
    save_checkpoint(stem, model, Tokenizer.from_pretrained(tiny_model_dir), {"train_config": {}}, torch.float32)
    assert main(["--checkpoint", str(stem), "--data-dir", str(data_dir)]) == 0
    cal = load_checkpoint(stem).meta["calibration"]  # the weights still verify
    assert cal["sst"]["temperature"] > 1 and cal["sst"]["ece_after"] <= cal["sst"]["ece_before"]
    assert 0 <= cal["para"]["threshold"]["accuracy_cross_fitted"] <= 1  # the threshold diagnostic is stored too
    assert cal["para"]["threshold"]["served_threshold"] == 0.25  # with the threshold its logits were shifted by
    p = Predictor(stem)
    r = p.sentiment("A fine film.")
    raw = torch.tensor(r["logits"]).softmax(-1)
    assert r["temperature"] == cal["sst"]["temperature"] and max(r["probs"]) < float(raw.max())
    assert int(np.argmax(r["probs"])) == int(raw.argmax())
    q = p.paraphrase("a cat", "a kitten")
    assert abs(q["probability"] - float(torch.tensor(q["logit"] / q["temperature"]).sigmoid())) < 1e-6
    assert q["logit_threshold"] == 0.25 and q["is_paraphrase"] == (q["logit"] > 0)  # the served logit is shifted


def test_threshold_check_matches_a_brute_force_search():
    import numpy as np

    from minbert.evaluate.temperature import half_b, threshold_check
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 400)
    logit = rng.normal(0, 1, 400) + 1.5 * gold + 0.8  # shifted: too many pairs called duplicates at 0
    ids = [f"id{i}" for i in range(400)]
    r = threshold_check(ids, logit, gold)
    b = half_b(ids)

    def brute(m):  # every candidate threshold, the best accuracy on m
        cands = np.concatenate([[logit.min() - 1], np.sort(logit[m])])
        return cands[int(np.argmax([((logit[m] > t) == gold[m]).mean() for t in cands]))]

    t_a, t_b = brute(~b), brute(b)
    expected = (((logit[b] > t_a) == gold[b]).sum() + ((logit[~b] > t_b) == gold[~b]).sum()) / 400
    assert r["accuracy_cross_fitted"] == round(expected, 4) and r["threshold_half_a"] == round(t_a, 3)
    assert r["accuracy_at_0"] == round(((logit > 0) == gold).mean(), 4)
    assert r["accuracy_cross_fitted"] > r["accuracy_at_0"] and r["predicted_positive_rate"] > r["gold_positive_rate"]


def test_best_threshold_matches_brute_force():
    from minbert.evaluate.temperature import best_threshold
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 50):
        logit, gold = rng.normal(size=n).round(1), rng.integers(0, 2, n)  # rounding makes ties
        cands = np.concatenate([[logit.min() - 1], logit])
        accs = [((logit > c) == gold).mean() for c in cands]
        t = best_threshold(logit, gold)
        assert ((logit > t) == gold).mean() == max(accs) and t == min(c for c, a in zip(cands, accs) if a == max(accs))


def test_a_fitted_threshold_moves_the_cosine_heads_boundary(tiny_model_dir, tmp_path):
    from minbert.checkpoint import save_checkpoint
    from minbert.model import BertModel
    from minbert.multitask import MultitaskConfig, MultitaskModel
    from minbert.serve.predictor import Predictor
    from minbert.tokenizer import Tokenizer
    model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(para_head="cosine")).eval()
    model.para.threshold.fill_(0.4)
    save_checkpoint(tmp_path / "c", model, Tokenizer.from_pretrained(tiny_model_dir), {"train_config": {}}, torch.float32)
    p = Predictor(tmp_path / "c")
    q = p.paraphrase("a cat sat", "a kitten sat")
    head = p.model.para
    assert q["logit"] == pytest.approx(float(head.scale) * q["cosine"] + float(head.bias) - 0.4, abs=1e-4)
    assert q["cosine_threshold"] == pytest.approx((0.4 - float(head.bias)) / float(head.scale), abs=1e-6)
    assert q["is_paraphrase"] == (q["cosine"] > q["cosine_threshold"])
