"""The Sentiment answer warns when the tokenizer made [UNK] tokens (emoji) or the text is mostly not in ASCII."""
import pytest

from analysis.studio.input_notes import UNK, input_note, non_ascii_share
from tests.app_server import CHECKPOINT


def test_the_notes_by_hand():
    assert non_ascii_share("Это фильм, ok") == pytest.approx(8 / 10)  # 8 Cyrillic letters of 10
    assert non_ascii_share("très bien") == pytest.approx(1 / 8) and non_ascii_share("123 !") == 0
    assert input_note("A fine film.", ["[CLS]", "a", "fine", "film", ".", "[SEP]"]) == ""
    note = input_note("so good 😍", ["[CLS]", "so", "good", UNK, "[SEP]"])
    assert "1 of 5 tokens are [UNK]" in note and "English" not in note.split("[UNK]:")[0]
    assert "not English" in input_note("Это ужасный фильм.", ["[CLS]", "э", "[SEP]"])


@pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")
def test_the_sentiment_answer_carries_them():
    from analysis.studio.service import Studio
    studio = Studio(CHECKPOINT, offline=True)
    msg, r = studio.sentiment_answer("I loved it 😍")
    assert UNK in r["tokens"] and f"of {len(r['tokens'])} tokens are [UNK]" in msg
    assert "not English" in studio.sentiment_answer("Это ужасный фильм.")[0]
    plain, _ = studio.sentiment_answer("A gorgeous, witty film.")
    assert "⚠️" not in plain
