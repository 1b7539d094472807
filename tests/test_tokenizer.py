"""Token ids against the Hugging Face tokenizer of the same directory, on real task sentences."""
import pytest

from minbert.data import read_task_file

SPECIAL = [
    "Café crème, naïve résumé — São Paulo",  # accents
    "I loved it 😍🔥 10/10 👍",  # emoji
    "see https://example.com/a?b=c&d=e#frag or www.test.org",  # URLs
    "THIS IS THE WORST MOVIE EVER MADE!!!",  # all caps
    "北京 東京 서울 Москва مرحبا",  # non-Latin scripts
    "<script>alert('x')</script> &amp; tags",
    "\t  leading and trailing whitespace \n",
    "",
]


@pytest.fixture(scope="module")
def hf_tok(model_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(model_dir))


@pytest.fixture(scope="module")
def real_sentences(data_dir):
    sst = [e.text for e in read_task_file(data_dir / "ids-sst-dev.csv").examples[:150]]
    sts = read_task_file(data_dir / "sts-dev.csv").examples[:40]
    quora = read_task_file(data_dir / "quora-dev.csv").examples[:40]
    return sst + [e.text for e in sts] + [e.text2 for e in quora]


def test_single_sentences_match_hf(tokenizer, hf_tok, real_sentences):
    long = " ".join(real_sentences[:40])  # well over 512 tokens
    texts = real_sentences + SPECIAL + [long]
    assert len(texts) >= 200
    ours = tokenizer(texts, max_length=512)
    ref = hf_tok(texts, max_length=512, truncation=True)["input_ids"]
    for i, ids in enumerate(ref):
        assert ours.input_ids[i, :len(ids)].tolist() == ids, texts[i]
        assert ours.attention_mask[i].sum() == len(ids)
    assert ours.truncated[-1] and not any(ours.truncated[:-1])
    assert ours.input_ids.shape[1] == 512


def test_pairs_match_hf(tokenizer, hf_tok, data_dir):
    rows = read_task_file(data_dir / "quora-dev.csv").examples[:64]
    a, b = [r.text for r in rows], [r.text2 for r in rows]
    ours = tokenizer(a, b, max_length=64)
    ref = hf_tok(a, b, max_length=64, truncation=True)
    for i in range(len(rows)):
        n = len(ref["input_ids"][i])
        assert ours.input_ids[i, :n].tolist() == ref["input_ids"][i]
        assert ours.token_type_ids[i, :n].tolist() == ref["token_type_ids"][i]
        assert ours.input_ids[i, n:].eq(0).all()


def test_tokens_offsets_and_truncation_report(tokenizer):
    b = tokenizer(["Hello, World!"])
    assert b.tokens[0] == ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
    assert "Hello, World!"[slice(*b.offsets[0][3])] == "World"
    assert b.truncated == [False]
    cut = tokenizer(["word " * 50], max_length=16)
    assert cut.truncated == [True] and cut.input_ids.shape == (1, 16)
    assert cut.input_ids[0, -1].item() == tokenizer.sep_id


def test_max_length_is_bounded(tokenizer):
    with pytest.raises(ValueError, match="max_length"):
        tokenizer(["x"], max_length=513)


def test_batch_is_a_mapping_like_hugging_face(tokenizer, base_model):
    import torch
    batch = tokenizer(["A man plays guitar."], pairs=["Someone plays an instrument."], max_length=32)
    assert set(batch.keys()) == {"input_ids", "attention_mask", "token_type_ids"} and "input_ids" in batch
    assert torch.equal(batch["input_ids"], batch.input_ids) and batch["tokens"] == batch.tokens
    with torch.no_grad():
        a = base_model(**batch).last_hidden_state
        b = base_model(batch.input_ids, batch.attention_mask, batch.token_type_ids).last_hidden_state
    assert torch.equal(a, b)
    with pytest.raises(KeyError):
        batch["nope"]
