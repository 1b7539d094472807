"""Counterfactual editing (analysis/studio/counterfactual.py): the token diff, the word swaps and their suggestions,
the bounded history and its CSV, input checks, and the comparison against the Predictor itself."""
import numpy as np
import pandas as pd
import pytest
import torch

from analysis import behaviour
from analysis.studio import counterfactual as cf
from minbert.serve.predictor import MAX_CHARS, MAX_TOKENS, InputError
from tests.app_server import CHECKPOINT


def apply(diff, original):
    """Rebuild the edited tokens from the original's and the diff's runs (an independent check of the runs)."""
    out, i = [], 0
    for run in diff:
        assert run["original"] == original[i:i + len(run["original"])]
        i += len(run["original"])
        out += run["original"] if run["op"] == "equal" else run["edited"]
    assert i == len(original)
    return out


# --- the token diff ---------------------------------------------------------------------------------------
def test_token_diff_names_replaced_inserted_and_deleted_tokens():
    a = ["[CLS]", "a", "gorgeous", "film", ".", "[SEP]"]
    b = ["[CLS]", "not", "a", "very", "dull", "film", "[SEP]"]
    diff = cf.token_diff(a, b)
    assert diff == [{"op": "insert", "original": [], "edited": ["not"]},
                    {"op": "equal", "original": ["a"], "edited": ["a"]},
                    {"op": "replace", "original": ["gorgeous"], "edited": ["very", "dull"]},
                    {"op": "equal", "original": ["film"], "edited": ["film"]},
                    {"op": "delete", "original": ["."], "edited": []}]
    assert cf.diff_counts(diff) == {"replaced": 1, "inserted": 1, "deleted": 1}
    assert cf.token_diff(a, a) == [{"op": "equal", "original": a[1:-1], "edited": a[1:-1]}]


def test_token_diff_runs_rebuild_the_edit(tokenizer):
    rng = np.random.default_rng(0)
    vocab = "the a film movie was is not very good bad dull , . and but".split()
    for _ in range(50):
        a, b = (list(rng.choice(vocab, rng.integers(0, 12))) for _ in range(2))
        assert apply(cf.token_diff(a, b), a) == b
    ta, tb = (tokenizer(s).tokens[0] for s in ("An unforgettable film.", "A forgettable, dull film!"))
    assert apply(cf.token_diff(ta, tb), ta[1:-1]) == tb[1:-1]


def test_diff_html_marks_changes_and_escapes_tokens():
    out = cf.diff_html(cf.token_diff(["<b>", "good"], ["<b>", "bad"]))
    assert "&lt;b&gt;" in out and "<b>" not in out
    assert "line-through" in out and "underline" in out and "1 replaced, 0 inserted, 0 deleted" in out


# --- swapping a word ----------------------------------------------------------------------------------------
def test_words_are_numbered_when_repeated_and_swap_hits_that_occurrence():
    text = "The film was good, the end."
    assert cf.words(text) == [("The", 0), ("film", 1), ("was", 2), ("good", 3), ("the (2)", 4), ("end", 5)]
    assert cf.swap(text, 4, "a") == "The film was good, a end."
    assert cf.swap(text, 0, "a") == "A film was good, the end."  # capitalised like the word it replaces
    assert cf.swap(text, 3, cf.DELETE) == "The film was, the end."  # the space before goes
    assert cf.swap("Good film.", 0, cf.DELETE) == "film."
    assert cf.swap(text, 2, "was not") == "The film was not good, the end."
    with pytest.raises(InputError, match="Pick a word"):
        cf.swap(text, 9, "x")
    with pytest.raises(InputError, match="Pick a suggestion"):
        cf.swap(text, 1, None)
    assert cf.Editor.swapped(text, None, "x") == (text, "⚠️ Pick a word of the edited sentence to swap.")


# --- suggestions ------------------------------------------------------------------------------------------------
def test_word_list_suggestions_come_from_the_curated_lists_and_say_so():
    good = cf.word_list_suggestions("Good")
    assert {"word": "bad", "source": "antonym"} in good and {"word": "fine", "source": "synonym"} in good
    assert {s["word"] for s in good if s["source"] == "opposite polarity"} <= set(behaviour.NEG)
    assert {s["word"] for s in good if s["source"] == "same polarity"} <= set(behaviour.POS) - {"good"}
    assert {"word": "happy", "source": "antonym"} in cf.word_list_suggestions("sad")
    assert {"word": "sad", "source": "antonym"} in cf.word_list_suggestions("glad")  # a synonym's antonym
    assert cf.word_list_suggestions("was") == [{"word": "was not", "source": "negation"}]
    assert {s["source"] for s in cf.word_list_suggestions("very")} == {"intensifier"}
    assert cf.word_list_suggestions("film") == []
    words = [s["word"] for s in good]
    assert len(words) == len(set(words)) and "good" not in words


def test_embedding_neighbours_match_a_brute_force_cosine():
    rng = np.random.default_rng(1)
    vocab = ["[PAD]", "good", "bad", "##ly", "fine", "x", "great", "awful", "[unused0]", "nice", "poor", "ok"]
    weight = rng.normal(size=(len(vocab), 8)).astype(np.float32)
    near = cf.EmbeddingNeighbours(weight, vocab)
    got = near("GOOD", k=3)
    cos = torch.nn.functional.cosine_similarity(torch.tensor(weight), torch.tensor(weight[1])[None], dim=1).numpy()
    allowed = [j for j, t in enumerate(vocab) if t.isalpha() and t.islower() and len(t) > 1 and t != "good"]
    want = sorted(allowed, key=lambda j: -cos[j])[:3]
    assert [s["word"] for s in got] == [vocab[j] for j in want]
    assert [s["cosine"] for s in got] == pytest.approx([cos[j] for j in want], abs=1e-3)
    assert {s["source"] for s in got} == {"embedding neighbour"}
    assert near("unknownword") == []


def test_no_mlm_head_ships_so_none_is_offered(model_dir):
    """NO_MLM says neither the checkpoint nor its base has an MLM head: their tensors agree."""
    from safetensors import safe_open
    for path in (CHECKPOINT.with_suffix(".safetensors"), model_dir / "model.safetensors"):
        with safe_open(str(path), "pt") as f:
            keys = list(f.keys())
        assert keys and not [k for k in keys if k.startswith("cls.") or "mlm" in k.lower() or "predictions" in k]
    assert "No masked-language-model guesses" in cf.HELP


# --- the history --------------------------------------------------------------------------------------------------
def row(i, changed=False):
    return {"original": "o", "edited": f"edit {i}", "original_label": "positive", "edited_label": "negative",
            "original_probs": [0.1, 0.1, 0.1, 0.2, 0.5], "edited_probs": [0.5, 0.2, 0.1, 0.1, 0.1],
            "delta_original_class": -0.4, "original_class": "positive", "changed": changed}


def test_history_keeps_the_last_twenty_numbered_and_skips_a_repeat(tmp_path, monkeypatch):
    history = []
    for i in range(25):
        history = cf.add_to_history(history, row(i))
        history = cf.add_to_history(history, row(i))  # the same edit again: not a new row
    assert len(history) == cf.MAX_HISTORY == 20
    assert [h["n"] for h in history] == list(range(6, 26)) and history[-1]["edited"] == "edit 24"
    table = cf.history_table(history)
    assert table[0][:3] == [25, "edit 24", "negative (50%)"] and len(table) == 20  # newest first
    assert table[0][3] == "0.50 0.20 0.10 0.10 0.10" and table[0][4] == "same class as positive; P(positive) -40.0 pts"
    from minbert.tasks import SST
    monkeypatch.setattr(cf.downloads, "root", lambda: tmp_path)
    df = pd.read_csv(cf.history_csv(SST, history, "s1"))
    assert len(df) == 20 and list(df["n"]) == list(range(6, 26))
    assert [f"edited P({c})" for c in SST.classes] == [c for c in df.columns if c.startswith("edited P(")]
    assert cf.history_csv(SST, [], "s1") is None


# --- input checks ---------------------------------------------------------------------------------------------------
def test_bad_input_gets_a_plain_message(tokenizer):
    with pytest.raises(InputError, match="Please enter the edited sentence"):
        cf.checked("  ", "edited sentence", tokenizer)
    with pytest.raises(InputError, match=f"at most {MAX_CHARS:,}"):
        cf.checked("x" * (MAX_CHARS + 1), "edited sentence", tokenizer)
    with pytest.raises(InputError, match=f"reads at most {MAX_TOKENS}"):
        cf.checked("word " * 600, "original sentence", tokenizer)
    assert cf.checked("  A fine film. ", "x", tokenizer) == "A fine film."


# --- against the Predictor --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def editor():
    if not CHECKPOINT.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    from minbert.serve.predictor import Predictor
    return cf.Editor(Predictor(CHECKPOINT))


def test_the_comparison_is_the_predictors_answer_for_each_text(editor):
    text, edited = "A gorgeous, witty film.", "A dull, witty film."
    msg, r = editor.answer(text, edited)
    p = editor.predictor
    for side, t in (("original", text), ("edited", edited)):
        want, att = p.sentiment(t), p.sentiment_attributions(t)
        assert r[side]["probs"] == pytest.approx(want["probs"], abs=1e-6) and r[side]["label"] == want["label"]
        assert r[side]["tokens"] == want["tokens"]
        assert r[side]["contributions"] == pytest.approx(att["contributions"], abs=1e-5)
    assert r["delta_probs"] == pytest.approx(np.subtract(r["edited"]["probs"], r["original"]["probs"]), abs=1e-5)
    assert r["changed"] == (r["original"]["label"] != r["edited"]["label"])
    assert [run["op"] for run in r["token_diff"]] == ["equal", "replace", "equal"]
    assert msg.startswith(f"**Original: {r['original']['label_name']}")


def test_the_view_keeps_the_history_on_bad_input_and_suggests_with_sources(editor, tmp_path, monkeypatch):
    monkeypatch.setattr(cf.downloads, "root", lambda: tmp_path)
    out = editor.view("A gorgeous film.", "A boring film.", [], "s")
    msg, fig, diff, answer, history, table, path = out
    assert fig is not None and "replaced" in diff and len(history) == 1 and table[0][1] == "A boring film."
    bad = editor.view("A gorgeous film.", "", history, "s")
    assert bad[0].startswith("⚠️ Please enter the edited sentence") and bad[1] is None and bad[4] == history
    labels = dict((v, lab) for lab, v in editor.suggestion_choices("A boring film.", 1))
    assert labels["interesting"] == "interesting · antonym" and labels[cf.DELETE].endswith("deletion")
    assert any("embedding neighbour (cosine" in lab for lab in labels.values())
    assert editor.suggestion_choices("A boring film.", 7) == []
    assert editor.highlights("", "x") == ("", "")
