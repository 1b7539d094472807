"""Each head's loss against values computed by hand."""
import math

import pytest
import torch

from minbert.heads import ParaphraseHead, SentimentHead, SimilarityHead, cosent_loss, mnrl_loss


def test_sentiment_cross_entropy_by_hand():
    head = SentimentHead(4)
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]])
    expected = (-math.log(math.e ** 2 / (math.e ** 2 + 4)) - math.log(math.e / (math.e + 4))) / 2
    assert head.loss({"logits": logits}, torch.tensor([0, 2])).item() == pytest.approx(expected, rel=1e-6)
    head.class_weights.copy_(torch.tensor([3.0, 1, 1, 1, 1]))  # weighted mean: sum(w_i l_i) / sum(w_i)
    l0, l1 = -math.log(math.e ** 2 / (math.e ** 2 + 4)), -math.log(math.e / (math.e + 4))
    assert head.loss({"logits": logits}, torch.tensor([0, 2])).item() == pytest.approx((3 * l0 + l1) / 4, rel=1e-6)


def test_paraphrase_cosine_sigmoid_bce_by_hand():
    head = ParaphraseHead(2)
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
    out = SimilarityHead("mse")(u, v)
    assert SimilarityHead("mse").loss(out, labels).item() == pytest.approx(((1 - 1) ** 2 + 0.2 ** 2 + (c - 0.6) ** 2) / 3, rel=1e-5)
    # cosine embedding: similar (label >= 2.5) -> 1 - cos; dissimilar -> max(0, cos - margin)
    assert SimilarityHead("cosine_embedding").loss(out, labels).item() == pytest.approx((0 + 0 + 1 - c) / 3, rel=1e-5)
    # CoSENT: pairs with label_i > label_j: (5,1), (5,3), (3,1)
    terms = [20 * (0 - 1), 20 * (c - 1), 20 * (0 - c)]
    expected = math.log(1 + sum(math.exp(t) for t in terms))
    assert cosent_loss(out["cosine"], labels).item() == pytest.approx(expected, rel=1e-5)


def test_similarity_calibration_and_discrete_scores():
    head = SimilarityHead("mse")
    cos = torch.tensor([0.0, 0.5, 1.0])
    head.calibrate(cos, torch.tensor([1.0, 2.0, 3.0]))  # exactly score = 2 cos + 1
    torch.testing.assert_close(head.calibration, torch.tensor([2.0, 1.0]))
    u, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])  # cos 0.7071
    assert head(u, v)["score"].item() == pytest.approx(2 / math.sqrt(2) + 1, rel=1e-5)
    head.discrete = True
    assert head(u, v)["score"].item() == 2.0


def test_mnrl_by_hand():
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([1.0, 1.0, 0.0])  # the third pair is a negative: a distractor column only
    c = 1 / math.sqrt(2)
    row0 = [20.0, 0.0, 20.0]  # u0 against v0, v1, v2
    row1 = [0.0, 20.0, 0.0]
    ce = lambda row, t: -row[t] + math.log(sum(math.exp(x) for x in row))  # noqa: E731
    assert mnrl_loss(u, v, labels).item() == pytest.approx((ce(row0, 0) + ce(row1, 1)) / 2, rel=1e-5)
    assert c > 0 and mnrl_loss(u, v, torch.tensor([1.0, 0.0, 0.0])).item() == 0.0


def test_ordinal_sentiment_loss_is_cross_entropy_against_soft_neighbour_labels():
    import torch.nn.functional as F
    from minbert.heads import SentimentHead, ordinal_targets
    torch.manual_seed(0)
    logits, y = torch.randn(7, 5), torch.tensor([0, 1, 2, 3, 4, 2, 0])
    soft = ordinal_targets(y, 0.6)
    assert torch.allclose(soft.sum(-1), torch.ones(7)) and torch.equal(soft.argmax(-1), y)
    assert soft[0, 1] > soft[0, 2] > soft[0, 3]  # neighbours first
    head = SentimentHead(8, 0.0, ordinal_sigma=0.6)
    assert torch.allclose(head.loss({"logits": logits}, y), F.cross_entropy(logits, soft))  # torch's soft-target CE
    sharp = SentimentHead(8, 0.0, ordinal_sigma=0.05)  # a narrow Gaussian is one-hot
    assert torch.allclose(sharp.loss({"logits": logits}, y), F.cross_entropy(logits, y), atol=1e-5)


def test_multi_sample_dropout_averages_the_loss_over_masks():
    torch.manual_seed(0)
    head = SentimentHead(8, dropout=0.5, samples=4).train()
    emb, labels = torch.randn(6, 8), torch.tensor([0, 1, 2, 3, 4, 0])
    out = head(emb)
    assert out["sample_logits"].shape == (4, 6, 5) and torch.allclose(out["logits"], out["sample_logits"].mean(0))
    assert not torch.allclose(out["sample_logits"][0], out["sample_logits"][1])  # different masks
    expected = sum(torch.nn.functional.cross_entropy(lg, labels) for lg in out["sample_logits"]) / 4
    assert head.loss(out, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    head.eval()  # no dropout at inference: one pass, the plain classifier
    assert torch.equal(head(emb)["logits"], head.classifier(emb))


def test_r_drop_adds_the_symmetric_kl_of_the_two_passes():
    head = SentimentHead(4, rdrop=0.7)
    labels = torch.tensor([1, 3])
    logits = torch.tensor([[2.0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [1.0, 1, 0, 0, 0], [0, 0, 0, 2, 0]])  # (2B, 5)
    p, q = logits.softmax(-1).chunk(2)
    kl = lambda a, b: (a * (a / b).log()).sum(-1).mean()  # noqa: E731  KL(a || b), mean over the batch
    ce = torch.nn.functional.cross_entropy(logits, labels.repeat(2))
    expected = ce + 0.7 * (kl(p, q) + kl(q, p)) / 2
    assert head.loss({"logits": logits}, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    same = logits[:2].repeat(2, 1)  # identical passes: no KL, just the cross-entropy of both copies
    assert head.loss({"logits": same}, labels).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits[:2], labels).item(), rel=1e-6)


def test_r_drop_doubles_sentiment_batches_in_training_only():
    from minbert.config import BertConfig
    from minbert.model import BertModel
    from minbert.multitask import MultitaskConfig, MultitaskModel
    bert = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=32, max_position_embeddings=32))
    model = MultitaskModel(bert, MultitaskConfig(sst_rdrop=1.0))
    ids, mask = torch.randint(5, 50, (3, 7)), torch.ones(3, 7, dtype=torch.long)
    torch.manual_seed(0)
    out = model.train().run_task("sst", ids, mask)
    assert out["logits"].shape == (6, 5)
    assert not torch.allclose(out["logits"][:3], out["logits"][3:])  # the two copies saw different dropout
    assert model.sst.loss(out, torch.tensor([0, 1, 2])).item() > 0
    assert model.eval().run_task("sst", ids, mask)["logits"].shape == (3, 5)


def test_paraphrase_threshold_shifts_the_served_logit_only():
    head = ParaphraseHead(8, kind="features")
    u, v = torch.randn(5, 8), torch.randn(5, 8)
    raw = head.train()(u, v)["logit"]
    head.threshold.fill_(0.75)
    torch.testing.assert_close(head(u, v)["logit"], raw)  # training never sees the threshold
    torch.testing.assert_close(head.eval()(u, v)["logit"], raw - 0.75)
    cross = ParaphraseHead(8, kind="cross").eval()
    cross.threshold.fill_(-1.0)
    torch.testing.assert_close(cross.forward_joint(u)["logit"], cross.joint(u).squeeze(-1) + 1.0)


def test_features_head_is_the_mean_of_both_sentence_orders():
    torch.manual_seed(0)
    head = ParaphraseHead(8, kind="features").eval()
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
    model = torch.nn.ModuleDict({"para": ParaphraseHead(8)})
    old = {k: v for k, v in model.state_dict().items() if k != "para.threshold"}  # saved before it existed
    load_weights(model, {**old, "para.threshold": torch.tensor(0.5)})
    assert float(model.para.threshold) == 0.5  # present: loaded as saved
    model.para.threshold.fill_(2.0)
    load_weights(model, old)
    assert float(model.para.threshold) == 2.0  # absent: keeps the built model's value (0 for a fresh build)
    with pytest.raises(RuntimeError, match="scale"):  # any other missing weight is still an error
        load_weights(model, {k: v for k, v in old.items() if k != "para.scale"})
