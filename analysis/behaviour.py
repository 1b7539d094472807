"""Behavioural tests of the three built-in heads (minbert.tasks' SST, PARA and STS), CheckList style (Ribeiro et
al., 2020), from templates in code.

    python -m analysis.behaviour --checkpoint checkpoints/minbert-multitask [--out-json F]

Every case is generated here from small word lists (no dataset text). Each test states what must hold;
a case fails when it does not. The fine-tuned model runs beside its pretrained base encoder carrying the
same (fine-tuned) heads, so a failure rate says what fine-tuning changed. Sentiment tests use the raw class
probabilities (temperature 1) and the polarity E[class] = sum_k k * p_k on the 0..4 scale.

The result goes into the checkpoint's dev results (NAME.dev.json, key "behaviour") for the app's
Behaviour tab, and is printed as a table.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

from minbert.cli import add_checkpoint, add_threads, apply_threads, fail
from minbert.atomic import atomic_write_json
from minbert.checkpoint import CheckpointError, load_checkpoint
from minbert.model import BertModel
from minbert.multitask import MultitaskModel
from minbert.tasks import PARA, SST, STS

from analysis.results import store_analysis

CASES = 60  # cases per test (sampled from the template expansions with a fixed seed)
WORST = 10  # failing cases kept per test, most severe first
NOUNS = ["movie", "film", "story", "plot", "acting", "script", "soundtrack", "ending", "cast", "dialogue", "show",
         "performance"]
POS = ["good", "great", "excellent", "wonderful", "amazing", "brilliant", "delightful", "enjoyable", "charming", "superb"]
NEG = ["bad", "terrible", "awful", "boring", "dreadful", "dull", "weak", "poor", "tedious", "horrible"]
INTENS = ["very", "really", "extremely", "incredibly", "truly", "absolutely"]
NAMES = ["John", "Mary", "Ahmed", "Mei", "Carlos", "Priya", "Olga", "Kwame", "Hiroshi", "Fatima", "Lucas", "Aisha"]
CITIES = ["London", "Paris", "Lagos", "Mumbai", "Tokyo", "Chicago", "Cairo", "Lima", "Seoul", "Berlin"]
PRONOUNS = ["He", "She", "They"]
NEUTRAL = [" https://t.co/x7Qb2", " @user", " Rated on a Tuesday.", " #cinema"]
ANTONYMS = [("good", "bad", "fine"), ("great", "terrible", "excellent"), ("happy", "sad", "glad"),
            ("interesting", "boring", "engaging"), ("exciting", "dull", "thrilling"), ("beautiful", "ugly", "lovely"),
            ("easy", "difficult", "simple"), ("cheap", "expensive", "inexpensive"), ("fast", "slow", "quick"),
            ("big", "small", "large"), ("strong", "weak", "powerful"), ("safe", "dangerous", "secure"),
            ("rich", "poor", "wealthy"), ("warm", "cold", "hot"), ("polite", "rude", "courteous")]
SUBJECTS = ["The hotel", "The teacher", "The city", "The car", "The restaurant", "The new phone", "My neighbour",
            "The exam", "The road", "This book"]
ACTORS = [("dog", "man"), ("cat", "mouse"), ("teacher", "student"), ("police", "thief"), ("doctor", "patient"),
          ("boy", "girl"), ("company", "bank"), ("lion", "zebra"), ("mother", "child"), ("player", "coach")]
VERBS = ["bit", "chased", "called", "followed", "helped", "paid", "saw", "thanked", "blamed", "pushed"]
Q_VERBS = ["learn", "improve", "practise", "get better at", "start learning"]
Q_OBJS = ["Python", "my English", "chess", "the guitar", "public speaking", "cooking", "maths", "drawing", "swimming",
          "French"]
PEOPLE = ["man", "woman", "child", "girl", "boy", "chef"]
ACTIVITIES = ["playing a guitar", "riding a horse", "cutting an onion", "reading a book", "swimming in a pool",
              "cooking pasta", "dancing on a stage", "slicing bread"]


# --- scoring -----------------------------------------------------------------------------------------
@dataclass
class Scorer:
    """Raw head outputs of one model (an encoder with the fine-tuned heads) on lists of sentences."""
    model: MultitaskModel
    tok: object
    lock: object = None  # the app's model lock, so live runs queue with other requests

    @torch.inference_mode()
    def _embed(self, texts: list[str], batch: int = 64, task: str | None = None) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tok(texts[i:i + batch], max_length=128)
            with self.lock or contextlib.nullcontext():
                out.append(self.model.embed(**enc.model_inputs(), task=task))
        return torch.cat(out)  # (N, H)

    @torch.inference_mode()
    def sentiment(self, texts: list[str]) -> np.ndarray:
        return self.model.head(SST.key)(self._embed(texts, task=SST.key))["logits"].softmax(-1).numpy()  # (N, 5)

    @torch.inference_mode()
    def pairs(self, a: list[str], b: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(P(paraphrase), STS 0-5 score) of each pair (a[i], b[i])."""
        emb = self._embed(list(a) + list(b))
        u, v = emb[:len(a)], emb[len(a):]
        return (self.model.head(PARA.key)(u, v)["logit"].sigmoid().numpy(),
                self.model.head(STS.key)(u, v)["score"].numpy())


def base_with_heads(model: MultitaskModel, base_model: str | None = None) -> MultitaskModel:
    """The pretrained encoder the checkpoint started from (None: the bundled MiniLM), carrying its own heads."""
    base = MultitaskModel(BertModel.from_pretrained(base_model), model.config, tuple(model.tasks.values()))
    for key in model.tasks:
        base.head(key).load_state_dict(model.head(key).state_dict())
    return base.eval().requires_grad_(False)


def polarity(probs: np.ndarray) -> np.ndarray:
    return probs @ np.arange(probs.shape[-1])  # E[class] on 0..4


# --- case generation ------------------------------------------------------------------------------------
def _sample(items: list, n: int = CASES, seed: int = 0) -> list:
    items = list(items)
    return random.Random(seed).sample(items, min(n, len(items)))


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    i = rng.choice([k for k, w in enumerate(words) if len(w) > 3] or [0])
    w = words[i]
    j = rng.randrange(len(w) - 1) if len(w) > 1 else 0
    words[i] = w[:j] + w[j + 1:j + 2] + w[j:j + 1] + w[j + 2:]
    return " ".join(words)


def sentences() -> list[str]:
    """Pair-test sentences: questions and scene descriptions."""
    qs = [f"How can I {v} {o}?" for v, o in itertools.product(Q_VERBS, Q_OBJS)]
    scenes = [f"A {p} is {a}." for p, a in itertools.product(PEOPLE, ACTIVITIES)]
    return _sample(qs, 30, 1) + _sample(scenes, 30, 2)


def near_copy(s: str) -> str:
    """s with one unimportant word changed (the self-similarity test's rival)."""
    return s.replace("How can I", "How do I") if s.startswith("How can I") else s.replace("A ", "The ", 1)


def punct_case(s: str, k: int) -> str:
    return [s.rstrip("?.!"), s.upper(), s.lower(), s[:-1] + "!!" if s[-1] in "?." else s + "!", s.replace(" ", "  ")][k % 5]


# --- the tests --------------------------------------------------------------------------------------------
def _sent_dir(name, desc, pairs, scorer, tol):
    """Directional sentiment test: polarity(b) must move up (third item True) or down from polarity(a);
    tol > 0 only fails moves the wrong way by more than tol, tol = 0 also fails no move at all."""
    a, b = zip(*[(x, y) for x, y, _ in pairs])
    pa, pb = polarity(scorer.sentiment(list(a))), polarity(scorer.sentiment(list(b)))
    up = np.array([u for _, _, u in pairs])
    move = np.where(up, pb - pa, pa - pb)  # > 0: the right direction
    fail = move <= -tol if tol > 0 else move <= 0
    cases = [{"a": x, "b": y, "a_score": round(float(s), 3), "b_score": round(float(t), 3), "severity": float(-m)}
             for x, y, s, t, m in zip(a, b, pa, pb, move)]
    return _result(name, SST.skill, desc, cases, fail, "polarity of a, polarity of b")


def _sent_inv(name, desc, pairs, scorer):
    """Invariance: the predicted class of b equals that of a."""
    a, b = zip(*pairs)
    qa, qb = scorer.sentiment(list(a)), scorer.sentiment(list(b))
    fail = qa.argmax(-1) != qb.argmax(-1)
    cases = [{"a": x, "b": y, "a_score": int(p.argmax()), "b_score": int(q.argmax()), "severity": float(np.abs(p - q).sum())}
             for x, y, p, q in zip(a, b, qa, qb)]
    return _result(name, SST.skill, desc, cases, fail, "class of a, class of b")


def _result(name: str, task: str, desc: str, cases: list[dict], fail: np.ndarray, scores: str = "") -> dict:
    """scores: what a case's a_score and b_score are."""
    failing = sorted([c for c, f in zip(cases, fail) if f], key=lambda c: -c["severity"])
    return {"test": name, "task": task, "expectation": desc, "scores": scores, "n": len(cases),
            "failures": int(np.sum(fail)),
            "failure_rate": float(np.mean(fail)), "worst": failing[:WORST]}


def sentiment_tests(scorer: Scorer) -> list[dict]:
    base = [(f"The {n} was {adj}.", adj in POS) for n, adj in itertools.product(NOUNS, POS + NEG)]
    neg = [(s, s.replace(" was ", " was not "), not pos) for s, pos in _sample(base, CASES, 3)]
    inten = [(s, s.replace(" was ", f" was {INTENS[i % len(INTENS)]} "), pos) for i, (s, pos) in enumerate(_sample(base, CASES, 4))]
    plain = [s for s, _ in _sample(base, CASES, 5)]
    neutral = [(s, s + NEUTRAL[i % len(NEUTRAL)]) for i, s in enumerate(plain)]
    rng = random.Random(6)
    typo = [(s, _typo(s, rng)) for s in [f"The {n} was {a} and I {v} it." for n, a, v in
                                         _sample(list(itertools.product(NOUNS, POS + NEG, ["loved", "hated", "watched"])), CASES, 7)]]
    swaps = _swap_cases()
    return [
        _sent_dir("negation", "'not' before the adjective moves the polarity the other way (lower for a positive "
                  "adjective, higher for a negative one)", neg, scorer, 0),
        _sent_dir("intensifier", "'very', 'extremely', ... never move the polarity against the adjective by more than "
                  "0.05", inten, scorer, 0.05),
        _sent_inv("neutral addition", "a URL, @user, a hashtag or 'Rated on a Tuesday.' leaves the class unchanged",
                  neutral, scorer),
        _sent_inv("typo", "swapping two adjacent letters in one word leaves the class unchanged", typo, scorer),
        _sent_inv("name / place / pronoun swap", "another name, city or pronoun leaves the class unchanged", swaps, scorer),
    ]


def _swap_cases() -> list[tuple[str, str]]:
    rng = random.Random(8)
    out = []
    for k in range(CASES):
        n, a = rng.choice(NOUNS), rng.choice(POS + NEG)
        kind = k % 3
        pool_, tpl = [(NAMES, "{x} said the {n} was {a}."), (CITIES, "I saw the {n} in {x} and it was {a}."),
                      (PRONOUNS, "{x} thought the {n} was {a}.")][kind]
        x, y = rng.sample(pool_, 2)
        out.append((tpl.format(x=x, n=n, a=a), tpl.format(x=y, n=n, a=a)))
    return out


class PairRules(NamedTuple):
    """What the pair tests expect of one pair head's output."""
    symmetry: float  # largest |f(a, b) - f(b, a)|
    unit: str  # what f is
    order_below: float  # a pair with who-did-what-to-whom swapped must score below this
    order: str  # that rule in words
    variant: str  # what a punctuation / case variant must keep, in words
    variant_margin: Callable  # (f(a, a), f(a, variant)) -> how far the variant fails (> 0: it fails)


PAIR_RULES = {  # the pair heads in the order Scorer.pairs returns them: paraphrase, then similarity
    PARA.skill: PairRules(0.01, "P", 0.5, "swapping who did what to whom is not a paraphrase (P < 0.5)",
                          "stays a paraphrase (P >= 0.5)", lambda same, variant: 0.5 - variant),
    STS.skill: PairRules(0.05, "score", 4.0, "swapping who did what to whom scores below 4 ('mostly equivalent')",
                         "f(a, a) - f(a, variant) <= 0.25", lambda same, variant: same - variant - 0.25),
}


def pair_tests(scorer: Scorer) -> list[dict]:
    ss = sentences()
    rng = random.Random(9)
    others = [rng.choice([t for t in ss if t != s]) for s in ss]
    sym_a, sym_b = ss, others
    p_ab, s_ab = scorer.pairs(sym_a, sym_b)
    p_ba, s_ba = scorer.pairs(sym_b, sym_a)
    near = [near_copy(s) for s in ss]
    p_self, s_self = scorer.pairs(ss, ss)
    p_near, s_near = scorer.pairs(ss, near)
    order = [(f"The {x} {v} the {y}.", f"The {y} {v} the {x}.") for (x, y), v in
             _sample(list(itertools.product(ACTORS, VERBS)), CASES, 10)]
    p_ord, s_ord = scorer.pairs(*map(list, zip(*order)))
    ant = [(f"{s} is {a}.", f"{s} is {b}.", f"{s} is {c}.") for s, (a, b, c) in
           _sample(list(itertools.product(SUBJECTS, ANTONYMS)), CASES, 11)]
    p_ant, s_ant = scorer.pairs([a for a, _, _ in ant], [b for _, b, _ in ant])
    p_syn, s_syn = scorer.pairs([a for a, _, _ in ant], [c for _, _, c in ant])
    pc = [punct_case(s, k) for k, s in enumerate(ss)]
    p_pc, s_pc = scorer.pairs(ss, pc)
    out = []
    for (head, r), (f_ab, f_ba, f_self, f_near, f_ord, f_ant, f_syn, f_pc) in zip(PAIR_RULES.items(), (
            (p_ab, p_ba, p_self, p_near, p_ord, p_ant, p_syn, p_pc), (s_ab, s_ba, s_self, s_near, s_ord, s_ant, s_syn, s_pc))):
        sym_tol = r.symmetry
        out += [
            _pair_result("symmetry", head, f"|f(a, b) - f(b, a)| <= {sym_tol} ({r.unit})", zip(sym_a, sym_b, f_ab, f_ba),
                         np.abs(f_ab - f_ba) - sym_tol, scores="f(a, b), f(b, a)"),
            _pair_result("self is maximal", head, "f(a, a) >= f(a, a') for a' = a with one unimportant word changed",
                         zip(ss, near, f_self, f_near), f_near - f_self, scores="f(a, a), f(a, b)"),
            _pair_result("word order", head, r.order, ((a, b, f, f) for (a, b), f in zip(order, f_ord)),
                         f_ord - r.order_below, scores="f(a, b), f(a, b)"),
            _pair_result("antonym swap", head, "f(a, antonym of a) < f(a, synonym of a)",
                         ((a, b, x, y) for (a, b, _), x, y in zip(ant, f_ant, f_syn)), f_ant - f_syn, strict=False,
                         scores="f(a, b = antonym), f(a, synonym)"),
            _pair_result("punctuation / case", head, r.variant, zip(ss, pc, f_self, f_pc), r.variant_margin(f_self, f_pc),
                         scores="f(a, a), f(a, b)"),
        ]
    return out


def _pair_result(name: str, head: str, desc: str, rows, margin: np.ndarray, strict: bool = True,
                 scores: str = "") -> dict:
    """A case fails where margin > 0 (or >= 0 when strict is False); severity = the margin."""
    rows = list(rows)
    fail = margin > 0 if strict else margin >= 0
    cases = [{"a": a, "b": b, "a_score": round(float(x), 3), "b_score": round(float(y), 3), "severity": float(m)}
             for (a, b, x, y), m in zip(rows, margin)]
    return _result(name, head, desc, cases, fail, scores)


def run_suite(scorer: Scorer) -> list[dict]:
    return sentiment_tests(scorer) + pair_tests(scorer)


# --- the user's own template ------------------------------------------------------------------------------
LEXICON = {"noun": NOUNS, "pos_adj": POS, "neg_adj": NEG, "adj": POS + NEG, "intens": INTENS, "name": NAMES,
           "city": CITIES, "pronoun": PRONOUNS, "subject": SUBJECTS, "person": PEOPLE, "activity": ACTIVITIES,
           "topic": Q_OBJS}
MAX_TEMPLATE_CASES = 200  # a live run scores at most this many cases (about a second)
EXPECTATIONS = {  # name -> (pair template?, check of the outputs, margin = how badly it fails)
    "positive (class 3-4)": (False, lambda p: 2.5 - polarity(p)),
    "negative (class 0-1)": (False, lambda p: polarity(p) - 1.5),
    "neutral (class 2)": (False, lambda p: np.abs(polarity(p) - 2) - 0.5),
    "paraphrase (P >= 0.5)": (True, lambda pp, ss: 0.5 - pp),
    "not a paraphrase (P < 0.5)": (True, lambda pp, ss: pp - 0.5 + 1e-9),
    "similar (score >= 4)": (True, lambda pp, ss: 4 - ss),
    "dissimilar (score < 2)": (True, lambda pp, ss: ss - 2 + 1e-9),
}


class TemplateError(ValueError):
    """A template the user can fix; the message says how."""


def parse_fills(text: str | None) -> dict[str, list[str]]:
    """'key: a, b, c' lines -> {key: [a, b, c]}; they add to (or replace) the built-in word lists."""
    fills = {}
    for k, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, vals = line.partition(":")
        words = [w.strip() for w in vals.split(",") if w.strip()]
        if not sep or not re.fullmatch(r"\w+", key.strip()) or not words:
            raise TemplateError(f"fill line {k} should look like 'key: word, word, word'")
        fills[key.strip()] = words[:100]
    return fills


def expand(template: str, fills: dict[str, list[str]], limit: int = MAX_TEMPLATE_CASES, seed: int = 0) -> list[dict]:
    """Every filling of the {key} placeholders (a seeded sample of at most `limit`), as {key: word} dicts."""
    keys = list(dict.fromkeys(re.findall(r"{(\w+)}", template)))
    lex = {**LEXICON, **fills}
    missing = [k for k in keys if k not in lex]
    if missing:
        raise TemplateError(f"no word list for {', '.join('{' + k + '}' for k in missing)}: add a fill line such as "
                            f"'{missing[0]}: word, word' (built in: {', '.join(sorted(LEXICON))})")
    total = int(np.prod([len(lex[k]) for k in keys])) if keys else 1
    if total <= limit:
        combos = list(itertools.product(*(lex[k] for k in keys)))
    else:
        rng = random.Random(seed)
        combos = list(dict.fromkeys(tuple(rng.choice(lex[k]) for k in keys) for _ in range(limit * 3)))[:limit]
    return [dict(zip(keys, c)) for c in combos]


def fill(part: str, words: dict[str, str]) -> str:
    """Replace each {key} by its word; nothing else in the user's text is interpreted (no str.format)."""
    return re.sub(r"{(\w+)}", lambda m: words[m.group(1)], part)


def run_template(scorer: Scorer, template: str, fills_text: str, expectation: str) -> dict:
    """The user's test: a template (with 'sentence 1 ||| sentence 2' for pairs) and an expectation."""
    template = (template or "").strip()[:500]
    if not template:
        raise TemplateError("write a template, e.g. 'The {noun} was {pos_adj}.'")
    if expectation not in EXPECTATIONS:
        raise TemplateError(f"pick an expectation: {', '.join(EXPECTATIONS)}")
    is_pair, check = EXPECTATIONS[expectation]
    parts = [p.strip() for p in template.split("|||")]
    if is_pair != (len(parts) == 2) or any(not p for p in parts):
        raise TemplateError("a paraphrase or similarity expectation needs 'sentence 1 ||| sentence 2'" if is_pair else
                            "a sentiment expectation needs one sentence (no '|||')")
    combos = expand(template, parse_fills(fills_text))
    texts = [[fill(p, c) for p in parts] for c in combos]
    if is_pair:
        pp, ss = scorer.pairs([t[0] for t in texts], [t[1] for t in texts])
        margin, shown = check(pp, ss), list(zip(pp, ss))
    else:
        probs = scorer.sentiment([t[0] for t in texts])
        margin, shown = check(probs), [(int(p.argmax()), float(polarity(p[None])[0])) for p in probs]
    rows = [{"case": " ||| ".join(t), "outputs": o, "fails": bool(m > 0), "severity": float(m)}
            for t, o, m in zip(texts, shown, margin)]
    rows.sort(key=lambda r: -r["severity"])
    fails = sum(r["fails"] for r in rows)
    return {"n": len(rows), "failures": fails, "failure_rate": fails / len(rows), "rows": rows,
            "outputs": "P(paraphrase), STS score" if is_pair else "class, polarity (0-4)"}


# --- CLI ------------------------------------------------------------------------------------------------
def run(checkpoint: Path, with_base: bool = True) -> dict:
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.model.eval().requires_grad_(False)
    out = {"weights_sha256": ckpt.meta["weights_sha256"], "cases_per_test": CASES,
           "finetuned": run_suite(Scorer(model, ckpt.tokenizer))}
    if with_base:
        base = base_with_heads(model, ckpt.meta.get("train_config", {}).get("base_model"))
        out["base"] = run_suite(Scorer(base, ckpt.tokenizer))
    return out


def table(res: dict) -> str:
    base = {(r["task"], r["test"]): r for r in res.get("base", [])}
    lines = ["| task | test | cases | fine-tuned fails | base fails |", "|---|---|---|---|---|"]
    for r in res["finetuned"]:
        b = base.get((r["task"], r["test"]))
        base_fails = f"{b['failure_rate']:.1%}" if b else "n/a"
        lines.append(f"| {r['task']} | {r['test']} | {r['n']} | {r['failure_rate']:.1%} | {base_fails} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.behaviour", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads(ap)
    add_checkpoint(ap)
    ap.add_argument("--out-json", default=None, help="also write the whole result (every test, worst cases) here")
    ap.add_argument("--no-base", action="store_true", help="skip the pretrained-base comparison")
    ap.add_argument("--no-store", action="store_true", help="do not write into the checkpoint's dev results")
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    try:
        res = run(Path(a.checkpoint), not a.no_base)
        if a.out_json:
            atomic_write_json(a.out_json, res)
        if not a.no_store:
            print(f"wrote {store_analysis(a.checkpoint, 'behaviour', res)}")
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        return fail(e)
    print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
