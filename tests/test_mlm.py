"""MLM masking statistics and the tied decoder."""
import torch

from minbert.train.mlm import IGNORE, MLMModel, mask_tokens


def test_masking_statistics(tokenizer, data_dir):
    from minbert.data import read_task_file
    texts = [e.text for e in read_task_file(data_dir / "ids-sst-train.csv").examples[:2000]]
    enc = tokenizer(texts, max_length=64)
    g = torch.Generator().manual_seed(0)
    ids, labels = mask_tokens(enc.input_ids, enc.attention_mask, tokenizer.special_ids, tokenizer.mask_id,
                              tokenizer.vocab_size, 0.15, g)
    special = torch.zeros_like(ids, dtype=torch.bool)
    for s in tokenizer.special_ids:
        special |= enc.input_ids == s
    candidates = enc.attention_mask.bool() & ~special
    selected = labels != IGNORE
    assert not (selected & ~candidates).any()  # never [CLS], [SEP], [PAD] or padding
    rate = selected.sum().item() / candidates.sum().item()
    assert 0.14 < rate < 0.16, rate
    assert torch.equal(labels[selected], enc.input_ids[selected])
    to_mask = (ids[selected] == tokenizer.mask_id).float().mean().item()
    kept = (ids[selected] == enc.input_ids[selected]).float().mean().item()
    assert 0.77 < to_mask < 0.83 and 0.08 < kept < 0.12, (to_mask, kept)  # 80% [MASK], ~10% kept (+ rare random hits)
    assert torch.equal(ids[~selected], enc.input_ids[~selected])


def test_decoder_is_tied_and_loss_is_finite(base_model, tokenizer):
    mlm = MLMModel(base_model)
    assert mlm.head.word_embeddings.weight is base_model.embeddings.word_embeddings.weight
    enc = tokenizer(["the movie was great", "a dull, lifeless film"])
    labels = torch.full_like(enc.input_ids, IGNORE)
    labels[:, 2] = enc.input_ids[:, 2]
    ids = enc.input_ids.clone()
    ids[:, 2] = tokenizer.mask_id
    loss = mlm(ids, enc.attention_mask, labels)
    assert torch.isfinite(loss) and loss.item() > 0
