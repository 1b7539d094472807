"""Each head's loss against values computed by hand."""
import math

import pytest
import torch

from minbert.task_heads import PairClassifier, PairScorer, SentenceClassifier, cosent_loss


def test_sentiment_cross_entropy_by_hand():
    head = SentenceClassifier(4, 5)
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]])
    expected = (-math.log(math.e ** 2 / (math.e ** 2 + 4)) - math.log(math.e / (math.e + 4))) / 2
    assert head.loss({"logits": logits}, torch.tensor([0, 2])).item() == pytest.approx(expected, rel=1e-6)
    head.class_weights.copy_(torch.tensor([3.0, 1, 1, 1, 1]))  # weighted mean: sum(w_i l_i) / sum(w_i)
    l0, l1 = -math.log(math.e ** 2 / (math.e ** 2 + 4)), -math.log(math.e / (math.e + 4))
    assert head.loss({"logits": logits}, torch.tensor([0, 2])).item() == pytest.approx((3 * l0 + l1) / 4, rel=1e-6)


def test_paraphrase_cosine_sigmoid_bce_by_hand():
    head = PairClassifier(2)
    with torch.no_grad():
        head.scale.fill_(2.0), head.bias.fill_(-1.0)
    u, v = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # cos 1 and 0
    out = head(u, v)
    assert out["cosine"].tolist() == [1.0, 0.0] and out["logit"].tolist() == [1.0, -1.0]
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = (-math.log(sig(1.0)) - math.log(1 - sig(-1.0))) / 2  # labels 1, 0
    assert head.loss(out, torch.tensor([1.0, 0.0])).item() == pytest.approx(expected, rel=1e-6)
    head.pos_weight.fill_(3.0)
    expected_w = (-3 * math.log(sig(1.0)) - math.log(1 - sig(-1.0))) / 2
    assert head.loss(out, torch.tensor([1.0, 0.0])).item() == pytest.approx(expected_w, rel=1e-6)


def test_similarity_losses_by_hand():
    u = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # cos 1, 0, 1/sqrt2
    labels = torch.tensor([5.0, 1.0, 3.0])
    c = 1 / math.sqrt(2)
    out = PairScorer("mse")(u, v)
    assert PairScorer("mse").loss(out, labels).item() == pytest.approx(((1 - 1) ** 2 + 0.2 ** 2 + (c - 0.6) ** 2) / 3, rel=1e-5)
    # cosine embedding: similar (label >= 2.5) -> 1 - cos; dissimilar -> max(0, cos - margin)
    assert PairScorer("cosine_embedding").loss(out, labels).item() == pytest.approx((0 + 0 + 1 - c) / 3, rel=1e-5)
    # CoSENT: pairs with label_i > label_j: (5,1), (5,3), (3,1)
    terms = [20 * (0 - 1), 20 * (c - 1), 20 * (0 - c)]
    expected = math.log(1 + sum(math.exp(t) for t in terms))
    assert cosent_loss(out["cosine"], labels).item() == pytest.approx(expected, rel=1e-5)


def test_similarity_calibration_and_discrete_scores():
    head = PairScorer("mse")
    cos = torch.tensor([0.0, 0.5, 1.0])
    head.calibrate(cos, torch.tensor([1.0, 2.0, 3.0]))  # exactly score = 2 cos + 1
    torch.testing.assert_close(head.calibration, torch.tensor([2.0, 1.0]))
    u, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])  # cos 0.7071
    assert head(u, v)["score"].item() == pytest.approx(2 / math.sqrt(2) + 1, rel=1e-5)
    head.discrete = True
    assert head(u, v)["score"].item() == 2.0


def test_paraphrase_threshold_shifts_the_served_logit_only():
    head = PairClassifier(8, kind="features")
    u, v = torch.randn(5, 8), torch.randn(5, 8)
    raw = head.train()(u, v)["logit"]
    head.threshold.fill_(0.75)
    torch.testing.assert_close(head(u, v)["logit"], raw)  # training never sees the threshold
    torch.testing.assert_close(head.eval()(u, v)["logit"], raw - 0.75)
    cross = PairClassifier(8, kind="cross").eval()
    cross.threshold.fill_(-1.0)
    torch.testing.assert_close(cross.forward_joint(u)["logit"], cross.joint(u).squeeze(-1) + 1.0)


def test_features_head_is_the_mean_of_both_sentence_orders():
    torch.manual_seed(0)
    head = PairClassifier(8, kind="features").eval()
    with torch.no_grad():
        head.features.weight.normal_(), head.features.bias.fill_(0.3)  # untied u and v blocks, as trained
    u, v = torch.randn(6, 8), torch.randn(6, 8)
    cos_part = head.scale * torch.nn.functional.cosine_similarity(u, v, dim=-1) + head.bias
    untied = lambda a, b: head.features(torch.cat([a, b, (a - b).abs(), a * b], dim=-1)).squeeze(-1)  # noqa: E731
    with torch.no_grad():
        forward, swapped = head(u, v)["logit"], head(v, u)["logit"]
        torch.testing.assert_close(forward, cos_part + (untied(u, v) + untied(v, u)) / 2)
    torch.testing.assert_close(forward, swapped)  # the verdict never depends on which sentence comes first


def test_older_checkpoints_without_the_threshold_load_it_as_zero():
    from minbert.checkpoint import load_weights
    model = torch.nn.ModuleDict({"para": PairClassifier(8)})
    old = {k: v for k, v in model.state_dict().items() if k != "para.threshold"}  # saved before it existed
    load_weights(model, {**old, "para.threshold": torch.tensor(0.5)})
    assert float(model.para.threshold) == 0.5  # present: loaded as saved
    model.para.threshold.fill_(2.0)
    load_weights(model, old)
    assert float(model.para.threshold) == 2.0  # absent: keeps the built model's value (0 for a fresh build)
    with pytest.raises(RuntimeError, match="scale"):  # any other missing weight is still an error
        load_weights(model, {k: v for k, v in old.items() if k != "para.scale"})
