"""The app, live on loopback, driven through gradio_client: every endpoint and the bad inputs."""
import subprocess
import sys

import pytest

from app_server import CHECKPOINT, AppServer

pytestmark = pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")


@pytest.fixture(scope="module")
def server():
    with AppServer() as s:
        yield s


@pytest.fixture(scope="module")
def studio():
    """The app's logic in-process, for the HTML that the UI shows but no API returns."""
    from analysis.studio import Studio
    return Studio(CHECKPOINT)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server.url, verbose=False)


def test_starts_fast_and_small(server):
    assert server.startup_s <= 15, server.startup_s
    assert server.rss_mb() <= 1500


def test_sentiment_and_its_attributions(client):
    msg, plot, data = client.predict("A gorgeous, witty and moving film.", api_name="/sentiment")
    assert msg.startswith("**Predicted:") and abs(sum(data["probs"]) - 1) < 1e-4 and plot is not None
    ex = client.predict("A gorgeous, witty and moving film.", api_name="/sentiment_explain")
    assert ex["label"] == data["label"] and ex["tokens"] == data["tokens"] and "gorgeous" in ex["tokens"]
    assert len(ex["contributions"]) == len(ex["tokens"]) and "integrated gradients" in ex["method"]
    c = ex["completeness"]  # IG's axiom: contributions sum to logit(input) - logit(baseline)
    assert abs(sum(ex["contributions"]) - c["sum"]) < 1e-4
    assert abs(c["sum"] - (c["logit"] - c["baseline_logit"])) <= 0.05 * abs(c["logit"] - c["baseline_logit"]) + 0.02
    assert client.predict(" ", api_name="/sentiment_explain")["error"].startswith("Please enter text")


def test_paraphrase_similarity_cross_task(client):
    msg, _, data = client.predict("How do I learn Python?", "What is the best way to learn Python?", api_name="/paraphrase")
    assert -1 <= data["cosine"] <= 1 and 0 <= data["probability"] <= 1 and "Quora" in msg
    msg, _, data = client.predict("A man plays guitar.", "A man is playing a guitar.", api_name="/similarity")
    assert 0 <= data["score"] <= 5 and len(data["alignment"]) == len(data["tokens1"])
    msg, _, data = client.predict("I loved this film.", "I hated this film.", api_name="/cross_task")
    assert "flags" in data and len(data["sentiment1"]) == 5


def test_attention(client):
    out = client.predict("The cat sat.", "", api_name="/attention")
    ft, base = out["finetuned"], out["base"]
    T = len(ft["tokens"])
    assert ft["tokens"][0] == "[CLS]" and len(ft["attentions"]) == 6 and len(ft["attentions"][0][0]) == T
    assert len(base["entropy"]) == 6 and len(base["entropy"][0]) == 12


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_message(client, text):
    msg, plot, data = client.predict(text, api_name="/sentiment")
    assert msg.startswith("⚠️") and "empty" in msg and plot is None and data is None


def test_missing_pair_sentence_is_a_message(client):
    msg, _, data = client.predict("Only one sentence.", "", api_name="/paraphrase")
    assert msg.startswith("⚠️") and "sentence 2" in msg and data is None
    msg, _, _ = client.predict("", "x", api_name="/similarity")
    assert "sentence 1" in msg


def test_long_text_is_truncated_with_a_note(client):
    msg, _, data = client.predict("word " * 800, api_name="/sentiment")
    assert data["truncated"] and "512" in msg and len(data["tokens"]) == 512


@pytest.mark.parametrize("text", ["<script>alert('x')</script> <img src=x onerror=alert(1)> great film",
                                  "最高の映画でした 😍🔥", "Отличный фильм", "../../../../etc/passwd"])
def test_odd_inputs_are_handled_and_escaped(studio, client, text):
    msg, _, data = client.predict(text, api_name="/sentiment")
    assert data is not None and "<script>" not in msg and "<img" not in msg
    highlight = studio.sentiment_highlight(text)  # the HTML the Sentiment tab shows
    assert "<script>" not in highlight and "<img" not in highlight and "span" in highlight


def test_importing_app_starts_nothing():
    code = "import time, app; t = time.time(); import gradio; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=str(CHECKPOINT.parent.parent))
    assert r.returncode == 0 and r.stdout.strip().endswith("ok") and "Running on" not in r.stdout
