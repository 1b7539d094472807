"""The Embeddings tab's "Your corpus" in a real browser: a file of SST training sentences with metadata uploaded,
its progress seen, the map drawn with cluster labels, a text search highlighting rows, and a cluster's rows
listed and downloaded."""
import re

import pandas as pd
import pytest

from tests.app_server import AppServer
from tests.test_browser import SHOTS, open_page, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The size: 20,000 sentences (8,544 sentences, 11,456 phrases). Through the app on quiet EPYC cores
# (python -m bench.corpus_map --rows 20000 --app) the map took 131 s from the request, UMAP in its child included.
ROWS = 20_000
MAP_TIMEOUT_MS = 2_400_000  # room for a loaded machine: 10,000 rows once took over 15 minutes at a load average of 20
SEARCH = "funny"

MAP_LABELS = """() => { const p = document.querySelector('#corpus-map .js-plotly-plot');
    return p && p.layout && (p.layout.annotations || []).length > 0 && String(p.layout.title.text).includes('UMAP'); }"""
MATCH_TRACE = """() => { const p = document.querySelector('#corpus-map .js-plotly-plot');
    const t = p && (p._fullData || []).find(t => String(t.name).startsWith('text matches'));
    return t ? [t.name, t._length] : null; }"""


@pytest.fixture(scope="module")
def corpus_app(tmp_path_factory):
    """The app with an empty user cache, so the corpus is embedded (and its progress shown), not read back."""
    cache = tmp_path_factory.mktemp("cache")
    with AppServer(extra_env={"XDG_CACHE_HOME": str(cache)}) as server:  # --precision auto, as served
        yield server


def test_a_corpus_mapped_searched_and_a_cluster_downloaded(browser, corpus_app, data_dir, tmp_path):
    from playwright.sync_api import expect

    from tests.sst_corpus import sst_corpus
    corpus = sst_corpus(ROWS, data_dir)
    path = tmp_path / "sst-corpus.csv"
    corpus.to_csv(path, index=False)
    page = open_page(browser, corpus_app)
    panel = open_tab(page, "Embeddings") or page.locator("[role=tabpanel]:visible").first
    panel.locator(".block", has_text="Corpus file").last.locator("input[type=file]").set_input_files(str(path))
    page.wait_for_timeout(1000)
    panel.get_by_role("button", name="Map my corpus").click()
    progress = re.compile(rf"embedding: [\d,]+ / {ROWS:,} rows")  # the progress bar's text
    panel.get_by_text(progress).first.wait_for(timeout=120_000)
    page.screenshot(path=str(SHOTS / "corpus-progress.png"), full_page=True)
    page.wait_for_function(MAP_LABELS, timeout=MAP_TIMEOUT_MS)
    status = panel.locator("#corpus-status")
    expect(status).to_contain_text(f"{ROWS:,} sentences", timeout=30_000)
    expect(status).to_contain_text("clusters (HDBSCAN)", timeout=30_000)
    page.screenshot(path=str(SHOTS / "corpus-map.png"), full_page=True)

    panel.get_by_label("Text search: rows containing").fill(SEARCH)
    panel.get_by_label("Text search: rows containing").press("Enter")
    expected = int(corpus["sentence"].str.contains(SEARCH, case=False, regex=False).sum())
    panel.get_by_text(f"{expected:,} rows contain").first.wait_for(timeout=120_000)
    trace = page.wait_for_function(MATCH_TRACE, timeout=30_000).json_value()  # the matches drawn over the map
    assert trace == [f"text matches ({expected:,})", expected]
    found = panel.locator(".block", has_text="rows the text search found").last
    expect(found).to_contain_text(SEARCH, timeout=30_000)
    page.screenshot(path=str(SHOTS / "corpus-search.png"), full_page=True)

    panel.get_by_role("button", name="List and download these rows").click()
    message = panel.get_by_text(re.compile(r"[\d,]+ rows selected")).first
    message.wait_for(timeout=120_000)
    selected = int(re.search(r"([\d,]+) rows selected", message.inner_text()).group(1).replace(",", ""))
    download = panel.locator(".block", has_text="Selected rows as CSV").last
    with page.expect_download(timeout=60_000) as info:
        download.locator("a").first.click()
    rows = pd.read_csv(info.value.path())
    assert len(rows) == selected > 0
    assert rows["cluster"].nunique() == 1 and set(rows.columns) >= {"file row", "sentence", "label", "source", "words"}
    assert set(rows["sentence"]) <= set(corpus["sentence"])
    page.screenshot(path=str(SHOTS / "corpus-selected.png"), full_page=True)
    page.close()
