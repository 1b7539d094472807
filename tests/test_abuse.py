"""A small version of bench/abuse.py for CI: hostile input to every endpoint, no traceback, bounded memory."""
import pytest

from tests.app_server import CHECKPOINT
from tests.hostile import call, cases, files, tracebacks

pytestmark = [pytest.mark.app, pytest.mark.slow,
              pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")]


def test_hostile_inputs_get_answers_not_tracebacks(live_app, tmp_path):
    from gradio_client import Client
    uploads = files(tmp_path / "uploads", big_mb=25)  # over the 20 MB limit of the pair and labelled-file readers
    before = len(live_app.log())  # the server is shared: judge only what this test's requests wrote
    client = Client(live_app.url, verbose=False)
    outcomes = [(ep, *call(client, ep, args)) for ep, args in cases(56, uploads)]
    rss = live_app.rss_mb()
    alive = call(client, "/sentiment", ("Still alive?",))[1]
    log = live_app.log()[before:]
    assert tracebacks(log) == 0, log[-3000:]
    assert alive == "ok"
    assert {ep for ep, *_ in outcomes} >= {"/sentiment", "/sentiment_explain", "/paraphrase", "/similarity",
                                          "/cross_task", "/attention", "/score_pairs", "/evaluate_file",
                                          "/head_mask", "/behaviour_template", "/compare", "/run_task"}
    slow = [(ep, round(s, 1)) for ep, s, _ in outcomes if s > 20]
    assert not slow, slow
    assert rss <= 1500, rss
    # bad text is answered with a message; only wrong types and oversized uploads may be refused by Gradio itself
    assert sum(o == "message" for *_, o in outcomes) >= 10, outcomes
