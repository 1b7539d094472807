"""Slices of the dev sets (analysis/studio/slices.py) against sklearn and scipy computed here on the stored dev
predictions, with and without the task data's text. No model is loaded: a slice needs only the stored results."""
import copy
import random
from collections import Counter

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score

from analysis import embedding_map
from analysis.results import DevResults, load_results
from analysis.studio import slices
from minbert.serve.predictor import InputError
from minbert.tasks import TASKS
from tests.app_server import CHECKPOINT


@pytest.fixture(scope="module")
def res():
    found = load_results(CHECKPOINT)
    if found is None:
        pytest.skip("no precomputed dev results for the shipped checkpoint")
    return found


@pytest.fixture(scope="module")
def bare(res):
    """The same results on a machine without the task data: ids and labels, no sentences."""
    return DevResults(res.data, res.embeddings, tasks=res.tasks)


def some_ids(res, per_task: int, seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {k: rng.sample(p["ids"], per_task) for k, p in res.data["predictions"].items()}


def reference(res, key: str, ex_ids: list[str]) -> dict:
    """The task's two summary figures computed here, straight from sklearn / scipy."""
    p = res.data["predictions"][key]
    at = {i: n for n, i in enumerate(p["ids"])}
    rows = [at[i] for i in ex_ids]
    gold = np.array(p["gold"])[rows]
    if TASKS[key].is_score:
        score = np.array(p["score"])[rows]
        return {"pearson": stats.pearsonr(score, gold)[0], "spearman": stats.spearmanr(score, gold)[0]}
    pred = np.array(p["pred"])[rows].astype(int)
    gold = gold.astype(int)
    n = TASKS[key].num_classes
    if n == 2:
        return {"accuracy": accuracy_score(gold, pred), "f1": f1_score(gold, pred, pos_label=1, zero_division=0)}
    return {"accuracy": accuracy_score(gold, pred),
            "macro_f1": f1_score(gold, pred, labels=list(range(n)), average="macro", zero_division=0)}


def test_a_slice_of_every_task_has_each_tasks_own_metrics(res):
    picked = some_ids(res, 60)
    ids = [f"{k}:{i}" for k, ex in picked.items() for i in ex]
    report = slices.slice_report(res, TASKS, ids)
    assert report["size"] == len(ids) and report["unknown"] == []
    for key, ex in picked.items():
        t = report["tasks"][key]
        assert t["examples"] == 60 and t["dev_examples"] == len(res.data["predictions"][key]["ids"])
        assert t["metrics"] == pytest.approx(reference(res, key, ex), abs=1e-9), key
        every = res.data["predictions"][key]["ids"]
        assert t["dev_metrics"] == pytest.approx(reference(res, key, every), abs=1e-9), key
    assert report["tasks"]["sst"]["dev_metrics"]["accuracy"] != report["tasks"]["sst"]["metrics"]["accuracy"]


def test_the_label_mix_counts_gold_and_predictions(res):
    ex = some_ids(res, 80, seed=3)["sst"]
    report = slices.slice_report(res, TASKS, [f"sst:{i}" for i in ex])
    p, names = res.data["predictions"]["sst"], TASKS["sst"].classes
    at = {i: n for n, i in enumerate(p["ids"])}
    gold = Counter(names[int(p["gold"][at[i]])] for i in ex)
    pred = Counter(names[int(p["pred"][at[i]])] for i in ex)
    mix = report["tasks"]["sst"]["labels"]
    assert mix["names"] == list(names)
    assert mix["gold"] == [gold[n] for n in names] and mix["predicted"] == [pred[n] for n in names]
    assert mix["dev_gold"] == [Counter(int(g) for g in p["gold"])[c] for c in range(len(names))]
    rows = slices.mix_rows(report)
    assert [r[1] for r in rows] == list(names) and rows[0][2].startswith(f"{gold[names[0]]} (")


def test_ids_are_parsed_once_and_unknown_ones_listed(res):
    ex = res.data["predictions"]["sts"]["ids"][:5]
    ids = [f"sts:{i}" for i in ex] + [f"sts:{ex[0]}", "sts:nope", "nope:x", "", f"para:{ex[0]}"]
    report = slices.slice_report(res, TASKS, ids)
    assert report["size"] == 5 and [r["id"] for r in report["rows"]] == ex
    assert report["unknown"] == ["sts:nope", "nope:x", "", f"para:{ex[0]}"]
    with pytest.raises(InputError):
        slices.parse_ids({"not": "a list"}, res.data["predictions"])


def test_a_correlation_of_too_few_examples_is_undefined_not_zero(res):
    one = res.data["predictions"]["sts"]["ids"][0]
    report = slices.slice_report(res, TASKS, [f"sts:{one}"])
    assert report["tasks"]["sts"]["metrics"] == {"pearson": None, "spearman": None}
    assert [r[3] for r in slices.metric_rows(report)] == ["n/a", "n/a"]


def test_rows_and_their_table(res):
    ex = some_ids(res, 4, seed=5)
    ids = [f"{k}:{i}" for k in ("sst", "para") for i in ex[k]]
    report = slices.slice_report(res, TASKS, ids)
    p = res.data["predictions"]["para"]
    at = {i: n for n, i in enumerate(p["ids"])}
    for r in report["rows"]:
        if r["task"] == "para":
            n = at[r["id"]]
            assert r["right"] == (int(p["gold"][n]) == int(p["pred"][n]))
            assert r["predicted"] == TASKS["para"].classes[int(p["pred"][n])] and r["text2"]
    table = slices.table_rows(report, TASKS)
    assert len(table[0]) == len(slices.ROW_COLUMNS) and {r[0] for r in table} == {"SST-5", "Quora"}
    assert all("⟷" in r[4] for r in table if r[0] == "Quora")


def test_the_text_search_finds_what_a_plain_scan_finds(res):
    shown = ["sst", "sts"]
    found = slices.search_points(res, shown, "  FUNNY ")
    scan = [embedding_map.point_id(k, i, s) for k, i, s in res.data["map"]["points"]
            if k in shown and "funny" in res.text(k, i, s).lower()]
    assert found == scan and len(found) > 3
    assert slices.examples_of(["sts:a:0", "sts:a:1", "sst:b:0"]) == ["sts:a", "sst:b"]
    with pytest.raises(InputError):
        slices.search_points(res, shown, "  ")


def test_the_search_highlights_the_matching_points_on_the_map(res):
    shown = ["sst"]
    fig = embedding_map.map_figure(res, TASKS, "finetuned", "gold label", shown)
    assert fig.layout.meta == "dev-map:finetuned"
    on_map = [embedding_map.point_id(k, i, s) for k, i, s in res.data["map"]["points"] if k in shown]
    assert sorted(pid for t in fig.data for pid in t.ids) == sorted(on_map)  # every point named, each once
    found = set(slices.search_points(res, shown, "funny"))
    slices.highlight(fig, found)
    marked = {t.ids[i] for t in fig.data for i in t.selectedpoints}
    assert marked == found


def test_without_the_task_data_a_slice_still_scores_and_the_search_says_why_not(res, bare):
    ex = some_ids(res, 30, seed=7)["sst"]
    report = slices.slice_report(bare, TASKS, [f"sst:{i}" for i in ex])
    assert report["tasks"]["sst"]["metrics"] == pytest.approx(reference(res, "sst", ex))
    assert all(r["text"] is None for r in report["rows"])
    assert slices.table_rows(report, TASKS)[0][4] == "(text needs the task data)"
    with pytest.raises(InputError, match="needs the sentence text"):
        slices.search_points(bare, ["sst"], "funny")


def test_a_slice_of_an_added_task_asks_the_task(res):
    """A task the code never names (a copy of SST under another key) is scored by its kind, like the built-ins."""
    from dataclasses import replace
    data = copy.deepcopy(res.data)
    data["predictions"]["mine"] = data["predictions"]["sst"]
    tasks = {**TASKS, "mine": replace(TASKS["sst"], key="mine", name="Mine")}
    ex = some_ids(res, 50, seed=9)["sst"]
    report = slices.slice_report(DevResults(data, res.embeddings), tasks, [f"mine:{i}" for i in ex])
    assert list(report["tasks"]) == ["mine"] and report["tasks"]["mine"]["name"] == "Mine"
    assert report["tasks"]["mine"]["metrics"] == pytest.approx(reference(res, "sst", ex))
