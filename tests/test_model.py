"""The encoder against transformers.BertModel and sentence_transformers on the same weights."""
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from minbert import BertConfig, BertModel
from minbert.config import ConfigError
from minbert.pretrained import WeightLoadError

PAIRS = [("A man is playing a guitar.", "Someone plays an instrument on stage, loudly and happily."),
         ("How do I learn Python quickly?", "What is the fastest way to learn Python?"),
         ("short", "x"),
         ("The movie's first half drags, but the ending is worth the wait!", "Terrible.")]


@pytest.fixture(scope="module")
def hf_model(model_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.BertModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def batch(tokenizer):
    return tokenizer([a for a, _ in PAIRS], [b for _, b in PAIRS])


@pytest.mark.parametrize("output_attentions", [False, True])
def test_matches_transformers(base_model, hf_model, batch, output_attentions):
    assert batch.attention_mask.min() == 0  # the batch really is padded
    with torch.no_grad():
        ours = base_model(**batch.model_inputs(), output_attentions=output_attentions)
        ref = hf_model(**batch.model_inputs(), output_attentions=output_attentions)
    real = batch.attention_mask.bool()  # rows at padding positions carry no meaning; compare real tokens
    torch.testing.assert_close(ours.last_hidden_state[real], ref.last_hidden_state[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.pooler_output, ref.pooler_output, atol=1e-5, rtol=0)
    if output_attentions:
        assert len(ours.attentions) == 6 and ours.attentions[0].shape == (4, 12, *batch.input_ids.shape[1:] * 2)
        for a, r in zip(ours.attentions, ref.attentions):
            torch.testing.assert_close(a, r, atol=1e-5, rtol=0)
    else:
        assert ours.attentions is None


def test_explicit_and_fused_attention_agree(base_model, batch):
    with torch.no_grad():
        fused = base_model(**batch.model_inputs())
        explicit = base_model(**batch.model_inputs(), output_attentions=True)
    real = batch.attention_mask.bool()
    torch.testing.assert_close(fused.last_hidden_state[real], explicit.last_hidden_state[real], atol=1e-5, rtol=0)
    probs = explicit.attentions[-1]
    torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:-1]), atol=1e-5, rtol=0)
    pad = (batch.attention_mask == 0)[:, None, None, :].expand_as(probs)  # padded keys get no attention
    assert pad.any() and probs[pad].max() < 1e-6


def test_mean_pooled_embedding_matches_sentence_transformers(base_model, tokenizer, model_dir):
    st = pytest.importorskip("sentence_transformers")
    sentences = [s for pair in PAIRS for s in pair]
    ref = st.SentenceTransformer(str(model_dir), device="cpu").encode(sentences, convert_to_tensor=True)
    b = tokenizer(sentences)
    with torch.no_grad():
        h = base_model(**b.model_inputs()).last_hidden_state
    m = b.attention_mask[..., None].float()
    emb = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    torch.testing.assert_close(emb, ref.float(), atol=1e-5, rtol=0)


def _write_dir(tmp_path, config: dict, state: dict, fmt="safetensors"):
    (tmp_path / "config.json").write_text(json.dumps(config))
    if fmt == "safetensors":
        save_file(state, str(tmp_path / "model.safetensors"))
    else:
        torch.save(state, tmp_path / "pytorch_model.bin")
    return tmp_path


TINY = dict(model_type="bert", vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=32, max_position_embeddings=32)


def test_loads_pytorch_bin_with_prefix_heads_and_legacy_names(tmp_path):
    src = BertModel(BertConfig.from_dict(TINY))
    state = {f"bert.{k}".replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
             for k, v in src.state_dict().items()}
    state["cls.predictions.bias"] = torch.zeros(50)  # pre-training heads are not encoder weights
    model = BertModel.from_pretrained(_write_dir(tmp_path, TINY, state, fmt="bin"))
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_bad_weights_listed_in_one_error(tmp_path):
    state = BertModel(BertConfig.from_dict(TINY)).state_dict()
    state.pop("pooler.dense.bias")
    state["encoder.layer.0.extra.weight"] = torch.zeros(1)
    state["embeddings.word_embeddings.weight"] = torch.zeros(51, 16)
    with pytest.raises(WeightLoadError) as e:
        BertModel.from_pretrained(_write_dir(tmp_path, TINY, state))
    msg = str(e.value)
    assert "pooler.dense.bias" in msg and "encoder.layer.0.extra.weight" in msg and "(51, 16)" in msg


def test_non_bert_config_is_rejected(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    with pytest.raises(ConfigError, match="not a BERT config"):
        BertModel.from_pretrained(tmp_path)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        BertModel.from_pretrained(tmp_path)


def test_default_weights_are_all_minilm(model_dir):
    cfg = BertConfig.from_json(model_dir / "config.json")
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size) == (6, 384, 12, 30522)
    assert set(load_file(str(model_dir / "model.safetensors"))) >= {"encoder.layer.5.output.LayerNorm.weight"}


def test_head_mask_all_ones_is_no_mask_and_zeros_match_a_hand_reference(base_model, batch):
    import math
    inputs = batch.model_inputs()
    with torch.no_grad():
        plain = base_model(**inputs, output_attentions=True)
        ones = base_model(**inputs, output_attentions=True, head_mask=torch.ones(6, 12))
        fused_ones = base_model(**inputs, head_mask=torch.ones(6, 12))
        assert torch.equal(plain.last_hidden_state, ones.last_hidden_state)
        assert all(torch.equal(a, b) for a, b in zip(plain.attentions, ones.attentions))
        fused = base_model(**inputs).last_hidden_state
        assert torch.equal(fused_ones.last_hidden_state, fused)  # the fused path too
        mask = torch.ones(6, 12)
        mask[0, 3] = mask[0, 7] = 0
        masked = base_model(**inputs, head_mask=mask).last_hidden_state
        # by hand: layer 0 with the context of heads 3 and 7 set to zero, then layers 1..5 as they are
        x = base_model.embeddings(inputs["input_ids"], inputs["token_type_ids"])
        bias = (1.0 - inputs["attention_mask"][:, None, None, :].float()) * torch.finfo(torch.float).min
        layer0, att = base_model.encoder.layer[0], base_model.encoder.layer[0].attention.self
        q, k, v = (att.split_heads(f(x)) for f in (att.query, att.key, att.value))
        ctx = ((q @ k.transpose(-1, -2)) / math.sqrt(att.head_size) + bias).softmax(-1) @ v  # (B, 12, T, 32)
        ctx[:, [3, 7]] = 0
        a = layer0.attention.output(ctx.transpose(1, 2).reshape(*x.shape), x)
        h = layer0.output(layer0.intermediate(a), a)
        for layer in base_model.encoder.layer[1:]:
            h, _ = layer(h, bias, False)
    real = batch.attention_mask.bool()
    torch.testing.assert_close(masked[real], h[real], atol=1e-5, rtol=0)
    assert (masked[real] - plain.last_hidden_state[real]).abs().max() > 1e-3  # the heads did matter
    with pytest.raises(ValueError, match="head_mask must have shape"):
        base_model(**inputs, head_mask=torch.ones(12, 6))
