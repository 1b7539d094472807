"""Slices on the Embeddings tab's dev maps in a real browser: (b) a box selection dragged on a map shows the slice's
metrics equal to those computed here with sklearn / scipy from the stored dev predictions, on the same ids the page
reports as selected (the hidden box map_slice.js writes), on an SVG map (SST alone) and a WebGL map (all tasks);
a click afterwards leaves the slice as it is; the text search highlights its sentences and scores them as a slice,
whose CSV holds every example. Without the task data a selection still scores and the search says why it cannot."""
import csv
import json
import re

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score

from analysis.studio.page_style import MAP_SLICE
from tests.app_server import CHECKPOINT, ROOT, AppServer
from tests.screenshots import NARROW, WIDE, open_page, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "screenshots"
CLASSES = {"sst": 5, "para": 2}

# the plot area of a dev map (layout.meta "dev-map:<which>") in page pixels, its trace type and whether it is linked
MAP_BOX = """which => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.meta === 'dev-map:' + which);
  if (!gd) return null;
  gd.scrollIntoView({block: 'center'});
  const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
  return {x: r.left, y: r.top, w: r.width, h: r.height, type: gd._fullData[0].type, linked: gd.dataset.sliceLinked === '1',
          highlighted: gd.data.reduce((n, t) => n + ((t.selectedpoints || []).length), 0)};
}"""
BOX_SELECT = """which => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.meta === 'dev-map:' + which);
  gd.querySelector('.modebar-btn[data-val="select"]').click();
  return gd._fullLayout.dragmode;
}"""
PICKED = f"() => (document.querySelector('#{MAP_SLICE} textarea, #{MAP_SLICE} input') || {{}}).value || ''"


@pytest.fixture(scope="module")
def stored():
    """The stored dev predictions, read here straight from the results file."""
    return json.loads(CHECKPOINT.with_suffix(".dev.json").read_text())["predictions"]


def reference(stored: dict, ids: list[str]) -> dict[tuple[str, str], float | None]:
    """(task, measure) -> value of the slice named by "task:id" ids, by sklearn and scipy."""
    out = {}
    for key, p in stored.items():
        at = {i: n for n, i in enumerate(p["ids"])}
        rows = [at[i.split(":", 1)[1]] for i in ids if i.split(":", 1)[0] == key]
        if not rows:
            continue
        gold = np.array(p["gold"])[rows]
        if key in CLASSES:
            pred = np.array(p["pred"])[rows].astype(int)
            out[key, "accuracy"] = accuracy_score(gold.astype(int), pred)
            second = "f1" if CLASSES[key] == 2 else "macro-f1"
            out[key, second] = f1_score(gold.astype(int), pred, labels=list(range(CLASSES[key])),
                                        average="binary" if CLASSES[key] == 2 else "macro", zero_division=0)
        else:
            score = np.array(p["score"])[rows]
            defined = len(rows) > 1 and np.ptp(gold) > 0 and np.ptp(score) > 0
            out[key, "pearson"] = stats.pearsonr(score, gold)[0] if defined else None
            out[key, "spearman"] = stats.spearmanr(score, gold)[0] if defined else None
        out[key, "examples"] = f"{len(rows)} of {len(p['ids'])}"
    return out


def table(page, header: str) -> list[list[str]]:
    """The rows of the Dataframe whose header holds `header` (Gradio draws its rows virtually: scrolled into view)."""
    block = page.locator(".block").filter(has=page.locator("th", has_text=header)).last
    block.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    return [[c.strip() for c in r.locator(".body-cell").all_inner_texts()] for r in block.locator(".virtual-row").all()]


def page_metrics(page) -> dict[tuple[str, str], float | None | str]:
    names = {"SST-5": "sst", "Quora": "para", "STS-B": "sts"}
    out = {}
    for task, examples, measure, value, _ in (r for r in table(page, "whole dev") if len(r) == 5):
        out[names[task], measure] = None if value == "n/a" else float(value)
        out[names[task], "examples"] = examples
    return out


def box_select(page, which: str, frac=(0.25, 0.2, 0.7, 0.75)) -> list[str]:
    """Drag a box over the map `which` (fractions of its plot area); returns the ids the page reports."""
    page.wait_for_function(f"() => ({MAP_BOX})('{which}')?.linked", timeout=60_000)
    box = page.evaluate(MAP_BOX, which)
    page.mouse.move(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)  # the modebar shows on hover
    assert page.evaluate(BOX_SELECT, which) == "select"
    before = page.evaluate(PICKED)
    x0, y0, x1, y1 = (box["x"] + frac[0] * box["w"], box["y"] + frac[1] * box["h"],
                      box["x"] + frac[2] * box["w"], box["y"] + frac[3] * box["h"])
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=12)
    page.mouse.up()
    page.wait_for_function(f"b => ({PICKED})() !== b", arg=before, timeout=30_000)
    return json.loads(page.evaluate(PICKED))["ids"]


def wait_summary(page, size: int, how: str):
    page.get_by_text(re.compile(rf"Slice: {size:,} dev examples \({re.escape(how)}")).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # the tables follow the summary in the same update


def assert_same(page_values: dict, offline: dict):
    assert set(page_values) == set(offline), (sorted(page_values), sorted(offline))
    for k, v in offline.items():
        if isinstance(v, str) or v is None:
            assert page_values[k] == v, k
        else:
            assert page_values[k] == pytest.approx(v, abs=6e-5), k  # the page shows 4 decimals


@pytest.fixture(scope="module")
def wide(browser, live_app):
    pg = open_page(browser, live_app.url, WIDE)
    yield pg
    pg.close()


def test_a_box_selection_scores_the_ids_the_page_selected(wide, stored):
    """(b) SVG (SST alone, under WEBGL_MIN_POINTS) then WebGL (all three tasks); the fine-tuned map, then the base."""
    page = wide
    panel = open_tab(page, "Embeddings")
    panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    assert page.evaluate(MAP_BOX, "finetuned")["type"] == "scatter"
    ids = box_select(page, "finetuned")
    assert 0 < len(ids) < len(stored["sst"]["ids"]) and all(i.startswith("sst:") for i in ids)
    wait_summary(page, len(ids), f"{len(ids):,} selected on the fine-tuned map")
    assert_same(page_metrics(page), reference(stored, ids))
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "slices-1440.png"), full_page=True)

    for name in ("STS-B", "Quora"):  # all three tasks: enough points for WebGL maps, redrawn
        panel.get_by_role("checkbox", name=re.compile(name)).check()
        page.wait_for_timeout(1500)
    page.wait_for_function(f"() => ({MAP_BOX})('base')?.type === 'scattergl'", timeout=120_000)
    ids = box_select(page, "base", (0.1, 0.1, 0.9, 0.9))
    assert {i.split(":")[0] for i in ids} == {"sst", "para", "sts"}
    wait_summary(page, len(ids), f"{len(ids):,} selected on the base map")
    assert_same(page_metrics(page), reference(stored, ids))

    box = page.evaluate(MAP_BOX, "base")  # a click (selection.js opens a point) clears Plotly's box, not the slice
    page.mouse.click(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    page.wait_for_timeout(1500)
    assert json.loads(page.evaluate(PICKED))["ids"] == ids


def test_the_text_search_highlights_and_scores_its_matches(wide, stored):
    from analysis.results import load_results
    page = wide
    panel = open_tab(page, "Embeddings")
    shown = {"SST-5": "sst", "Quora": "para", "STS-B": "sts"}
    keys = [k for name, k in shown.items() if panel.get_by_role("checkbox", name=re.compile(name)).is_checked()]
    res = load_results(CHECKPOINT)
    matched = {f"{k}:{i}" for k, i, s in res.data["map"]["points"] if k in keys and "funny" in res.text(k, i, s).lower()}
    search = panel.get_by_label("Search the dev map: sentences containing")
    search.fill("Funny")
    search.press("Enter")
    panel.get_by_text(re.compile(r"Search 'Funny': [\d,]+ of the sentences shown")).first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => ({MAP_BOX})('finetuned')?.highlighted > 0", timeout=30_000)
    panel.get_by_role("button", name="Score matches as a slice").click()
    wait_summary(page, len(matched), "search 'Funny'")
    assert_same(page_metrics(page), reference(stored, sorted(matched)))
    download = panel.locator(".block", has_text="The slice as CSV").last
    with page.expect_download(timeout=60_000) as info:
        download.locator("a").first.click()
    with open(info.value.path(), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["task", "gold", "predicted", "right?", "text", "id"] and len(rows) == 1 + len(matched)
    assert all("funny" in r[4].lower() for r in rows[1:])


def test_on_a_phone_the_slice_view_stacks(browser, live_app):
    page = open_page(browser, live_app.url, NARROW)
    panel = open_tab(page, "Embeddings")
    panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    search = panel.get_by_label("Search the dev map: sentences containing")
    search.fill("love")
    panel.get_by_role("button", name="Score matches as a slice").click()
    panel.get_by_text(re.compile(r"Slice: [\d,]+ dev examples \(search 'love'")).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW[0] + 1, "the page scrolls sideways"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "slices-390.png"), full_page=True)
    page.close()


def test_without_the_task_data_a_selection_still_scores(browser, stored, tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    with AppServer(cwd=clone, drop_env=("MINBERT_DATA",), args=("--offline",), timeout=600,
                   extra_env={"XDG_CACHE_HOME": str(tmp_path / "cache")}) as server:
        page = open_page(browser, server.url, WIDE)
        panel = open_tab(page, "Embeddings")
        panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        ids = box_select(page, "finetuned")
        wait_summary(page, len(ids), f"{len(ids):,} selected on the fine-tuned map")
        assert_same(page_metrics(page), reference(stored, ids))
        search = panel.get_by_label("Search the dev map: sentences containing")
        search.fill("funny")
        panel.get_by_role("button", name="Score matches as a slice").click()
        panel.get_by_text("Text search needs the sentence text").first.wait_for(timeout=60_000)
        assert "Traceback" not in server.log()
        page.close()
