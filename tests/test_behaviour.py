"""Behavioural tests: the suite's size, its pass/fail logic on scorers with known behaviour, the templates."""
import numpy as np
import pytest

from analysis import behaviour as B


class WordScorer:
    """A transparent stand-in model: sentiment from word lists (negation-blind), pair scores from word overlap
    (symmetric and order-blind), with an optional asymmetry."""

    def __init__(self, asymmetric=False):
        self.asymmetric = asymmetric

    def sentiment(self, texts):
        out = []
        for t in texts:
            words = {w.strip(".!?,") for w in t.lower().split()}
            s = 2 + 2 * bool(words & set(B.POS)) - 2 * bool(words & set(B.NEG))
            out.append(np.eye(5)[s])
        return np.array(out)

    def pairs(self, a, b):
        def overlap(x, y):
            x, y = ({w.strip(".!?,") for w in s.lower().split()} for s in (x, y))
            return len(x & y) / len(x | y)
        p = np.array([overlap(x, y) + (0.1 * (x < y) if self.asymmetric else 0) for x, y in zip(a, b)])
        return p, 5 * p


def by_name(results):
    return {(r["task"], r["test"]): r for r in results}


def test_every_test_has_at_least_50_cases_and_is_deterministic():
    r1, r2 = B.run_suite(WordScorer()), B.run_suite(WordScorer())
    assert len(r1) == 15 and all(r["n"] >= 50 for r in r1)
    assert r1 == r2


def test_the_logic_catches_what_the_stand_in_gets_wrong():
    r = by_name(B.run_suite(WordScorer()))
    assert r[("sentiment", "negation")]["failure_rate"] == 1.0  # blind to "not": never moves
    assert r[("sentiment", "neutral addition")]["failure_rate"] == 0.0
    assert r[("paraphrase", "symmetry")]["failure_rate"] == 0.0
    assert r[("paraphrase", "word order")]["failure_rate"] == 1.0  # bag of words: a swap looks identical
    assert r[("similarity", "self is maximal")]["failure_rate"] == 0.0
    worst = r[("sentiment", "negation")]["worst"]
    assert len(worst) == B.WORST and " not " in worst[0]["b"]
    asym = by_name(B.run_suite(WordScorer(asymmetric=True)))
    assert asym[("paraphrase", "symmetry")]["failure_rate"] > 0.5


def test_templates_expand_and_refuse_clearly():
    cases = B.expand("{name} liked the {food}.", B.parse_fills("food: soup, pizza"))
    assert len(cases) == len(B.NAMES) * 2
    assert len(B.expand("{noun} {adj} {name} {city}", {})) == B.MAX_TEMPLATE_CASES
    for tpl, fills, msg in [("The {dish} was bad.", "", "no word list for {dish}"),
                            ("x", "food soup", "should look like"), ("", "", "write a template")]:
        with pytest.raises(B.TemplateError, match=msg):
            B.run_template(WordScorer(), tpl, fills, "negative (class 0-1)")
    with pytest.raises(B.TemplateError, match="needs 'sentence 1 \\|\\|\\| sentence 2'"):
        B.run_template(WordScorer(), "The {noun} was good.", "", "paraphrase (P >= 0.5)")
    res = B.run_template(WordScorer(), "The {noun} was not {pos_adj}.", "", "negative (class 0-1)")
    assert res["failure_rate"] == 1.0 and res["n"] == len(B.NOUNS) * len(B.POS)
    res = B.run_template(WordScorer(), "The {noun} is red. ||| The {noun} is red.", "", "paraphrase (P >= 0.5)")
    assert res["failures"] == 0


@pytest.mark.parametrize("tpl", ["{} was {noun}.", "{noun.__class__.__mro__} {0}", "{noun!r} {noun:>99999}", "}{"])
def test_templates_never_reach_str_format(tpl):
    try:
        res = B.run_template(WordScorer(), tpl, "", "positive (class 3-4)")
    except B.TemplateError:
        return
    assert all("__class__" not in r["case"] or "{noun.__class__" in r["case"] for r in res["rows"])
    assert all(len(r["case"]) < 1000 for r in res["rows"])


def test_table_without_the_base_fills_only_the_base_column():
    res = {"finetuned": [{"task": "sst", "test": "negation", "n": 10, "failure_rate": 0.2}]}
    assert B.table(res).splitlines()[-1] == "| sst | negation | 10 | 20.0% | n/a |"


def test_the_cases_tables_download_as_csv(tmp_path):
    """The Behaviour tab's two case tables come as CSV files: a precomputed test's worst cases (read back against
    the stored result) and the user's template's cases as the table holds them."""
    import pandas as pd

    from analysis.studio import behaviour_view
    from analysis.studio.service import Studio
    from tests.app_server import CHECKPOINT
    if not CHECKPOINT.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    studio = Studio(CHECKPOINT, offline=True)
    if studio.behaviour is None:
        pytest.skip("no behavioural results")
    stored = next(r for r in studio.behaviour["base"] if r["worst"])
    path = studio.behaviour_cases_csv(behaviour_view.label(stored), "pretrained base", "s1")
    got = pd.read_csv(path, keep_default_na=False)
    assert list(got.columns) == behaviour_view.CASE_COLUMNS
    assert got["a"].tolist() == [c["a"] for c in stored["worst"]] and got["b"].tolist() == [c["b"] for c in stored["worst"]]
    assert studio.behaviour_cases_csv("no such test", "fine-tuned", "s1") is None
    table = pd.DataFrame([["The food was not good.", "0.8, 0.1", "FAIL"], ["The film was not great.", "0.1", "pass"]],
                         columns=behaviour_view.TEMPLATE_COLUMNS)
    back = pd.read_csv(studio.template_csv(table, "s1"))
    assert back.values.tolist() == table.values.tolist()
    assert studio.template_csv(pd.DataFrame([["", "", ""]], columns=behaviour_view.TEMPLATE_COLUMNS), "s1") is None
