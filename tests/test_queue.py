"""Long work waits its turn in Gradio's queue instead of being refused: 8 concurrent long requests get 8
answers, none of them "busy"; only a full queue refuses, and says so."""
import csv
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.app_server import CHECKPOINT, AppServer

pytestmark = [pytest.mark.slow, pytest.mark.app,
              pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")]

SENTENCE = "The first half drags, but the ending is gorgeous, witty and genuinely moving."


def long_requests(tmp_path) -> list[tuple[str, tuple]]:
    """Eight long requests: attributions, attention, a labelled file and many pairs, two of each."""
    from gradio_client import handle_file
    f = tmp_path / "labelled.csv"
    with f.open("w", newline="") as fh:
        csv.writer(fh).writerows([["sentence", "label"], *[[f"{SENTENCE} Take {i}.", i % 5] for i in range(40)]])
    pairs = "\n".join(f"{SENTENCE} ||| A film that is moving in places, take {i}." for i in range(40))
    kinds = [("/sentiment_explain", (SENTENCE,)), ("/attention", (SENTENCE, "", None, None)),
             ("/evaluate_file", (handle_file(str(f)), "sentiment", "", "", "")), ("/score_pairs", (pairs, None))]
    return kinds * 2


def send_all(url: str, work: list[tuple[str, tuple]]) -> list:
    """Every request from its own client at once; an exception comes back as the answer."""
    from gradio_client import Client
    clients = [Client(url, verbose=False) for _ in work]

    def one(i):
        try:
            return clients[i].predict(*work[i][1], api_name=work[i][0])
        except Exception as e:  # noqa: BLE001 - the refusal is what some tests look for
            return e

    with ThreadPoolExecutor(len(work)) as pool:
        return list(pool.map(one, range(len(work))))


def text_of(answer) -> str:
    return str(answer if isinstance(answer, Exception) else (answer[0] if isinstance(answer, (tuple, list)) else answer))


def test_eight_long_requests_all_answered(tmp_path):
    work = long_requests(tmp_path)
    with AppServer() as server:
        answers = send_all(server.url, work)
        log = server.log()
    assert not [a for a in answers if isinstance(a, Exception)], [text_of(a) for a in answers]
    assert not [a for a in answers if "busy" in text_of(a).lower()]
    for (kind, _), a in zip(work, answers):
        if kind == "/sentiment_explain":
            assert len(a["contributions"]) == len(a["tokens"]) and "error" not in a
        elif kind == "/attention":
            assert len(a["finetuned"]["attentions"]) == 6
        elif kind == "/evaluate_file":
            assert a["metrics"]["rows"] == 40 and a["csv"].endswith(".csv")
        else:
            assert len(a["rows"]) == 40
    assert "Traceback" not in log


def test_a_full_queue_refuses_with_a_clear_message(tmp_path):
    work = long_requests(tmp_path)
    with AppServer(args=("--max-queue", "2")) as server:
        answers = send_all(server.url, work)
    refused = [text_of(a) for a in answers if isinstance(a, Exception)]
    answered = [a for a in answers if not isinstance(a, Exception)]
    # one runs, two wait; requests that found the queue full are refused at once, the rest are answered
    assert refused and all("queue is full" in r.lower() for r in refused), refused
    assert len(answered) >= 3 and not [a for a in answered if "busy" in text_of(a).lower()]
