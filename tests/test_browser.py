"""A real browser (Debian's Chromium driven by Playwright) opens every tab, runs an example, sees output."""
import os
from pathlib import Path

import pytest

from app_server import CHECKPOINT, ROOT, AppServer

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "screenshots"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TABS = ["Sentiment", "Paraphrase", "Similarity", "Cross-task", "Attention", "Embeddings", "Errors & imbalance", "Training"]


@pytest.fixture(scope="module")
def page():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing (.ci/run installs it)")
        pytest.skip("Debian chromium not installed")
    if not CHECKPOINT.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(exist_ok=True)
    with AppServer() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(server.url, wait_until="load")
        pg.get_by_role("tab", name="Sentiment", exact=True).wait_for(timeout=60_000)
        yield pg
        browser.close()


def open_tab(page, name):
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    from playwright.sync_api import expect
    expect(tab).to_have_attribute("aria-selected", "true")
    page.wait_for_timeout(300)


def run_example(page, button, expect_plots=1):
    panel = page.locator("[role=tabpanel]:visible").first
    panel.locator(".gallery-item, tr.tr-body").first.click()  # one-input examples are buttons, pairs table rows
    from playwright.sync_api import expect
    expect(panel.locator("textarea").first).not_to_have_value("", timeout=10_000)  # the example has landed
    page.wait_for_timeout(300)
    panel.get_by_role("button", name=button).click()
    panel.locator(".js-plotly-plot").nth(expect_plots - 1).wait_for(timeout=60_000)
    return panel


@pytest.mark.parametrize("tab,button,text", [
    ("Sentiment", "Predict sentiment", "Predicted:"),
    ("Paraphrase", "Run paraphrase", "P(paraphrase)"),
    ("Similarity", "Run similarity", "Similarity"),
    ("Cross-task", "Run all three tasks", "STS"),
    ("Attention", "Show attention", "tokens"),
])
def test_live_tabs_render(page, tab, button, text):
    open_tab(page, tab)
    panel = run_example(page, button)
    panel.get_by_text(text).first.wait_for(timeout=30_000)
    if tab == "Sentiment":  # the attributions arrive after the probabilities
        panel.get_by_text("integrated gradients").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / f"{tab.lower().replace(' ', '-')}.png"), full_page=True)


@pytest.mark.parametrize("tab", ["Embeddings", "Errors & imbalance", "Training"])
def test_report_tabs_render(page, tab):
    open_tab(page, tab)
    panel = page.locator("[role=tabpanel]:visible").first
    panel.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert panel.locator(".js-plotly-plot").count() >= 1
    name = tab.lower().replace(" & ", "-").replace(" ", "-")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_empty_input_shows_a_message(page):
    open_tab(page, "Sentiment")
    panel = page.locator("[role=tabpanel]:visible").first
    panel.get_by_label("Sentence").fill("   ")
    panel.get_by_role("button", name="Predict sentiment").click()
    panel.get_by_text("it is empty").wait_for(timeout=30_000)
