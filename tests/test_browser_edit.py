"""Counterfactual editing in a real browser (Debian's Chromium driven by Playwright): a word swapped through the
suggestion lists, then the original and the edit side by side, whose numbers are what the model answers for each
text through the public API; on a phone, bad input gets a message and the editor stays inside the window."""
import re

import pytest

from tests.app_server import ROOT
from tests.screenshots import NARROW, WIDE, open_page, open_tab
from tests.test_browser_layout import UNSTACKED_ROWS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "screenshots"
ORIGINAL, EDITED = "A good, witty film.", "A bad, witty film."
SUMMARY = re.compile(r"Original: (.+?) \((\d+\.\d)%\) · edited: (.+?) \((\d+\.\d)%\)")


def open_editor(browser, url: str, viewport):
    from playwright.sync_api import expect
    page = open_page(browser, url, viewport)
    panel = open_tab(page, "Sentiment")
    panel.get_by_label("Sentence", exact=True).fill(ORIGINAL)
    panel.get_by_text("Counterfactual editing: change the sentence").click()
    edited = panel.get_by_label("Edited sentence (a copy of the sentence above)")
    expect(edited).to_have_value(ORIGINAL, timeout=30_000)  # copied from the sentence box
    return page, panel, edited


def pick(page, box, option):
    box.click()
    page.get_by_role("option", name=option).click()
    page.wait_for_timeout(300)


def compare(panel):
    panel.get_by_role("button", name="Compare original and edited").click()


def test_an_edit_shows_both_predictions_as_the_model_gives_them(browser, live_app):
    from gradio_client import Client
    from playwright.sync_api import expect
    page, panel, edited = open_editor(browser, live_app.url, WIDE)
    pick(page, panel.get_by_label("Word to swap"), re.compile(r"^good$"))
    pick(page, panel.get_by_label("Suggestion · where it comes from"), "bad · antonym")
    panel.get_by_role("button", name="Swap the word").click()
    expect(edited).to_have_value(EDITED, timeout=30_000)
    compare(panel)
    summary = panel.get_by_text(SUMMARY).first
    summary.wait_for(timeout=90_000)
    got = SUMMARY.search(summary.inner_text()).groups()
    client = Client(live_app.url, verbose=False)
    want = [client.predict(t, api_name="/sentiment") for t in (ORIGINAL, EDITED)]
    assert got == (want[0]["label_name"], f"{max(want[0]['probs']) * 100:.1f}",
                   want[1]["label_name"], f"{max(want[1]['probs']) * 100:.1f}")
    assert panel.get_by_text("1 replaced, 0 inserted, 0 deleted").count() >= 1  # the token diff: good -> bad
    row = panel.locator("table tbody tr").filter(has_text=EDITED).first
    expect(row).to_contain_text(" ".join(f"{p:.2f}" for p in want[1]["probs"]))  # the history's probabilities
    for side in ("Original", "Edited"):  # both attributions arrive after the predictions
        panel.get_by_text(f"{side}: which words pushed it").wait_for(timeout=90_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "counterfactual-1440.png"), full_page=True)
    page.close()


def test_on_a_phone_bad_input_gets_a_message_and_the_editor_fits(browser, live_app):
    page, panel, edited = open_editor(browser, live_app.url, NARROW)
    edited.fill("")
    compare(panel)
    panel.get_by_text("Please enter the edited sentence: it is empty.").wait_for(timeout=60_000)
    edited.fill("A good, witty but overlong film.")
    compare(panel)
    panel.get_by_text(SUMMARY).first.wait_for(timeout=90_000)
    panel.get_by_text("Edited: which words pushed it").wait_for(timeout=90_000)
    page.wait_for_timeout(1000)  # the plot's resize on a narrow window
    assert page.evaluate("document.scrollingElement.scrollWidth") <= NARROW[0] + 1
    assert page.evaluate(UNSTACKED_ROWS) == []  # the word, suggestion and swap row stacks, as do the side-by-sides
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "counterfactual-390.png"), full_page=True)
    page.close()
