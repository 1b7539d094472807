"""The selected example (analysis/studio/selection.py) without Gradio: the history Back and Forward walk, checked
against a plain list-and-cursor model of a browser's history; and each view's click turned into the example the
shipped checkpoint's dev results hold, checked against those results read directly."""
import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from analysis.results import DevResults, load_results
from analysis.studio import behaviour_view, selection
from analysis.studio.selection import History, Selected, Selector
from minbert.tasks import TASKS

CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "minbert-multitask"


def sel(n: int) -> Selected:
    return Selected("sst", f"id{n}", f"sentence {n}", gold="neutral", source="map", task_name="SST-5")


def test_history_matches_a_list_and_cursor_model():
    rng = random.Random(0)
    h, items, at, opened = History(limit=5), [], -1, 0
    for _ in range(400):
        op = rng.choice(["push", "push", "back", "forward"])
        if op == "push":
            s = sel(rng.randrange(8))
            h = h.push(s)
            if items and items[at] == s:
                opened += 1
            else:
                items, opened = (items[:at + 1] + [s])[-5:], opened + 1
                at = len(items) - 1
        elif op == "back":
            h = h.back()
            if at > 0:
                at, opened = at - 1, opened + 1
        else:
            h = h.forward()
            if at < len(items) - 1:
                at, opened = at + 1, opened + 1
        assert list(h.items) == items and h.at == at and h.opened == opened
        assert h.current == (items[at] if items else None)
        assert h.can_back == (at > 0) and h.can_forward == (at < len(items) - 1)


def test_back_then_a_new_selection_drops_the_forward_ones_and_reopens():
    h = History().push(sel(1)).push(sel(2)).push(sel(3))
    h = h.back().back()
    assert h.current == sel(1) and h.can_forward
    h = h.push(sel(4))
    assert list(h.items) == [sel(1), sel(4)] and not h.can_forward
    again = h.push(sel(4))  # the same example again: opened (the tab runs again), not listed twice
    assert again.items == h.items and again.opened == h.opened + 1
    assert History().back() == History() and History().forward() == History() and History().push(None) == History()


def test_history_is_bounded():
    h = History()
    for n in range(selection.MAX_HISTORY + 7):
        h = h.push(sel(n))
    assert len(h.items) == selection.MAX_HISTORY and h.items[0] == sel(7)
    assert h.current == sel(selection.MAX_HISTORY + 6)


def test_chip_says_task_id_gold_and_text_and_escapes_it():
    s = Selected("sst", "abc", "<b>bold</b> film", gold="positive", pred="negative", source="misclassified",
                 task_name="SST-5")
    html = selection.chip(History().push(s))
    for part in ("SST-5", "abc", "positive", "negative", "&lt;b&gt;bold&lt;/b&gt; film", "1 of 1"):
        assert part in html
    assert "<b>bold</b>" not in html
    assert "nothing yet" in selection.chip(History())
    assert "not on this machine" in selection.chip(History().push(Selected("sst", "abc", None, source="map")))


@pytest.fixture(scope="module")
def results():
    if not CHECKPOINT.with_suffix(".dev.json").exists():
        pytest.skip("no shipped checkpoint results")
    res = load_results(CHECKPOINT, tasks=TASKS.values())
    if not res.has_texts:
        pytest.skip("no task data (MINBERT_DATA)")
    return res


def selector(res) -> Selector:
    return Selector(SimpleNamespace(results=res, tasks=TASKS, behaviour=res.data.get("behaviour")))


def stored(res, key: str, ex_id: str) -> tuple[str, str]:
    """(gold, prediction) of a classes task's example, read from the raw predictions."""
    p = res.data["predictions"][key]
    n = p["ids"].index(ex_id)
    return TASKS[key].classes[int(p["gold"][n])], TASKS[key].classes[int(p["pred"][n])]


def test_a_map_click_selects_the_point_clicked(results):
    points, maps = results.data["map"]["points"], results.data["map"]
    pick = selector(results)
    for i in (0, len(points) // 2, len(points) - 1):
        key, ex_id, k = points[i]
        for which in ("finetuned", "base"):
            x, y = maps[which][i]
            got = pick.map_click(json.dumps({"map": which, "x": x, "y": y, "task": TASKS[key].name, "t": 1}))
            assert (got.task, got.id, got.source) == (key, ex_id, "map")
            assert results.text(key, ex_id, k) in (got.text, got.text2)
    for bad in (None, "", "not json", json.dumps({"map": "other", "x": 0, "y": 0, "task": "SST-5"}),
                json.dumps({"map": "base", "x": 0, "y": 0, "task": "no such task"})):
        assert pick.map_click(bad) is None


def test_table_rows_select_their_dev_example(results):
    pick = selector(results)
    from analysis.studio.errors_view import misclassified_rows
    row = misclassified_rows(results, TASKS["para"], "any", "any", 1)[0]
    got = pick.misclassified("para", row)
    assert (got.gold, got.pred) == stored(results, "para", row[-1])
    assert (got.text, got.text2) == (results.text("para", row[-1], 0), results.text("para", row[-1], 1))
    sts_id = results.data["predictions"]["sts"]["ids"][3]
    got = pick.neighbour(["0.9", "STS-B", "?", "?", "a sentence", sts_id])
    assert got.task == "sts" and got.source == "neighbours"
    assert float(got.gold) == pytest.approx(results.data["predictions"]["sts"]["gold"][3], abs=0.05)
    para_id = results.data["predictions"]["para"]["ids"][5]
    got = pick.slice_row(["Quora", "?", "?", "no", "a ⟷ b", para_id])
    assert (got.task, got.id, got.source) == ("para", para_id, "slice") and got.text2 is not None
    assert pick.misclassified("para", ["x", "y", 1.0, "t", "no-such-id"]) is None


def test_a_flip_without_dev_results_keeps_the_rows_reading(results):
    pick = selector(results)
    ex_id = results.data["predictions"]["sst"]["ids"][0]
    assert pick.flip("sst", [ex_id, "x", "a", "b", "t", ""]).gold == stored(results, "sst", ex_id)[0]
    got = pick.flip("para", ["unknown", "duplicate", "no", "yes", "A question?", "Another question?"])
    assert (got.text, got.text2, got.gold, got.source) == ("A question?", "Another question?", "duplicate", "flips")
    assert pick.flip("para", ["unknown", "duplicate", "no", "yes", "(text not loaded)", ""]).runnable is False


def test_a_behaviour_case_opens_a_pair_or_the_sentence_clicked(results):
    pick, beh = selector(results), results.data["behaviour"]
    sentence = next(r for r in beh["finetuned"] if r["worst"] and r["task"] == TASKS["sst"].skill)
    pair = next(r for r in beh["finetuned"] if r["worst"] and r["task"] == TASKS["para"].skill)
    case = sentence["worst"][0]
    row = [case["a"], case["b"], "", 0.1]
    assert pick.behaviour_case(behaviour_view.label(sentence), row, 0).text == case["a"]
    assert pick.behaviour_case(behaviour_view.label(sentence), row, 3).text == case["b"]
    c = pair["worst"][0]
    got = pick.behaviour_case(behaviour_view.label(pair), [c["a"], c["b"], "", 0.1], 0)
    assert (got.task, got.text, got.text2, got.gold) == ("para", c["a"], c["b"], None)
    assert pick.behaviour_case("no such test", row, 0) is None


def test_a_row_of_the_users_file_opens_with_its_own_gold(results):
    task = TASKS["sst"]
    state = {"task": task, "texts": {"7": ("A fine film.", None)},
             "preds": {"sst": {"ids": ["7"], "gold": [4], "pred": [1], "probs": [[0.1, 0.5, 0.2, 0.1, 0.1]]}}}
    got = selector(results).file_row(state, ["very positive", "somewhat negative", 0.5, "A fine film.", "7"])
    assert (got.text, got.gold, got.pred, got.source) == ("A fine film.", task.classes[4], task.classes[1], "file")
    assert selector(results).file_row(None, ["x"]) is None


def test_without_task_data_a_click_selects_the_id_and_says_the_text_is_missing(results):
    bare = DevResults(results.data, results.embeddings, tasks=tuple(TASKS.values()))  # no texts attached
    key, ex_id, _ = results.data["map"]["points"][0]
    x, y = results.data["map"]["finetuned"][0]
    got = selector(bare).map_click(json.dumps({"map": "finetuned", "x": x, "y": y, "task": TASKS[key].name}))
    assert got.id == ex_id and not got.runnable
    assert "not on this machine" in selection.chip(History().push(got))
