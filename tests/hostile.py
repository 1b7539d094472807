"""Hostile inputs for every endpoint of the live app, and one gradio_client call that times and classifies
each. Used by tests/test_abuse.py (a few dozen, in CI) and bench/abuse.py (hundreds, with concurrent users)."""
from __future__ import annotations

import random
import time
from pathlib import Path

TEXTS = [
    "", "   \n\t ", "x" * 100_000, "word " * 3000, "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "\x00\x01\x07 control \x1b[31mred\x1b[0m \ufeff", "\u202egnp.exe an RTL override", "e" + "\u0301" * 5000,
    "😀🔥💯" * 2000, "这部电影非常好看。" * 200, "Отличный фильм", "مرحبا بالعالم", "[CLS] [SEP] [MASK] [PAD] [UNK]",
    None, 12345, 3.5, True, ["a", "list"], {"a": "dict"}, "A perfectly ordinary sentence.",
]
PAIR_SECOND = ["", None, "The other sentence.", "y" * 50_000, "[SEP]"]


def files(folder: Path, big_mb: int = 0) -> list[Path]:
    """Malformed and hostile uploads; with big_mb, also one file of that many MB."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"malformed.csv": 'sentence,label\n"unclosed quote,3\nok,9\n,,,,\n', "binary.csv": "\x00\x01\x02" * 1000,
           "empty.csv": "", "header-only.tsv": "sentence\tlabel\n", "bad.jsonl": "{not json}\n[1,2]\n",
           "wrong.xlsx": "PK\x03\x04"}
    paths = []
    for name, text in out.items():
        (folder / name).write_text(text, encoding="utf-8", errors="replace")
        paths.append(folder / name)
    if big_mb:
        big = folder / f"big-{big_mb}mb.csv"
        with big.open("w") as f:
            f.write("sentence1,sentence2,label\n")
            line = "a fairly long sentence for padding,another sentence,1\n"
            f.write(line * (big_mb * 2**20 // len(line) + 1))
        paths.append(big)
    return paths


def cases(n: int, uploads: list[Path], seed: int = 0) -> list[tuple[str, tuple]]:
    """n (endpoint, arguments) pairs cycling through every endpoint; inputs drawn at random (fixed seed), so
    every endpoint meets every hostile text and every kind of second sentence."""
    from gradio_client import handle_file
    rng = random.Random(seed)
    text, second, upload = (lambda: rng.choice(TEXTS)), (lambda: rng.choice(PAIR_SECOND)), (lambda: rng.choice(uploads))
    makers = [
        lambda: ("/sentiment", (text(),)),
        lambda: ("/sentiment_explain", (text(),)),
        lambda: ("/paraphrase", (text(), second())),
        lambda: ("/similarity", (text(), second())),
        lambda: ("/cross_task", (text(), second())),
        lambda: ("/attention", (text(), second(), None, None)),
        lambda: ("/attention", (text(), None, rng.choice([None, 0, 5, 99, -1]), rng.choice([None, 3, 12]))),
        lambda: ("/score_pairs", (f"{text()}\t{second()}\nno tab here", None)),
        lambda: ("/score_pairs", ("", handle_file(str(upload())))),
        lambda: ("/evaluate_file", (handle_file(str(upload())), rng.choice(["sentiment", "similarity"]), "", "", "")),
        lambda: ("/evaluate_file", (None, "nonsense-task", None, None, None)),
        lambda: ("/map_corpus", (handle_file(str(upload())),)),
        lambda: ("/head_mask", (rng.choice([text(), "L0 L1 L2 L3 L4 L5", "99.99", "0.0 " * 5000]), text(), second())),
        lambda: ("/behaviour_template", (text(), rng.choice([text(), "k: " + "w, " * 5000, None]),
                                         rng.choice(["positive (class 3-4)", "paraphrase (P >= 0.5)", text()]))),
        lambda: ("/compare", (text(), rng.choice([text(), "checkpoints/minbert-multitask"]))),
        lambda: ("/run_task", (rng.choice(["sst", "para", "sts", text(), None]), text(), rng.choice([second(), None]))),
    ]
    return [makers[i % len(makers)]() for i in range(n)]


def call(client, endpoint: str, args: tuple) -> tuple[float, str]:
    """(seconds, outcome): "ok", "message" (a clear refusal in the answer), or "rejected: ..." when the
    server refused the request itself (Gradio's upload limit, validation)."""
    t = time.perf_counter()
    try:
        out = client.predict(*args, api_name=endpoint)
    except Exception as e:  # noqa: BLE001 - every refusal is classified, none may crash the caller
        return time.perf_counter() - t, f"rejected: {type(e).__name__}: {str(e)[:160]}"
    first = out[0] if isinstance(out, (tuple, list)) else out
    refused = (isinstance(first, str) and first.startswith("⚠️")) or (isinstance(first, dict) and "error" in first)
    return time.perf_counter() - t, "message" if refused else "ok"


def tracebacks(log: str) -> int:
    return log.count("Traceback (most recent call last)")
