"""Sentiment's private top layers (--sst-layers): where SST's sentences go, where its gradients go, and that
the copies survive checkpoints, layer-wise learning rates, head masks and int8."""
import pytest
import torch

from minbert.config import BertConfig
from minbert.model import BertModel
from minbert.multitask import MultitaskConfig, MultitaskModel
from minbert.train.recipe import parse_args
from tests.tiny_recipe import TINY_RECIPE


def tiny(sst_layers: int = 1, layers: int = 3) -> MultitaskModel:
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                                intermediate_size=32, max_position_embeddings=32))
    return MultitaskModel(bert, MultitaskConfig(sst_layers=sst_layers)).eval()


def inputs(n: int = 4, t: int = 7) -> dict:
    torch.manual_seed(1)
    return {"input_ids": torch.randint(5, 50, (n, t)), "attention_mask": torch.ones(n, t, dtype=torch.long)}


def test_the_copies_start_equal_and_only_sentiment_runs_through_them():
    model, x = tiny(), inputs()
    assert model.layers("sst")[:2] == list(model.bert.encoder.layer)[:2]
    assert model.layers("sst")[2] is model.sst_encoder[0] and model.layers("sts")[2] is model.bert.encoder.layer[2]
    shared = model.embed(**x)
    torch.testing.assert_close(model.embed(**x, task="sst"), shared)  # copies of the same weights
    with torch.no_grad():
        model.sst_encoder[0].output.dense.weight.add_(torch.randn(16, 32))
    assert not torch.allclose(model.embed(**x, task="sst"), shared)
    torch.testing.assert_close(model.embed(**x, task="para"), shared)  # the pair tasks never see the copy


def test_each_task_trains_only_its_own_top_layer():
    model, x = tiny().train(), inputs()
    out = model.run_task("sst", **x)
    model.sst.loss(out, torch.tensor([0, 1, 2, 3])).backward()
    assert model.bert.encoder.layer[2].output.dense.weight.grad is None  # SST stops below the shared top
    assert model.sst_encoder[0].output.dense.weight.grad.abs().sum() > 0
    assert model.bert.encoder.layer[1].output.dense.weight.grad.abs().sum() > 0  # lower layers stay shared
    model.zero_grad(set_to_none=True)
    out = model.run_task("sts", **inputs(n=4))
    model.sts.loss(out, torch.tensor([1.0, 4.0])).backward()
    assert model.sst_encoder[0].output.dense.weight.grad is None
    assert model.bert.encoder.layer[2].output.dense.weight.grad.abs().sum() > 0


def test_without_private_layers_sentiment_is_unchanged():
    model, x = tiny(0), inputs()
    assert model.sst_encoder is None and model.layers("sst") == list(model.bert.encoder.layer)
    torch.testing.assert_close(model.embed(**x, task="sst"), model.embed(**x))


def test_the_private_layers_round_trip_through_a_checkpoint(tmp_path, tokenizer):
    from minbert.checkpoint import load_checkpoint, save_checkpoint
    model, x = tiny(), inputs()
    with torch.no_grad():
        model.sst_encoder[0].attention.self.query.weight.mul_(2)
    save_checkpoint(tmp_path / "m", model, tokenizer, {}, dtype=torch.float32)
    back = load_checkpoint(tmp_path / "m").model
    assert back.config.sst_layers == 1
    torch.testing.assert_close(back.sst(back.embed(**x, task="sst"))["logits"], model.sst(model.embed(**x, task="sst"))["logits"])


def test_head_masks_reach_sentiments_own_layers():
    from analysis.head_importance import run_layers
    from minbert.model import attention_bias
    model, x = tiny(), inputs()
    with torch.no_grad():
        model.sst_encoder[0].attention.self.value.weight.add_(torch.randn(16, 16))
    mask = torch.ones(3, 2)
    mask[2, 1] = 0  # a head of sentiment's private top layer
    h = run_layers(model.layers("sst"), model.bert.embeddings(x["input_ids"], torch.zeros_like(x["input_ids"])),
                   attention_bias(x["attention_mask"], torch.float32), 0, mask)
    torch.testing.assert_close(h.mean(1), model.embed(**x, head_mask=mask, task="sst"))
    assert not torch.allclose(model.embed(**x, head_mask=mask, task="sst"), model.embed(**x, task="sst"))


def test_reset_copies_the_shared_top_layers_again():
    model, x = tiny(), inputs()
    with torch.no_grad():
        model.bert.encoder.layer[2].intermediate.dense.bias.add_(1.0)  # as an MLM stage would move it
    assert not torch.allclose(model.embed(**x, task="sst"), model.embed(**x))
    model.reset_sst_layers()
    torch.testing.assert_close(model.embed(**x, task="sst"), model.embed(**x))


def test_int8_covers_the_private_layers():
    from minbert.serve.quantize import is_encoder_linear
    model = tiny()
    names = [n for n, m in model.named_modules() if is_encoder_linear(n, m)]
    assert "sst_encoder.0.attention.self.query" in names and "sst_encoder.0.output.dense" in names
    assert len(names) == 6 * 4  # 3 shared layers and 1 copy, six Linears each


def test_bad_counts_get_a_message():
    with pytest.raises(ValueError, match="only 3 layers"):
        tiny(sst_layers=4)
    with pytest.raises(SystemExit):
        parse_args(["--sst-layers", "-1"])


def test_the_attention_view_says_which_top_layer_it_draws(tiny_model_dir, tmp_path, tokenizer):
    from analysis.studio.service import Studio
    from minbert.checkpoint import save_checkpoint
    msgs = {}
    for k in (0, 1):
        model = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(sst_layers=k))
        save_checkpoint(tmp_path / f"m{k}", model, tokenizer, {"train_config": {"base_model": str(tiny_model_dir)}})
        msgs[k] = Studio(tmp_path / f"m{k}", offline=True).attention("a good film", "", 0, 0, False)[0]
    assert "sentiment runs its own copy" in msgs[1] and "sentiment" not in msgs[0]


@pytest.mark.slow
def test_freeze_encoder_freezes_the_private_copies_too(tiny_model_dir, data_dir, tmp_path):
    from minbert.checkpoint import load_checkpoint
    from minbert.train.loop import main as train_main
    base = MultitaskModel(BertModel.from_pretrained(tiny_model_dir), MultitaskConfig(sst_layers=1))
    out = tmp_path / "frozen"
    assert train_main(["--base-model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out-dir", str(out),
                       "--limit", "24", "--batch-size", "8", *TINY_RECIPE, "--quiet",
                       "--epochs", "1", "--freeze-encoder", "--sst-layers", "1", "--sst-dropout", "0"]) == 0
    trained = load_checkpoint(out / "model").model
    for (name, w), ref in zip(trained.sst_encoder.named_parameters(), base.sst_encoder.parameters()):
        torch.testing.assert_close(w.float(), ref.half().float(), rtol=0, atol=0, msg=name)  # fp16 of the start
